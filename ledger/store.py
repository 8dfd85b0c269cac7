"""The service's database: the vault (envelopes, wrapped keys, attestations), the read
model the indexer derives from chain events, the relayer's journal and ended bearer
tokens. The API registers its sign-in challenges on the same :data:`metadata`
(:mod:`api.challenges`), so one :class:`Store` creates them all; this layer never
imports the API.

SQLAlchemy Core over SQLite (a file in the data directory, WAL) by default, or any
PostgreSQL by URL. The chain is the source of truth for everything but the vault: the
read model can be dropped and re-derived; the vault holds only ciphertext and keys
wrapped for their readers, and a row enters it only with the on-chain record that
makes it valid (see :mod:`ledger.relayer`).

Every ``uint64`` the chain accepts (record versions, consent windows, request durations,
attestation times) is stored exactly in a :class:`Uint64` column; ``uint32`` values
(use counts) fit a plain ``BIGINT``. A database written before that layout is upgraded
when a :class:`Store` opens it (see :func:`_open_schema`).
"""

from __future__ import annotations

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
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from ledger.sqltypes import UINT64_MAX, Uint64  # noqa: F401 (UINT64_MAX: for the routers)

metadata = MetaData()

ADDRESS = String(42)
HASH = String(66)
#: A field id or purpose code as the read side shows it: a name, or 0x-hex when the
#: ``bytes32`` is not one (:func:`ledger.vocabulary.bytes32_label`).
LABEL = String(66)

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
    #: The delegate who signed the intent behind the event in the resident's name
    #: (``DelegateSigned`` and the events of that intent); null when the party signed.
    Column("signed_by", ADDRESS),
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
    Column("version", Uint64, nullable=False, default=0),
    Column("root", HASH),
    Column("enrolled_block", BigInteger, nullable=False),
)

record_versions = Table(
    "record_versions",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("version", Uint64, primary_key=True),
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
    Column("purpose", LABEL, nullable=False),
    Column("valid_from", Uint64, nullable=False),
    Column("valid_until", Uint64, nullable=False),
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
    Column("purpose", LABEL, nullable=False),
    Column("duration", Uint64, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("consent_id", BigInteger),
)

#: A request's answer other than a grant (a grant is the consent naming it): declined by
#: its resident (with a reason code) or withdrawn by its department; one per request.
request_answers = Table(
    "request_answers",
    metadata,
    Column("request_id", HASH, primary_key=True),
    Column("answer", Text, nullable=False),
    Column("reason", LABEL),
    Column("answered_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
)

#: Services as last defined (``ServiceDefined``): ``items`` is the JSON list of
#: ``{department, fields, purpose, duration, max_uses}`` with field and purpose labels.
services = Table(
    "services",
    metadata,
    Column("service", LABEL, primary_key=True),
    Column("name", Text, nullable=False),
    Column("items", Text, nullable=False),
    Column("admin", ADDRESS, nullable=False),
    Column("defined_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
)

#: Granted bundles (``BundleGranted``): consents ``first_consent_id`` to
#: ``first_consent_id + count - 1`` are the bundle's, one per item in order.
bundles = Table(
    "bundles",
    metadata,
    Column("bundle_id", BigInteger, primary_key=True, autoincrement=False),
    Column("resident", ADDRESS, nullable=False, index=True),
    Column("service", LABEL, nullable=False),
    Column("first_consent_id", BigInteger, nullable=False, index=True),
    Column("count", Integer, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("revoked_at", BigInteger),
    Column("granted_at", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("tx_hash", HASH, nullable=False),
)

envelopes = Table(
    "envelopes",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("version", Uint64, primary_key=True),
    Column("field", LABEL, primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("owner_wrapped_key", LargeBinary, nullable=False),
)

wrapped_keys = Table(
    "wrapped_keys",
    metadata,
    Column("consent_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Uint64, primary_key=True),
    Column("field", LABEL, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
)

attestations = Table(
    "attestations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resident", ADDRESS, nullable=False),
    Column("field", LABEL, nullable=False),
    Column("version", Uint64, nullable=False),
    Column("issuer", ADDRESS, nullable=False),
    Column("commitment", HASH, nullable=False),
    Column("issued_at", Uint64, nullable=False),
    Column("expires_at", Uint64, nullable=False),
    Column("message", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Index("ix_attestations_lookup", "resident", "field", "version"),
)

#: Where the chain recorded each attestation of the vault (its ``AttestationRecorded``):
#: a row enters the vault only with this record, in the same transaction. ``digest`` is
#: the attestation's EIP-712 digest, under which the directory keeps its recording time.
attestation_records = Table(
    "attestation_records",
    metadata,
    Column("attestation_id", Integer, primary_key=True, autoincrement=False),
    Column("digest", HASH, nullable=False, unique=True),
    Column("tx_hash", HASH, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("recorded_at", Uint64, nullable=False),
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
    #: The relayer account that took it on: instances sharing the database settle and
    #: recover only their own entries. Null in rows written before layout 3; a relayer
    #: claims those at recovery (see :meth:`ledger.relayer.Relayer.recover`).
    Column("relayer", ADDRESS),
)

#: Bearer tokens ended before their expiry (``POST /auth/logout``), by SHA-256 of the
#: token; kept until the token would have expired. In the database, so every process
#: serving the same database refuses them.
#: Which layout the stored values follow (one row, ``id`` 1); see :func:`_open_schema`.
store_layout = Table(
    "store_layout",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("layout", Integer, nullable=False),
)
#: 1: uint64 values as they are in signed columns (overflowed at 2**63), 32-character
#: labels. 2: :class:`Uint64` columns, 66-character labels. 3: the journal's ``relayer``
#: and the webhooks' delivery lease (``lease_owner``, ``lease_until``), for instances
#: sharing one database.
LAYOUT = 3
#: Everything derived from the chain, which an upgrade drops for the indexer to re-derive.
READ_MODEL: tuple[Table, ...] = (
    events,
    residents,
    record_versions,
    consents,
    access_requests,
    request_answers,
    services,
    bundles,
    indexed_blocks,
)
#: The vault's uint64 columns and label column, upgraded in place: the vault is not the
#: chain's to give back.
_VAULT_UINT64 = {
    "envelopes": ("version",),
    "wrapped_keys": ("version",),
    "attestations": ("version", "issued_at", "expires_at"),
}
#: Nullable columns layout 3 added to tables that existed before (table: columns), added
#: in place with ``ALTER TABLE … ADD COLUMN`` (their types as :data:`metadata` has them).
_ADDED_IN_3 = {"journal": ("relayer",), "webhooks": ("lease_owner", "lease_until")}
_LOCK_KEY = 0x636F6E73656E74  # any constant: one advisory lock for schema work
#: The key of :meth:`Store.begin_serialised` for writing the read model (the indexer's
#: ranges, cutting it back, dropping it): one process at a time, whichever they are.
READ_MODEL_LOCK = 0x696E646578


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
        _open_schema(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def connect(self) -> Connection:
        return self.engine.connect()

    @contextmanager
    def begin_serialised(self, key: int) -> Iterator[Connection]:
        """One transaction that no other holder of ``key`` runs beside, in any process
        sharing this database: PostgreSQL takes the advisory lock ``key`` for the
        transaction; SQLite takes its (one) write lock at ``BEGIN IMMEDIATE``, before
        the transaction reads anything. What it reads is then current until it commits."""
        if not self.is_sqlite:
            with self.engine.begin() as c:
                if c.dialect.name == "postgresql":
                    c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield c
            return
        if self.url in ("sqlite://", "sqlite:///:memory:"):
            # One shared connection, one process: nothing else can write beside it.
            with self.engine.begin() as c:
                yield c
            return
        with self.engine.connect() as c:
            # pysqlite begins nothing before this statement and none after it (it is in
            # a transaction then); commit and rollback end it.
            c.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.rollback()
                raise
            c.commit()

    def upsert_ignore(self, table: Table) -> Any:
        """``INSERT … ON CONFLICT DO NOTHING`` for this dialect (idempotent replays)."""
        if self.is_sqlite:
            return sqlite.insert(table).on_conflict_do_nothing()
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return insert(table)

    def drop_read_model(self) -> None:
        """Forget everything derived from the chain (the indexer rebuilds it)."""
        with self.begin_serialised(READ_MODEL_LOCK) as c:
            for table in READ_MODEL:
                c.execute(table.delete())

    def close(self) -> None:
        self.engine.dispose()


def _open_schema(engine: Engine) -> None:
    """Create the schema, or bring a database of layout 1 up to :data:`LAYOUT`.

    The upgrade is one transaction (SQLite and PostgreSQL both run DDL inside one): the
    read model is dropped, so the indexer re-derives it from the deployment block at the
    next start (what ``Indexer.rebuild`` does); the vault's uint64 values are shifted in
    place and its label columns widened, so no envelope, wrapped key or attestation is
    lost; then the layout is recorded. A crash midway leaves layout 1 as it was. From
    layout 2, layout 3 only adds nullable columns (:data:`_ADDED_IN_3`); each is added
    only if missing, so an upgrade that a crash cut short is finished at the next open.
    On PostgreSQL an advisory lock keeps processes starting together from upgrading twice."""
    with engine.begin() as c:
        if c.dialect.name == "postgresql":
            c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        existing = set(inspect(c).get_table_names())
        layout = _stored_layout(c, existing)
        if layout is not None and layout > LAYOUT:
            raise RuntimeError(f"the database has layout {layout}, newer than this code's {LAYOUT}")
        if layout is None and existing & set(metadata.tables):
            _upgrade_from_1(c, existing)
        if layout is not None and layout < LAYOUT:
            # DML first, as in _upgrade_from_1: the ALTERs then run in this transaction.
            c.execute(update(store_layout).where(store_layout.c.id == 1).values(layout=LAYOUT))
        if layout is None or layout < 3:
            _upgrade_to_3(c, existing)
        metadata.create_all(c)
        if layout is None:
            c.execute(insert(store_layout).values(id=1, layout=LAYOUT))


def _stored_layout(c: Connection, existing: set[str]) -> int | None:
    if store_layout.name not in existing:
        return None
    return c.execute(select(store_layout.c.layout).where(store_layout.c.id == 1)).scalar()


def _upgrade_from_1(c: Connection, existing: set[str]) -> None:
    # DML first: Python's sqlite3 opens the transaction at the first write, and the DDL
    # after it then runs inside that transaction rather than in autocommit.
    for name, columns in _VAULT_UINT64.items():
        if name in existing:
            shifted = ", ".join(f"{col} = {col} - 9223372036854775807 - 1" for col in columns)
            c.execute(text(f"UPDATE {name} SET {shifted}"))  # 2**63 itself is no BIGINT
            if c.dialect.name == "postgresql":
                c.execute(text(f"ALTER TABLE {name} ALTER COLUMN field TYPE VARCHAR(66)"))
    for table in READ_MODEL:
        if table.name in existing:
            table.drop(c)


def _upgrade_to_3(c: Connection, existing: set[str]) -> None:
    inspector = inspect(c)
    for name, columns in _ADDED_IN_3.items():
        if name not in existing or name not in metadata.tables:
            continue  # created whole by create_all (or not this program's table)
        present = {column["name"] for column in inspector.get_columns(name)}
        for column in columns:
            if column not in present:
                kind = metadata.tables[name].c[column].type.compile(dialect=c.dialect)
                c.execute(text(f"ALTER TABLE {name} ADD COLUMN {column} {kind}"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
