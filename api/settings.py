"""Service settings: one pydantic-settings class, read from ``CONSENT_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.chain import DEFAULT_CHAIN_ID


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_")

    data_dir: Path = Path("consent-data")
    #: An Ethereum JSON-RPC URL; unset runs the embedded chain under ``data_dir``.
    chain_url: str | None = None
    chain_id: int = DEFAULT_CHAIN_ID
    #: Seconds between embedded blocks; 1 keeps chain time on the wall clock.
    block_period: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8000
    #: Address of an existing admin; unset creates an admin keystore on the first start.
    admin: str | None = None
    #: SQLAlchemy URL of the vault and read model; unset: SQLite in ``data_dir``.
    database_url: str | None = None
    #: HMAC key for bearer tokens; unset: a random key kept in ``data_dir``.
    token_secret: str | None = None
    #: Threads serving blocking requests at once. A write holds its thread until its
    #: block is mined, so this bounds the writes one block can carry (anyio's default,
    #: 40, would cap the embedded chain near 40 writes per block).
    request_threads: int = 512
    token_ttl: int = 900
    challenge_ttl: int = 300
