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

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ledger.attestations import attestation_problems
from ledger.audit_bundles import bundle_problems
from ledger.audit_delegation import Delegations, delegated_problem
from ledger.audit_emergency import emergency_problems
from ledger.calldata import intents_from_call
from ledger.client import LedgerClient
from ledger.codec import to_hex
from ledger.errors import LedgerError
from ledger.indexer import DelegateMarks, derive, event_row
from ledger.intents import BY_FUNCTION, INTENTS
from ledger.journal_audit import journal_findings
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
_ADMIN_CALLS = {"defineFields", "definePurposes", "setDepartmentActive", "distrustIssuer"}
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


def verify(
    client: LedgerClient, store: Store, *, to_block: int, now: int | None = None
) -> AuditReport:
    """Check the read model, the signatures and the accesses up to ``to_block``, and the
    relayer's journal as of ``now`` (Unix seconds; default the clock)."""

    report = AuditReport()
    start = client.deployment.block_number
    found = list(chain_events(client, start, to_block))
    report.events = len(found)
    _check_read_model(client, store, found, to_block, report)
    carried: dict[str, list[SignedIntent] | None] = {}
    signed: dict[tuple[int, int], tuple[SignedIntent, str | None]] = {}
    authority = _Authority(client, found)
    _check_signatures(client, found, report, carried, signed, authority)
    _check_accesses(found, report)
    chain_now = client.chain.block_stamp(to_block)[1]
    for kind, detail, item in emergency_problems(found, authority.holds, chain_now):
        report.problems.append(AuditProblem(kind, detail, item.receipt()))
    for kind, detail, item in bundle_problems(found, signed):
        report.problems.append(AuditProblem(kind, detail, item.receipt()))
    for detail, item in attestation_problems(found):
        report.problems.append(AuditProblem("attestation_not_allowed", detail, item.receipt()))
    journalled = journal_findings(
        client, store, now=int(time.time()) if now is None else now, carried=carried
    )
    for detail, accepted in journalled.problems:
        report.problems.append(
            AuditProblem("accepted_intent_not_on_chain", detail, acceptance=accepted.as_json())
        )
    report.unacknowledged = [accepted.as_json() for accepted in journalled.unacknowledged]
    return report


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


def _check_read_model(
    client: LedgerClient,
    store: Store,
    found: list[ChainEvent],
    to_block: int,
    report: AuditReport,
) -> None:
    marks = DelegateMarks()  # fed in chain order, as the indexer feeds it
    expected = {(i.block_number, i.log_index): (_row_of(client, i, marks), i) for i in found}
    with store.connect() as c:
        stored = {
            (r["block_number"], r["log_index"]): dict(r)
            for r in c.execute(select(events).where(events.c.block_number <= to_block)).mappings()
        }
    for key, (row, item) in expected.items():
        have = stored.get(key)
        if have is None:
            report.problems.append(
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
            report.problems.append(
                AuditProblem(
                    "event_altered",
                    f"{row['name']}: stored {', '.join(differing)} differ from the chain",
                    item.receipt(),
                )
            )
    for key, have in stored.items():
        if key not in expected:
            report.problems.append(
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
    _check_derived(store, [expected[k][0] for k in sorted(expected)], report)


def _normal(column: str, value: Any) -> Any:
    if column == "args" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _check_derived(store: Store, rows: list[dict[str, Any]], report: AuditReport) -> None:
    fresh = Store("sqlite://")
    try:
        with fresh.begin() as c:
            derive(c, fresh, rows)
        for name, (table, key) in _DERIVED.items():
            with fresh.connect() as c:
                want = {
                    tuple(r[k] for k in key): dict(r) for r in c.execute(select(table)).mappings()
                }
            with store.connect() as c:
                have = {
                    tuple(r[k] for k in key): dict(r) for r in c.execute(select(table)).mappings()
                }
            for k in want.keys() - have.keys():
                report.problems.append(
                    AuditProblem(
                        f"{name}_missing", f"{name} row {k} is missing", _derived_receipt(want[k])
                    )
                )
            for k in have.keys() - want.keys():
                report.problems.append(
                    AuditProblem(f"{name}_not_on_chain", f"{name} row {k} has no chain event")
                )
            for k in want.keys() & have.keys():
                differing = sorted(col for col in want[k] if want[k][col] != have[k][col])
                if differing:
                    report.problems.append(
                        AuditProblem(
                            f"{name}_altered",
                            f"{name} row {k}: {', '.join(differing)} differ from the chain",
                            _derived_receipt(want[k]),
                        )
                    )
    finally:
        fresh.close()


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
    w3 = client.chain.w3
    by_tx: dict[str, list[ChainEvent]] = {}
    for item in found:
        by_tx.setdefault(item.tx_hash, []).append(item)
    authority = authority or _Authority(client, found)
    delegations = Delegations(found)
    for tx_hash, items in by_tx.items():
        first = (items[0].block_number, items[0].log_index)
        # By hash: the embedded chain keeps an index (eth-tester alone would walk back
        # from the head), and a node's block-with-transactions is not normalised alike.
        tx = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        if client.contract_name(tx["to"]) is None:
            continue  # deployment: constructor events (seeded schema, first roles)
        try:
            name, params = client.decode_call(tx["to"], bytes(tx["input"]))
        except ValueError:
            report.problems.append(
                AuditProblem(
                    "undecodable_call", f"{tx_hash} calls an unknown function", items[0].receipt()
                )
            )
            continue
        if name in _ADMIN_CALLS:
            if not authority.holds("admin", tx["from"], first):
                report.problems.append(
                    AuditProblem(
                        "unauthorized_admin_call",
                        f"{name} sent by {tx['from']}, not an admin",
                        items[0].receipt(),
                    )
                )
            continue
        spec = BY_FUNCTION.get(name)
        if spec is None:
            continue
        intent_name = spec.name
        intents = intents_from_call(intent_name, name, params)
        if carried is not None:
            carried[tx_hash] = intents
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
            report.problems.append(AuditProblem("unexplained_events", str(exc), items[0].receipt()))
            continue
        for intent, outcome in zip(intents, outcomes, strict=True):
            if not outcome.ok:
                continue  # refused on chain: changed nothing
            where = {**outcome.receipt.__dict__}
            log_index = outcome.receipt.log_index
            at = (outcome.receipt.block_number, first[1] if log_index is None else log_index)
            try:
                signer = client.recover_signer(intent)
            except LedgerError as exc:
                report.problems.append(
                    AuditProblem("bad_signature", f"{intent_name}: {exc}", where)
                )
                if signed is not None:
                    signed[at] = (intent, None)
                continue
            if signed is not None:
                signed[at] = (intent, signer)
            problem = _authority_problem(
                authority, intent, signer, at, outcome.event, delegations, outcome
            )
            if problem:
                report.problems.append(AuditProblem("unauthorized_signer", problem, where))
            else:
                report.signatures_verified += 1


class _Authority:
    """Who held a role, or was an enrolled resident, just before a given log.

    A role is held if the chain says so at the block before, as changed by the
    ``RoleGranted``/``RoleRevoked`` events earlier in the same block (the relayer may put
    a role's grant and its first use in one block). Enrolment comes from the
    ``ResidentEnrolled`` events, all of which ``found`` holds from the deployment on.
    """

    def __init__(self, client: LedgerClient, found: list[ChainEvent]) -> None:
        self.client = client
        self._cache: dict[tuple[str, str, int], bool] = {}
        self._changes: dict[int, list[tuple[int, bytes, str, bool]]] = {}
        self._enrolled: dict[str, tuple[int, int]] = {}
        for item in found:
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
    known: dict[int, _Consent] = {}
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
                report.problems.append(AuditProblem("access_not_allowed", problem, item.receipt()))
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
