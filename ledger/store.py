"""The service's database: the vault (envelopes, wrapped keys, attestations), the read
model the indexer derives from chain events, the relayer's journal and sign-in nonces.

SQLAlchemy Core over SQLite (a file in the data directory, WAL) by default, or any
PostgreSQL by URL. The chain is the source of truth for everything but the vault: the
read model can be dropped and re-derived; the vault holds only ciphertext and keys
wrapped for their readers, and a row enters it only with the on-chain record that
makes it valid (see :mod:`ledger.relayer`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

metadata = MetaData()

ADDRESS = String(42)
HASH = String(66)

#: Where the indexer stands, and the hashes of recent blocks to notice a replaced one.
indexed_blocks = Table(
    "indexed_blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

#: Every event of both contracts, in chain order.
events = Table(
    "events",
    metadata,
    Column("block_number", BigInteger, primary_key=True),
    Column("log_index", Integer, primary_key=True),
    Column("tx_hash", HASH, nullable=False),
    Column("block_timestamp", BigInteger, nullable=False),
    Column("contract", String(32), nullable=False),
    Column("name", String(48), nullable=False),
    Column("resident", ADDRESS),
    Column("department", ADDRESS),
    Column("consent_id", BigInteger),
    Column("args", Text, nullable=False),
    Index("ix_events_resident", "resident", "block_number", "log_index"),
    Index("ix_events_department", "department", "block_number", "log_index"),
    Index("ix_events_name", "name", "block_number", "log_index"),
    Index("ix_events_timestamp", "block_timestamp"),
)

residents = Table(
    "residents",
    metadata,
    Column("address", ADDRESS, primary_key=True),
    Column("id_commitment", HASH, nullable=False),
    Column("encryption_key", Text, nullable=False),
    Column("registrar", ADDRESS, nullable=False),
    Column("version", BigInteger, nullable=False, default=0),
    Column("root", HASH),
    Column("enrolled_block", BigInteger, nullable=False),
)

record_versions = Table(
    "record_versions",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("root", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", BigInteger, primary_key=True, autoincrement=False),
    Column("resident", ADDRESS, nullable=False, index=True),
    Column("department", ADDRESS, nullable=False, index=True),
    Column("fields", Text, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("max_uses", BigInteger, nullable=False),
    Column("request_id", HASH),
    Column("uses", BigInteger, nullable=False, default=0),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("revoked_at", BigInteger),
    Column("granted_at", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
)

access_requests = Table(
    "access_requests",
    metadata,
    Column("request_id", HASH, primary_key=True),
    Column("department", ADDRESS, nullable=False, index=True),
    Column("resident", ADDRESS, nullable=False, index=True),
    Column("fields", Text, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("duration", BigInteger, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("consent_id", BigInteger),
)

envelopes = Table(
    "envelopes",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("field", String(32), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("owner_wrapped_key", LargeBinary, nullable=False),
)

wrapped_keys = Table(
    "wrapped_keys",
    metadata,
    Column("consent_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", BigInteger, primary_key=True),
    Column("field", String(32), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
)

attestations = Table(
    "attestations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident", ADDRESS, nullable=False),
    Column("field", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("issuer", ADDRESS, nullable=False),
    Column("commitment", HASH, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Index("ix_attestations_lookup", "resident", "field", "version"),
)

#: Intents the relayer has taken on, with the vault rows that become valid with them.
journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("side_effects", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    #: "<transaction hash>:<position in its batch>"
    Column("tx_hash", String(80)),
    Column("created_at", BigInteger, nullable=False),
)

challenges = Table(
    "auth_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("message", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
    Index("ix_auth_challenges_address", "address", "expires_at"),
    Index("ix_auth_challenges_expires", "expires_at"),
)

#: Bearer tokens ended before their expiry (``POST /auth/logout``), by SHA-256 of the
#: token; kept until the token would have expired. In the database, so every process
#: serving the same database refuses them.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("subject", ADDRESS, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)



def dumps(value: Any) -> str:
    """Canonical JSON for stored documents (sorted keys, bytes as 0x-hex)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'consent.sqlite3'}"


class Store:
    """An engine with the schema created; ``begin()`` gives one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
            else:
                # Connections are cheap to keep and dear to open (WAL pragmas): keep one
                # per busy request thread rather than opening overflow ones per request.
                kwargs.update(pool_size=64, max_overflow=64)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def connect(self) -> Connection:
        return self.engine.connect()

    def upsert_ignore(self, table: Table) -> Any:
        """``INSERT … ON CONFLICT DO NOTHING`` for this dialect (idempotent replays)."""
        if self.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing()
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return insert(table)

    def drop_read_model(self) -> None:
        """Forget everything derived from the chain (the indexer rebuilds it)."""
        with self.begin() as c:
            for table in (
                events,
                residents,
                record_versions,
                consents,
                access_requests,
                indexed_blocks,
            ):
                c.execute(table.delete())

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
