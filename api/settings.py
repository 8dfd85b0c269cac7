"""Service settings: one pydantic-settings class, read from ``CONSENT_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, field_validator
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
    #: Where wallets reach this service (``https://consent.example.gov``). Sign-in texts
    #: name its host and URL, never the request's ``Host`` header (which any page can
    #: set); unset: ``http://{host}:{port}``. An ``https`` URL also turns on HSTS.
    public_url: str | None = None
    #: Address of an existing admin; unset creates an admin keystore on the first start.
    admin: str | None = None
    #: The relayer account this process signs transactions with: 0 is ``relayer.key``,
    #: ``k`` is ``relayers/relayer-k.key`` (created and funded on first use). Each worker
    #: of ``consent serve --workers N`` holds its own, so none waits on another's nonces.
    relayer_slot: Annotated[int, Field(ge=0)] = 0
    #: SQLAlchemy URL of the vault and read model; unset: SQLite in ``data_dir``.
    database_url: str | None = None
    #: HMAC key for bearer tokens; unset: a random key kept in ``data_dir``.
    token_secret: str | None = None
    #: Bearer token for ``GET /metrics`` (the operator's); unset: a random one kept in
    #: ``data_dir/metrics.token``.
    metrics_token: str | None = None
    #: Threads serving blocking requests at once. A write holds its thread until its
    #: block is mined, so this bounds the writes one block can carry (anyio's default,
    #: 40, would cap the embedded chain near 40 writes per block).
    request_threads: int = 512
    token_ttl: int = 900
    challenge_ttl: int = 300
    #: Unspent sign-in challenges one address may hold; a newer one supersedes the oldest.
    max_challenges_per_address: Annotated[int, Field(ge=1)] = 5
    #: Unspent, unexpired sign-in challenges in all; beyond it challenges answer 429.
    max_challenges: Annotated[int, Field(ge=1)] = 50_000

    #: Webhook deliveries: the first retry after this many seconds, doubling up to
    #: ``webhook_backoff_max``, for ``webhook_retry_for`` seconds (at least an hour) before
    #: a notification is marked failed and the next one is sent; each POST may take
    #: ``webhook_timeout`` seconds.
    webhook_backoff_base: Annotated[float, Field(gt=0)] = 1.0
    webhook_backoff_max: Annotated[float, Field(gt=0)] = 600.0
    webhook_retry_for: Annotated[float, Field(ge=3600)] = 86_400.0
    webhook_timeout: Annotated[float, Field(gt=0)] = 10.0

    #: Supervision: a department's served accesses, and its refused queries, within one
    #: hour of chain time beyond which auditors get an ``anomaly``, unless the admin sets
    #: others (``PUT /admin/anomaly-thresholds``).
    anomaly_accesses_per_hour: Annotated[int, Field(ge=0, le=10_000)] = 200
    anomaly_refusals_per_hour: Annotated[int, Field(ge=0, le=10_000)] = 20

    # Rate limits in the `limits` package's notation ("10/second;300/minute"), counted in
    # this process's memory (each serving process counts its own).
    #: Every request, per client IP.
    rate_limit_ip: str = "1000/second;30000/minute"
    #: Every write (not GET or HEAD) bearing a token, per signed-in address.
    rate_limit_address: str = "100/second;3000/minute"
    #: ``POST /auth/challenge``, per client IP.
    rate_limit_sign_in_ip: str = "600/minute"
    #: ``POST /auth/challenge``, per address asked for.
    rate_limit_sign_in_address: str = "60/minute"

    #: Request bodies larger than this answer 413 (records and grants get a bound sized
    #: from their field envelopes, see :mod:`api.http_bounds`).
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    #: Seconds a connection may take to send a request's head, and then its body.
    header_timeout: Annotated[float, Field(gt=0)] = 10.0
    body_timeout: Annotated[float, Field(gt=0)] = 30.0

    @field_validator(
        "rate_limit_ip",
        "rate_limit_address",
        "rate_limit_sign_in_ip",
        "rate_limit_sign_in_address",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_many(value)  # ValueError on a malformed limit: fail at start, not per request
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_url must be an http(s) URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("public_url takes no query, fragment or credentials")
        return value

    def public_origin(self) -> tuple[str, str]:
        """The sign-in text's ``domain`` (host[:port]) and ``URI`` for this service."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = self.public_url or f"http://{host}:{self.port}"
        parts = urlsplit(url)
        uri = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
        return parts.netloc, uri

    @property
    def https(self) -> bool:
        return (self.public_url or "").startswith("https://")
