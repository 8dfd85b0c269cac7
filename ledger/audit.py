"""Verify the consent log without trusting the API's database.

:func:`verify` re-derives every event from the chain and checks three things:

1. **The read model is the chain's.** Every stored event row equals the chain's event
   at the same (block, log index) — an edited, deleted or inserted row is reported —
   and the derived tables (residents, record versions, requests, consents) equal a
   fresh derivation from the chain's events.
2. **Every intent was signed by whoever held the authority.** Each transaction's
   calldata is decoded, every accepted intent's EIP-712 signer recovered and checked
   against the address its message names and the authority it needed just before its
   transaction (admin, registrar, department role; enrolled resident); direct admin
   calls are checked against their sender.
3. **Every served access was allowed.** Each ``AccessLogged`` lies inside its consent's
   window, scope and use count, names the consent's parties and purpose, and comes
   before any revocation of that consent.
4. **Every recorded attestation was dated and trusted by the chain.** Each
   ``AttestationRecorded`` carries its block's time, an ``issuedAt`` within the window
   of it, and an issuer the trust events say was trusted for the field then
   (:func:`ledger.attestations.attestation_problems`).
5. **Every bundle is its resident's signed service.** Each consent a ``GrantBundle``
   created is one of its signed items and fitted its service item and purpose policy
   as defined at its block; each ``BundleRevoked`` ended exactly its bundle's consents
   in force; every consent was signed by a ``Grant`` or a bundle
   (:func:`ledger.audit_bundles.bundle_problems`).
6. **Every intent the relayer acknowledged reached the chain.** An intent answered as
   recorded is in the transaction its journal entry names, and none is held back long
   after it was accepted (:mod:`ledger.journal_audit`); each problem carries the
   acceptance its signer was given. Entries never acknowledged (cut off by a crash,
   or refused with a 503 before sending) are listed as ``unacknowledged``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select, tuple_

from ledger.attestations import AttestationReplay
from ledger.audit_bundles import BundleReplay
from ledger.audit_delegation import Delegations, delegated_problem
from ledger.audit_emergency import EmergencyReplay
from ledger.audit_workers import ADMIN_CALLS, Decoded, Job, decode_transaction, pool, workers_wanted
from ledger.client import LedgerClient
from ledger.codec import to_hex
from ledger.errors import LedgerError
from ledger.indexer import DelegateMarks, derive, event_row
from ledger.intents import BY_FUNCTION, INTENTS
from ledger.journal_audit import journal_findings, journal_tx_hashes
from ledger.store import (
    Store,
    access_requests,
    bundles,
    consents,
    events,
    record_versions,
    request_answers,
    residents,
    services,
)
from ledger.types import ConsentTerms, Event, Outcome, SignedIntent
from ledger.vocabulary import role_id

_RANGE = 2_000
#: Blocks read and checked at a time (``CONSENT_AUDIT_WINDOW_BLOCKS`` overrides).
WINDOW_BLOCKS = 20
#: Keys per query when the derived tables are compared.
_CHUNK = 400
_DERIVED = {
    "residents": (residents, ("address",)),
    "record_versions": (record_versions, ("resident", "version")),
    "access_requests": (access_requests, ("request_id",)),
    "request_answers": (request_answers, ("request_id",)),
    "consents": (consents, ("consent_id",)),
    "services": (services, ("service",)),
    "bundles": (bundles, ("bundle_id",)),
}


@dataclass
class AuditProblem:
    kind: str
    detail: str
    receipt: dict[str, Any] | None = None
    #: For an intent the relayer acknowledged: what its acceptance says (journal id,
    #: intent digest, chain, time accepted, relayer) and where the journal says it went.
    acceptance: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        found = {"kind": self.kind, "detail": self.detail, "receipt": self.receipt}
        if self.acceptance is not None:
            found["acceptance"] = self.acceptance
        return found


@dataclass
class AuditReport:
    events: int = 0
    signatures_verified: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    #: Journal entries the chain does not hold that no answer acknowledged as recorded.
    unacknowledged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ChainEvent:
    event: Event
    block_number: int
    log_index: int
    tx_hash: str
    block_timestamp: int

    def receipt(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "log_index": self.log_index,
            "block_timestamp": self.block_timestamp,
        }


def chain_events(client: LedgerClient, start: int, end: int) -> Iterator[ChainEvent]:
    """The contracts' events straight from the chain, in order."""
    chain = client.chain
    addresses = client.addresses
    timestamps: dict[int, int] = {}
    for first in range(start, end + 1, _RANGE):
        last = min(end, first + _RANGE - 1)
        for entry in chain.get_logs(first, last, addresses):
            event = client.decode_log(entry)
            if event is None:
                continue
            number = int(entry["blockNumber"])
            if number not in timestamps:
                timestamps[number] = chain.block_stamp(number)[1]
            yield ChainEvent(
                event,
                number,
                int(entry["logIndex"]),
                to_hex(entry["transactionHash"]),
                timestamps[number],
            )


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, "") or default))
    except ValueError:
        return default


def verify(
    client: LedgerClient,
    store: Store,
    *,
    to_block: int,
    now: int | None = None,
    window_blocks: int | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Check the read model, the signatures and the accesses up to ``to_block``, and the
    relayer's journal as of ``now`` (Unix seconds; default the clock).

    The log is read ``window_blocks`` blocks at a time (default
    ``CONSENT_AUDIT_WINDOW_BLOCKS``, else :data:`WINDOW_BLOCKS`), each window checked and
    let go before the next: the state the checks carry between windows is per consent,
    resident, role or bundle, never per event, and the freshly derived tables live in a
    scratch SQLite file. The read model is read in one read transaction, so the report
    is of one state of it (and of the chain at ``to_block``).

    With ``workers`` (default ``CONSENT_AUDIT_WORKERS``, else none) processes, each
    window's calldata is decoded and its signers recovered in a pool while the window's
    read model is checked; the report is the same."""

    window = window_blocks or _env_int("CONSENT_AUDIT_WINDOW_BLOCKS", WINDOW_BLOCKS) or 1
    report = AuditReport()
    start = client.deployment.block_number
    chain_now = client.chain.block_stamp(to_block)[1]
    count = workers_wanted() if workers is None else workers
    with _snapshot(store) as c, contextlib.ExitStack() as stack:
        executor = stack.enter_context(pool(count)) if count > 0 else None
        journal_txs = journal_tx_hashes(c)
        audit = _Audit(client, store, c, start, to_block, journal_txs, executor)
        try:
            for first in range(start, to_block + 1, window):
                audit.window(list(chain_events(client, first, min(to_block, first + window - 1))))
            audit.finish(chain_now)
            report.events = audit.events
            report.signatures_verified = audit.signatures.verified
            for part in audit.parts():
                report.problems.extend(part)
        finally:
            audit.close()
        journalled = journal_findings(
            client,
            store,
            now=int(time.time()) if now is None else now,
            carried=audit.carried,
            connection=c,
        )
    for detail, accepted in journalled.problems:
        report.problems.append(
            AuditProblem("accepted_intent_not_on_chain", detail, acceptance=accepted.as_json())
        )
    report.unacknowledged = [accepted.as_json() for accepted in journalled.unacknowledged]
    return report


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """One read transaction over the read model: every read of the audit sees one state."""
    with store.connect() as c:
        if store.is_sqlite:
            raw = c.connection.dbapi_connection
            began = raw is not None and not raw.in_transaction
            if began:
                c.exec_driver_sql("BEGIN")  # deferred: the first read fixes the snapshot
            try:
                yield c
            finally:
                if began and raw is not None and raw.in_transaction:
                    raw.rollback()
        else:
            c = c.execution_options(isolation_level="REPEATABLE READ")
            with c.begin():
                yield c


class _Audit:
    """The checks of :func:`verify`, fed the log one window at a time in chain order;
    each check's problems kept apart so the report lists them in the order it always
    did (read model, derived tables, signatures, accesses, emergencies, bundles,
    attestations)."""

    def __init__(
        self,
        client: LedgerClient,
        store: Store,
        c: Connection,
        start: int,
        to_block: int,
        journal_txs: set[str],
        executor: Executor | None = None,
    ) -> None:
        self.client = client
        self.c = c
        self.to_block = to_block
        self.events = 0
        self.read_model = _ReadModel(client, store, c, start)
        self.authority = _Authority(client, ())
        self.delegations = Delegations(())
        self.carried: dict[str, list[SignedIntent] | None] = {}
        self.signed: dict[tuple[int, int], tuple[SignedIntent, str | None]] = {}
        self.signatures = _Signatures(
            client,
            self.authority,
            self.delegations,
            self.carried,
            self.signed,
            journal_txs,
            executor,
        )
        self.accesses = _Accesses()
        self.emergencies = EmergencyReplay(self.authority.holds)
        self.bundles = BundleReplay(self.signed)
        self.attestations = AttestationReplay()
        self.emergency_found: list[AuditProblem] = []
        self.bundle_found: list[AuditProblem] = []
        self.attestation_found: list[AuditProblem] = []

    def window(self, found: list[ChainEvent]) -> None:
        self.events += len(found)
        if found:
            pending = self.signatures.submit(found)  # decoding (in the pool) meanwhile
            self.read_model.window(found)
            for item in found:
                self.authority.feed(item)
                self.delegations.feed(item)
            self.signatures.judge(pending)
            self.accesses.feed(found)
            for kind, detail, item in self.emergencies.feed(found):
                self.emergency_found.append(AuditProblem(kind, detail, item.receipt()))
            for kind, detail, item in self.bundles.feed(found):
                self.bundle_found.append(AuditProblem(kind, detail, item.receipt()))
            for detail, item in self.attestations.feed(found):
                self.attestation_found.append(
                    AuditProblem("attestation_not_allowed", detail, item.receipt())
                )
        self.signed.clear()  # keyed by this window's positions: no later event needs them
        self.authority.forget_before(found[-1].block_number if found else 0)

    def finish(self, chain_now: int) -> None:
        self.read_model.finish(self.to_block)
        for kind, detail, item in self.emergencies.finish(chain_now):
            self.emergency_found.append(AuditProblem(kind, detail, item.receipt()))
        for kind, detail, item in self.bundles.finish():
            self.bundle_found.append(AuditProblem(kind, detail, item.receipt()))

    def parts(self) -> Iterator[list[AuditProblem]]:
        yield from self.read_model.parts()
        yield self.signatures.problems
        yield self.accesses.problems
        yield self.emergency_found
        yield self.bundle_found
        yield self.attestation_found

    def close(self) -> None:
        self.read_model.close()


# ---------------------------------------------------------------------- read model


def _row_of(client: LedgerClient, item: ChainEvent, marks: DelegateMarks) -> dict[str, Any]:
    return event_row(
        client,
        item.event,
        block_number=item.block_number,
        log_index=item.log_index,
        tx_hash=item.tx_hash,
        timestamp=item.block_timestamp,
        signed_by=marks.signer(item.tx_hash, item.event),
    )


class _ReadModel:
    """Check 1 a window at a time: stored event rows against the chain's, and the chain's
    rows derived into a scratch SQLite file, compared with the stored tables at the end."""

    def __init__(self, client: LedgerClient, store: Store, c: Connection, start: int) -> None:
        self.client = client
        self.store = store
        self.c = c
        self.marks = DelegateMarks()  # fed in chain order, as the indexer feeds it
        self.found: list[AuditProblem] = []  # event_missing, event_altered
        self.extra: list[AuditProblem] = []  # event_not_on_chain
        self.derived: list[AuditProblem] = []
        self._next = start  # the first block no window has read yet
        handle, self._path = tempfile.mkstemp(prefix="consent-audit-", suffix=".sqlite3")
        os.close(handle)
        self.fresh = Store(f"sqlite:///{self._path}")
        self._stored_before(start)

    def _stored_before(self, start: int) -> None:
        self._extra_rows(
            self.c.execute(
                select(events)
                .where(events.c.block_number < start)
                .order_by(events.c.block_number, events.c.log_index)
            ).mappings()
        )

    def _extra_rows(self, rows: Iterable[Any]) -> None:
        for have in rows:
            key = (have["block_number"], have["log_index"])
            self.extra.append(
                AuditProblem(
                    "event_not_on_chain",
                    f"stored {have['name']} at block {key[0]} log {key[1]} is not on chain",
                    {
                        "tx_hash": have["tx_hash"],
                        "block_number": key[0],
                        "log_index": key[1],
                        "block_timestamp": have["block_timestamp"],
                    },
                )
            )

    def window(self, found: list[ChainEvent]) -> None:
        first, last = self._next, found[-1].block_number
        self._next = last + 1
        expected = {
            (i.block_number, i.log_index): (_row_of(self.client, i, self.marks), i) for i in found
        }
        stored = {
            (r["block_number"], r["log_index"]): dict(r)
            for r in self.c.execute(
                select(events)
                .where(events.c.block_number >= first, events.c.block_number <= last)
                .order_by(events.c.block_number, events.c.log_index)
            ).mappings()
        }
        for key, (row, item) in expected.items():
            have = stored.get(key)
            if have is None:
                self.found.append(
                    AuditProblem(
                        "event_missing",
                        f"{row['name']} is on chain but not in the read model",
                        item.receipt(),
                    )
                )
                continue
            differing = sorted(
                column
                for column in row
                if _normal(column, have.get(column)) != _normal(column, row[column])
            )
            if differing:
                self.found.append(
                    AuditProblem(
                        "event_altered",
                        f"{row['name']}: stored {', '.join(differing)} differ from the chain",
                        item.receipt(),
                    )
                )
        self._extra_rows(have for key, have in stored.items() if key not in expected)
        with self.fresh.begin() as fc:
            derive(fc, self.fresh, (row for row, _ in expected.values()))

    def finish(self, to_block: int) -> None:
        if self._next <= to_block:  # blocks after the last event: rows there are extra
            self._extra_rows(
                self.c.execute(
                    select(events)
                    .where(events.c.block_number >= self._next, events.c.block_number <= to_block)
                    .order_by(events.c.block_number, events.c.log_index)
                ).mappings()
            )
        with self.fresh.connect() as fc:
            for name, (table, key) in _DERIVED.items():
                self.derived.extend(_compare_table(name, table, key, fc, self.c))

    def parts(self) -> Iterator[list[AuditProblem]]:
        yield self.found
        yield self.extra
        yield self.derived

    def close(self) -> None:
        self.fresh.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(self._path + suffix)


def _compare_table(
    name: str, table: Table, key: tuple[str, ...], want_c: Connection, have_c: Connection
) -> list[AuditProblem]:
    """The rows of ``table`` freshly derived (``want_c``) against the stored (``have_c``),
    :data:`_CHUNK` keys at a time: missing rows, rows with no chain event, altered rows."""
    missing: list[AuditProblem] = []
    extra: list[AuditProblem] = []
    altered: list[AuditProblem] = []
    columns = [table.c[k] for k in key]

    def rows_for(
        c: Connection, keys: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        if len(columns) == 1:
            where = columns[0].in_([k[0] for k in keys])
        else:
            where = tuple_(*columns).in_(keys)
        return {
            tuple(r[k] for k in key): dict(r)
            for r in c.execute(select(table).where(where)).mappings()
        }

    def chunks(c: Connection) -> Iterator[dict[tuple[Any, ...], dict[str, Any]]]:
        result = c.execute(select(table)).mappings()
        while batch := result.fetchmany(_CHUNK):
            yield {tuple(r[k] for k in key): dict(r) for r in batch}

    for want in chunks(want_c):
        have = rows_for(have_c, list(want))
        for k, row in want.items():
            if k not in have:
                missing.append(
                    AuditProblem(
                        f"{name}_missing", f"{name} row {k} is missing", _derived_receipt(row)
                    )
                )
                continue
            differing = sorted(col for col in row if row[col] != have[k][col])
            if differing:
                altered.append(
                    AuditProblem(
                        f"{name}_altered",
                        f"{name} row {k}: {', '.join(differing)} differ from the chain",
                        _derived_receipt(row),
                    )
                )
    for have in chunks(have_c):
        want = rows_for(want_c, list(have))
        for k in have.keys() - want.keys():
            extra.append(AuditProblem(f"{name}_not_on_chain", f"{name} row {k} has no chain event"))
    return [*missing, *extra, *altered]


def _normal(column: str, value: Any) -> Any:
    if column == "args" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _derived_receipt(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the chain recorded a derived row (as freshly derived, not as stored): the
    full receipt for consents, transaction and block for requests, else the block."""
    if "tx_hash" in row:
        return {
            "tx_hash": row["tx_hash"],
            "block_number": row["block_number"],
            "log_index": row.get("log_index"),
            "block_timestamp": next(
                (row[k] for k in ("granted_at", "requested_at", "defined_at") if k in row), None
            ),
        }
    number = row.get("block_number", row.get("enrolled_block"))
    return None if number is None else {"block_number": number}


# ---------------------------------------------------------------------- signatures


def _check_signatures(
    client: LedgerClient,
    found: list[ChainEvent],
    report: AuditReport,
    carried: dict[str, list[SignedIntent] | None] | None = None,
    signed: dict[tuple[int, int], tuple[SignedIntent, str | None]] | None = None,
    authority: _Authority | None = None,
) -> None:
    """``carried`` receives each decoded transaction's intents, for the journal's check;
    ``signed`` each accepted intent and its signer (``None``: none recovered) by the
    position of the event it logged, for the bundles' check."""
    authority = authority or _Authority(client, found)
    check = _Signatures(client, authority, Delegations(found), carried, signed, None)
    check.check(found)
    report.problems.extend(check.problems)
    report.signatures_verified += check.verified


class _Signatures:
    """Check 2 over windows of the log (every transaction's events lie in one block, so
    in one window); ``authority`` and ``delegations`` fed up to the window's end.
    ``carried`` gets the intents of the transactions in ``keep`` (all: ``None``)."""

    def __init__(
        self,
        client: LedgerClient,
        authority: _Authority,
        delegations: Delegations,
        carried: dict[str, list[SignedIntent] | None] | None,
        signed: dict[tuple[int, int], tuple[SignedIntent, str | None]] | None,
        keep: set[str] | None,
        workers: Executor | None = None,
    ) -> None:
        self.client = client
        self.pool = workers
        self._chain_id = client.chain_id
        self._domains: dict[str, str] | None = None
        self.authority = authority
        self.delegations = delegations
        self.carried = carried
        self.signed = signed
        self.keep = keep
        self.problems: list[AuditProblem] = []
        self.verified = 0

    def check(self, found: list[ChainEvent]) -> None:
        self.judge(self.submit(found))

    def submit(self, found: list[ChainEvent]) -> list[_Pending]:
        """Fetch the window's transactions and start decoding them (in the pool if any)."""
        by_tx: dict[str, list[ChainEvent]] = {}
        for item in found:
            by_tx.setdefault(item.tx_hash, []).append(item)
        client = self.client
        pending = []
        for tx_hash, items in by_tx.items():
            # By hash: the embedded chain keeps an index (eth-tester alone would walk back
            # from the head), and a node's block-with-transactions is not normalised alike.
            tx = client.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            contract = client.contract_name(tx["to"])
            if contract is None:
                continue  # deployment: constructor events (seeded schema, first roles)
            job = Job(contract, bytes(tx["input"]), self._chain_id, self._verifying(), False)
            future = None
            if self.pool is not None:
                job = dataclasses.replace(job, recover=True)
                future = self.pool.submit(decode_transaction, job)
            pending.append(_Pending(tx_hash, items, tx, job, future))
        return pending

    def judge(self, pending: list[_Pending]) -> None:
        for each in pending:
            decoded = each.future.result() if each.future else decode_transaction(each.job)
            self._transaction(each.tx_hash, each.items, each.tx, decoded)

    def _verifying(self) -> Mapping[str, str]:
        if self._domains is None:
            self._domains = {name: self.client.verifying_contract(name) for name in INTENTS}
        return self._domains

    def _transaction(
        self, tx_hash: str, items: list[ChainEvent], tx: Any, decoded: Decoded
    ) -> None:
        client, authority = self.client, self.authority
        first = (items[0].block_number, items[0].log_index)
        name = decoded.name
        if name is None:
            self.problems.append(
                AuditProblem(
                    "undecodable_call", f"{tx_hash} calls an unknown function", items[0].receipt()
                )
            )
            return
        if name in ADMIN_CALLS:
            if not authority.holds("admin", tx["from"], first):
                self.problems.append(
                    AuditProblem(
                        "unauthorized_admin_call",
                        f"{name} sent by {tx['from']}, not an admin",
                        items[0].receipt(),
                    )
                )
            return
        intents = decoded.intents
        if intents is None:
            return
        intent_name = BY_FUNCTION[name].name
        if self.carried is not None and (self.keep is None or tx_hash in self.keep):
            # The journal's check reads only each intent's signature and position: keep
            # no messages (every relayed transaction is journalled).
            self.carried[tx_hash] = (
                intents
                if self.keep is None
                else [SignedIntent(i.name, {}, i.signature, i.terms) for i in intents]
            )
        try:
            # The transaction's logs are all in ``items``: only a successful one logs.
            outcomes = client.outcomes_from_events(
                intent_name,
                intents,
                tx_hash,
                items[0].block_number,
                items[0].block_timestamp,
                [item.event for item in items],
            )
        except LedgerError as exc:
            self.problems.append(AuditProblem("unexplained_events", str(exc), items[0].receipt()))
            return
        for index, (intent, outcome) in enumerate(zip(intents, outcomes, strict=True)):
            if not outcome.ok:
                continue  # refused on chain: changed nothing
            where = {**outcome.receipt.__dict__}
            log_index = outcome.receipt.log_index
            at = (outcome.receipt.block_number, first[1] if log_index is None else log_index)
            if decoded.signers is not None:
                recovered, signer = decoded.signers[index]
            else:
                try:
                    recovered, signer = True, client.recover_signer(intent)
                except LedgerError as exc:
                    recovered, signer = False, str(exc)
            if not recovered:
                self.problems.append(
                    AuditProblem("bad_signature", f"{intent_name}: {signer}", where)
                )
                if self.signed is not None:
                    self.signed[at] = (intent, None)
                continue
            if self.signed is not None:
                self.signed[at] = (intent, signer)
            problem = _authority_problem(
                authority, intent, signer, at, outcome.event, self.delegations, outcome
            )
            if problem:
                self.problems.append(AuditProblem("unauthorized_signer", problem, where))
            else:
                self.verified += 1


@dataclass
class _Pending:
    """A transaction of the window, fetched, its decoding under way or to do."""

    tx_hash: str
    items: list[ChainEvent]
    tx: Any
    job: Job
    future: Future[Decoded] | None


class _Authority:
    """Who held a role, or was an enrolled resident, just before a given log.

    A role is held if the chain says so at the block before, as changed by the
    ``RoleGranted``/``RoleRevoked`` events earlier in the same block (the relayer may put
    a role's grant and its first use in one block). Enrolment comes from the
    ``ResidentEnrolled`` events, all of which ``found`` holds from the deployment on.
    """

    def __init__(self, client: LedgerClient, found: Iterable[ChainEvent] = ()) -> None:
        self.client = client
        self._cache: dict[tuple[str, str, int], bool] = {}
        self._changes: dict[int, list[tuple[int, bytes, str, bool]]] = {}
        self._enrolled: dict[str, tuple[int, int]] = {}
        for item in found:
            self.feed(item)

    def feed(self, item: ChainEvent) -> None:
        """Take in the next event of the log (in chain order)."""
        args = item.event.args
        if item.event.name in ("RoleGranted", "RoleRevoked"):
            self._changes.setdefault(item.block_number, []).append(
                (
                    item.log_index,
                    bytes(args["role"]),
                    args["account"],
                    item.event.name == "RoleGranted",
                )
            )
        elif item.event.name == "ResidentEnrolled":
            self._enrolled.setdefault(args["resident"], (item.block_number, item.log_index))

    def forget_before(self, block: int) -> None:
        """Drop what only questions about blocks before ``block`` need (the chain's
        answers cached per block, the role changes of those blocks)."""
        self._cache = {k: v for k, v in self._cache.items() if k[2] >= block - 1}
        for number in [n for n in self._changes if n < block]:
            del self._changes[number]

    def holds(self, role: str, account: str, at: tuple[int, int]) -> bool:
        """Whether ``account`` held ``role`` before the log at (block, log index) ``at``."""
        block, position = at
        key = (role, account, block - 1)
        if key not in self._cache:
            self._cache[key] = self.client.has_role(role, account, block - 1)
        held = self._cache[key]
        wanted = role_id(role)
        for log_index, changed, holder, granted in self._changes.get(block, ()):
            if log_index < position and changed == wanted and holder == account:
                held = granted
        return held

    def enrolled(self, resident: str, at: tuple[int, int]) -> bool:
        """Whether ``resident`` was enrolled before the log at ``at``."""
        enrolled = self._enrolled.get(resident)
        return enrolled is not None and enrolled < at


def _authority_problem(
    authority: _Authority,
    intent: SignedIntent,
    signer: str,
    at: tuple[int, int],
    event: Event | None = None,
    delegations: Delegations | None = None,
    outcome: Outcome | None = None,
) -> str | None:
    """Why ``signer`` could not sign ``intent`` whose effect (``event``, of ``outcome``)
    is logged at ``at``, if so: a resident's intent signed by another must be a
    registrar's where the intent allows one, else a delegate's in force then."""
    spec = INTENTS[intent.name]
    if spec.signer_field:
        expected = intent.message[spec.signer_field]
        if signer != expected:
            if spec.co_signer_role and authority.holds(spec.co_signer_role, signer, at):
                return None
            if delegations is None or outcome is None:
                return f"{intent.name} signed by {signer}, names {expected}"
            problem = delegated_problem(
                spec,
                delegations,
                expected,
                signer,
                at,
                outcome.receipt.block_timestamp,
                outcome.extra_events,
            )
            if problem:
                return problem
    if event is not None and event.name == "AccessDenied":
        # A refusal grants nothing: a department whose role was revoked is refused this
        # way (not_granted), on the record like any other query.
        return None
    role = spec.role
    block = at[0]
    if role == "resident":
        if not authority.enrolled(signer, at):
            return f"{intent.name} signed by {signer}, not an enrolled resident at block {block}"
    elif not authority.holds(role, signer, at):
        return f"{intent.name} signed by {signer}, who was not {role} at block {block}"
    return None


# ---------------------------------------------------------------------- accesses


@dataclass
class _Consent:
    """A granted consent as the log goes: its terms, uses so far, when revoked."""

    terms: ConsentTerms
    uses: int = 0
    revoked_at: tuple[int, int] | None = None


def _check_accesses(found: Iterable[ChainEvent], report: AuditReport) -> None:
    check = _Accesses()
    check.feed(found)
    report.problems.extend(check.problems)


class _Accesses:
    """Check 3 as the log goes: each consent's terms, uses so far and revocation."""

    def __init__(self) -> None:
        self.known: dict[int, _Consent] = {}
        self.problems: list[AuditProblem] = []

    def feed(self, found: Iterable[ChainEvent]) -> None:
        known = self.known
        for item in found:
            args = item.event.args
            name = item.event.name
            if name == "ConsentGranted":
                known[int(args["consentId"])] = _Consent(ConsentTerms.from_event(args))
            elif name == "ConsentRevoked":
                consent = known.get(int(args["consentId"]))
                if consent is not None and consent.revoked_at is None:
                    consent.revoked_at = (item.block_number, item.log_index)
            elif name == "AccessLogged":
                consent = known.get(int(args["consentId"]))
                problem = _access_problem(consent, item)
                if problem:
                    self.problems.append(
                        AuditProblem("access_not_allowed", problem, item.receipt())
                    )
                if consent is not None:
                    consent.uses += 1


def _access_problem(consent: _Consent | None, item: ChainEvent) -> str | None:
    args = item.event.args
    consent_id = int(args["consentId"])
    if consent is None:
        return f"access under consent {consent_id}, which was never granted"
    terms = consent.terms
    if (args["resident"], args["department"]) != (terms.resident, terms.department):
        return f"access under consent {consent_id} by other parties"
    if bytes(args["purpose"]) != terms.purpose:
        return f"access under consent {consent_id} for another purpose"
    if consent.revoked_at is not None:
        return f"access under consent {consent_id} after its revocation"
    if not terms.valid_from <= item.block_timestamp < terms.valid_until:
        return f"access under consent {consent_id} outside its window"
    if not {bytes(f) for f in args["fields"]} <= set(terms.fields):
        return f"access under consent {consent_id} to fields outside its scope"
    if terms.max_uses and consent.uses >= terms.max_uses:
        return f"access under consent {consent_id} beyond its {terms.max_uses} uses"
    if int(args["use"]) != consent.uses + 1:
        expected = consent.uses + 1
        return f"access under consent {consent_id} counted as use {args['use']}, not {expected}"
    return None
