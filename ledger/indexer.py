"""Follow the contracts' events into the read model.

The indexer reads logs of both contracts block range by block range, stores every event
(the audit log) and keeps the derived tables (residents, record versions, requests,
consents with their use counts and revocations) in step, one database transaction per
range, so the read model is always the state at some block. It resumes from the last
indexed block after a restart. Before each range it checks that the last indexed block
is still the chain's block at that height; if the chain replaced it, the read model is
cut back to the fork point and re-derived. Several processes (instances, workers) may
follow the chain into one database: each range is written by one of them, under a lock
all of them take, after it read the cursor again (:meth:`Indexer._index_range`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Connection, Table, and_, bindparam, delete, func, select, update
from web3.exceptions import BlockNotFound

from ledger.client import LedgerClient
from ledger.codec import dumps, to_hex
from ledger.intents import BY_TYPE_HASH, INTENTS
from ledger.store import (
    READ_MODEL_LOCK,
    Store,
    access_requests,
    bundles,
    consents,
    events,
    indexed_blocks,
    record_versions,
    request_answers,
    residents,
    services,
)
from ledger.types import Event
from ledger.vocabulary import hex32_label

log = logging.getLogger(__name__)

_RANGE = 2_000
#: How many recent cursor hashes to keep for finding a fork point.
_KEEP_HASHES = 256
_FAILURE_CHARS = 300


def event_json(args: Mapping[str, Any]) -> dict[str, Any]:
    """Event arguments as JSON values: bytes32 names stay hex, bytes as 0x-hex."""
    return {k: _jsonable(v) for k, v in args.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return to_hex(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _labels(values: list[str]) -> str:
    """Field ids (0x-hex, as the args hold them) as the read model lists them: names,
    or hex for bytes that are not one (the admin may define any ``bytes32`` as a field)."""
    return json.dumps([hex32_label(v) for v in values])


def failure_text(exc: BaseException) -> str:
    """One line saying why a round failed, short enough for ``/health``."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= _FAILURE_CHARS else text[: _FAILURE_CHARS - 1] + "…"


class Indexer:
    """Keeps the read model of ``store`` at the chain's head, one range at a time."""

    def __init__(self, client: LedgerClient, store: Store, *, start_block: int | None = None):
        self.client = client
        self.store = store
        self.start_block = client.deployment.block_number if start_block is None else start_block
        self._lock = threading.Lock()
        self._addresses = client.addresses
        #: Why the last round could not advance (``None`` once a round succeeds): while
        #: set, ``/health`` fails and writes are refused with 503 before relaying.
        self.failure: str | None = None

    # ------------------------------------------------------------------ state

    def last_block(self) -> int:
        """The last block whose events are in the read model."""
        with self.store.connect() as c:
            number = c.execute(select(func.max(indexed_blocks.c.number))).scalar()
        return self.start_block - 1 if number is None else int(number)

    def lag(self) -> int:
        return max(0, self.client.chain.head_number() - self.last_block())

    # ------------------------------------------------------------------ work

    def catch_up(self, to_block: int | None = None) -> int:
        """Index up to ``to_block`` (default: head); returns the last indexed block."""
        with self._lock:
            try:
                # A fresh read, not the chain's cached head: after a reorg the cached one
                # may name blocks the node no longer has.
                w3 = self.client.chain.w3
                head = int(w3.eth.block_number) if to_block is None else to_block
                last = self.last_block()
                last = self._check_fork(last)
                while last < head:
                    end = min(head, last + _RANGE)
                    last = self._index_range(last + 1, end)
            except Exception as exc:
                self.failure = failure_text(exc)
                raise
            self.failure = None
            return last

    def rebuild(self) -> int:
        """Drop the read model and derive it again from the chain."""
        with self._lock:
            self.store.drop_read_model()
        return self.catch_up()

    def _check_fork(self, last: int) -> int:
        if last < self.start_block:
            return last
        w3 = self.client.chain.w3
        with self.store.connect() as c:
            rows = c.execute(
                select(indexed_blocks.c.number, indexed_blocks.c.hash).order_by(
                    indexed_blocks.c.number.desc()
                )
            ).all()
        for number, stored_hash in rows:
            try:
                block = w3.eth.get_block(int(number))
            except BlockNotFound:
                continue  # the chain is shorter now (a revert): the block is gone
            if to_hex(block["hash"]) == stored_hash:
                if int(number) != last:
                    log.warning(
                        "chain replaced blocks after %s; re-deriving the read model", number
                    )
                    self._cut_back(int(number))
                return int(number)
        log.warning("no indexed block is on the chain any more; re-deriving the read model")
        self.store.drop_read_model()
        return self.start_block - 1

    def _cut_back(self, fork_point: int) -> None:
        """Forget everything after ``fork_point`` and re-derive the tables from the events."""
        with self.store.begin_serialised(READ_MODEL_LOCK) as c:
            c.execute(delete(events).where(events.c.block_number > fork_point))
            c.execute(delete(indexed_blocks).where(indexed_blocks.c.number > fork_point))
            derived = (
                residents,
                record_versions,
                consents,
                access_requests,
                request_answers,
                services,
                bundles,
            )
            for table in derived:
                c.execute(table.delete())
            rows = c.execute(select(events).order_by(events.c.block_number, events.c.log_index))
            derive(c, self.store, rows.mappings().all())

    def _index_range(self, start: int, end: int) -> int:
        """Index blocks ``start``..``end``; the last indexed block after it.

        The derivation is not idempotent (a range applied again after a later one would
        set use counts, versions and services back), so the write is serialised across
        every process sharing the database (:meth:`ledger.store.Store.begin_serialised`)
        and the cursor read again inside it: if another process moved it meanwhile (or
        cut it back), nothing is written and the caller goes on from where it stands."""
        chain = self.client.chain
        logs = chain.get_logs(start, end, self._addresses)
        timestamps: dict[int, int] = {}
        hashes: dict[int, str] = {}
        for number in {int(entry["blockNumber"]) for entry in logs} | {end}:
            raw_hash, timestamps[number] = chain.block_stamp(number)
            hashes[number] = to_hex(raw_hash)
        rows: list[dict[str, Any]] = []
        derivation = _Derivation()
        marks = DelegateMarks()
        for entry in logs:
            event = self.client.decode_log(entry)
            if event is None:
                continue
            number = int(entry["blockNumber"])
            tx_hash = to_hex(entry["transactionHash"])
            row = event_row(
                self.client,
                event,
                block_number=int(entry["blockNumber"]),
                log_index=int(entry["logIndex"]),
                tx_hash=tx_hash,
                timestamp=timestamps[number],
                signed_by=marks.signer(tx_hash, event),
            )
            rows.append(row)
            derivation.add(event.name, event_json(event.args), row)
        with self.store.begin_serialised(READ_MODEL_LOCK) as c:
            stored = c.execute(select(func.max(indexed_blocks.c.number))).scalar()
            cursor = self.start_block - 1 if stored is None else int(stored)
            if cursor != start - 1:
                log.debug(
                    "blocks %d-%d: another process moved the cursor to %d", start, end, cursor
                )
                return cursor
            if rows:
                c.execute(self.store.upsert_ignore(events), rows)
            derivation.apply(c, self.store)
            for number, block_hash in hashes.items():
                c.execute(
                    self.store.upsert_ignore(indexed_blocks).values(
                        number=number, hash=block_hash, timestamp=timestamps[number]
                    )
                )
            oldest_kept = (
                select(indexed_blocks.c.number)
                .order_by(indexed_blocks.c.number.desc())
                .offset(_KEEP_HASHES)
                .limit(1)
                .scalar_subquery()
            )
            c.execute(delete(indexed_blocks).where(indexed_blocks.c.number <= oldest_kept))
        return end


class DelegateMarks:
    """Who signed each event's intent when a delegate did.

    The ledger logs ``DelegateSigned`` just before the events of an intent a delegate
    signed in a resident's name; those events run, in the same transaction, up to the
    intent's own event (:attr:`ledger.intents.IntentType.events`: ``ConsentGranted`` for
    a grant, ``BundleGranted`` after a bundle's consents). Feed it every log in chain
    order; a refused intent's marker was reverted with it, so none is left open."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, frozenset[str]]] = {}

    def signer(self, tx_hash: str, event: Event) -> str | None:
        if event.name == "DelegateSigned":
            delegate: str = to_checksum_address(event.args["delegate"])
            intent = INTENTS[BY_TYPE_HASH[bytes(event.args["intentType"])]]
            self._open[tx_hash] = (delegate, frozenset(intent.events))
            return delegate
        marked = self._open.get(tx_hash)
        if marked is None:
            return None
        signer, closing = marked
        if event.name in closing:
            del self._open[tx_hash]
        return signer


def event_row(
    client: LedgerClient,
    event: Event,
    *,
    block_number: int,
    log_index: int,
    tx_hash: str,
    timestamp: int,
    signed_by: str | None = None,
) -> dict[str, Any]:
    """The ``events`` row of a decoded log: what the indexer stores and the audit
    expects to find (``signed_by`` from :class:`DelegateMarks`)."""
    args = event_json(event.args)
    contract = client.contract_name(event.address)
    return {
        "block_number": block_number,
        "log_index": log_index,
        "tx_hash": tx_hash,
        "block_timestamp": timestamp,
        "contract": contract,
        "name": event.name,
        "resident": _address(args.get("resident")),
        "department": _address(args.get("department")),
        "consent_id": stored_consent_id(args.get("consentId")),
        "args": dumps(args),
        "signed_by": signed_by,
    }


_SET_RESIDENT_VERSION = (
    update(residents)
    .where(residents.c.address == bindparam("b_resident"))
    .values(version=bindparam("b_version"), root=bindparam("b_root"))
)
_LINK_REQUEST = (
    update(access_requests)
    .where(
        and_(
            access_requests.c.request_id == bindparam("b_request"),
            access_requests.c.consent_id.is_(None),
        )
    )
    .values(consent_id=bindparam("b_consent"))
)
_REVOKE = (
    update(consents)
    .where(consents.c.consent_id == bindparam("b_consent"))
    .values(revoked=True, revoked_at=bindparam("b_at"))
)
_SET_USES = (
    update(consents)
    .where(consents.c.consent_id == bindparam("b_consent"))
    .values(uses=bindparam("b_uses"))
)
_REVOKE_BUNDLE = (
    update(bundles)
    .where(bundles.c.bundle_id == bindparam("b_bundle"))
    .values(revoked=True, revoked_at=bindparam("b_at"))
)


def _service_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "department": to_checksum_address(item["department"]),
        "fields": [hex32_label(f) for f in item["fields"]],
        "purpose": hex32_label(item["purpose"]),
        "duration": int(item["duration"]),
        "max_uses": int(item["maxUses"]),
    }


def derive(c: Connection, store: Store, rows: Iterable[Mapping[Any, Any]]) -> None:
    """Apply stored event rows (in chain order) to the derived tables."""
    derivation = _Derivation()
    for row in rows:
        derivation.add(str(row["name"]), json.loads(row["args"]), row)
    derivation.apply(c, store)


class _Derivation:
    """The derived tables' changes for a run of events, applied in bulk.

    Inserts go first (first row wins, replays change nothing), then updates, each kind
    in event order. That is the same as applying the events one by one: an update only
    ever follows the insert of its row on chain (no access before its grant, no record
    before its enrolment), and the kinds touch different columns."""

    def __init__(self) -> None:
        self.inserts: dict[Table, list[dict[str, Any]]] = {
            residents: [],
            record_versions: [],
            access_requests: [],
            request_answers: [],
            consents: [],
            bundles: [],
        }
        #: Services by id, the last definition of the run winning (a redefinition replaces).
        self.services: dict[str, dict[str, Any]] = {}
        self.updates: dict[Any, list[dict[str, Any]]] = {
            _REVOKE_BUNDLE: [],
            _SET_RESIDENT_VERSION: [],
            _LINK_REQUEST: [],
            _REVOKE: [],
            _SET_USES: [],
        }

    def add(self, name: str, args: Mapping[str, Any], row: Mapping[Any, Any]) -> None:
        number = int(row["block_number"])
        timestamp = int(row["block_timestamp"])
        if name == "ResidentEnrolled":
            self.inserts[residents].append(
                {
                    "address": args["resident"],
                    "id_commitment": args["idCommitment"],
                    "encryption_key": args["encryptionKey"],
                    "registrar": args["registrar"],
                    "version": 0,
                    "enrolled_block": number,
                }
            )
        elif name == "RecordCommitted":
            self.inserts[record_versions].append(
                {
                    "resident": args["resident"],
                    "version": args["version"],
                    "root": args["root"],
                    "block_number": number,
                }
            )
            self.updates[_SET_RESIDENT_VERSION].append(
                {
                    "b_resident": args["resident"],
                    "b_version": args["version"],
                    "b_root": args["root"],
                }
            )
        elif name == "AccessRequested":
            self.inserts[access_requests].append(
                {
                    "request_id": args["requestId"],
                    "department": args["department"],
                    "resident": args["resident"],
                    "fields": _labels(args["fields"]),
                    "purpose": hex32_label(args["purpose"]),
                    "duration": args["duration"],
                    "requested_at": timestamp,
                    "block_number": number,
                    "tx_hash": row["tx_hash"],
                }
            )
        elif name == "ConsentGranted":
            request_id = args["requestId"]
            linked = int(request_id, 16) != 0
            self.inserts[consents].append(
                {
                    "consent_id": args["consentId"],
                    "resident": args["resident"],
                    "department": args["department"],
                    "fields": _labels(args["fields"]),
                    "purpose": hex32_label(args["purpose"]),
                    "valid_from": args["validFrom"],
                    "valid_until": args["validUntil"],
                    "max_uses": args["maxUses"],
                    "request_id": request_id if linked else None,
                    "uses": 0,
                    "revoked": False,
                    "revoked_at": None,
                    "granted_at": timestamp,
                    "tx_hash": row["tx_hash"],
                    "block_number": number,
                    "log_index": row["log_index"],
                }
            )
            if linked:
                self.updates[_LINK_REQUEST].append(
                    {"b_request": request_id, "b_consent": args["consentId"]}
                )
        elif name in ("RequestDeclined", "RequestWithdrawn"):
            declined = name == "RequestDeclined"
            self.inserts[request_answers].append(
                {
                    "request_id": args["requestId"],
                    "answer": "declined" if declined else "withdrawn",
                    "reason": hex32_label(args["reason"]) if declined else None,
                    "answered_at": timestamp,
                    "block_number": number,
                    "tx_hash": row["tx_hash"],
                }
            )
        elif name == "ServiceDefined":
            service = hex32_label(args["service"])
            self.services[service] = {
                "service": service,
                "name": args["name"],
                "items": json.dumps([_service_item(item) for item in args["items"]]),
                "admin": args["admin"],
                "defined_at": timestamp,
                "block_number": number,
                "tx_hash": row["tx_hash"],
            }
        elif name == "BundleGranted":
            self.inserts[bundles].append(
                {
                    "bundle_id": args["bundleId"],
                    "resident": args["resident"],
                    "service": hex32_label(args["service"]),
                    "first_consent_id": args["firstConsentId"],
                    "count": args["count"],
                    "revoked": False,
                    "revoked_at": None,
                    "granted_at": timestamp,
                    "block_number": number,
                    "tx_hash": row["tx_hash"],
                }
            )
        elif name == "BundleRevoked":
            self.updates[_REVOKE_BUNDLE].append({"b_bundle": args["bundleId"], "b_at": timestamp})
        elif name == "ConsentRevoked":
            self.updates[_REVOKE].append({"b_consent": args["consentId"], "b_at": timestamp})
        elif name == "AccessLogged":
            self.updates[_SET_USES].append({"b_consent": args["consentId"], "b_uses": args["use"]})

    def apply(self, c: Connection, store: Store) -> None:
        for table, rows in self.inserts.items():
            if rows:
                c.execute(store.upsert_ignore(table), rows)
        if self.services:
            c.execute(delete(services).where(services.c.service.in_(list(self.services))))
            c.execute(services.insert(), list(self.services.values()))
        for statement, params in self.updates.items():
            if params:
                c.execute(statement, params)


#: The events' consent id column is a signed 64-bit ``BIGINT`` (the chain numbers
#: consents from 1, so every granted id fits; uint64 values have :class:`Uint64`).
MAX_STORED_INT = 2**63 - 1


def stored_consent_id(value: Any) -> int | None:
    """The consent id for the events' index column. Anyone may ask for access under
    any uint256 id (and be denied ``unknown_consent``); ids beyond 64 bits were never
    granted, so they are indexed as none — the event's args keep the exact value."""
    if isinstance(value, int) and 0 <= value <= MAX_STORED_INT:
        return value
    return None


def _address(value: Any) -> str | None:
    return to_checksum_address(value) if isinstance(value, str) else None
