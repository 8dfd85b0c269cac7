"""The relayer against a real chain and store, without the HTTP layer: order under load,
what it refuses before relaying (and that nothing was sent), its journal and crash
recovery, and rounds that were mined while the database could not follow.

Database failures are real: a SQLite trigger makes a table refuse writes, as a full
disk or a read-only replica would, and dropping it restores the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_account import Account
from sqlalchemy import select

from api.vault import apply_side_effects
from ledger import contract_errors as ce
from ledger.admission import MAX_DEADLINE_AHEAD, MAX_FIELDS
from ledger.chain import Chain
from ledger.chain.embedded import EmbeddedChain
from ledger.codec import dumps
from ledger.errors import (
    LedgerError,
    ReadModelUnavailable,
    RelayerBusy,
    TooManyFields,
)
from ledger.indexer import Indexer
from ledger.relayer import Relayer
from ledger.store import Store, consents, envelopes, journal, wrapped_keys
from ledger.types import BatchTx, ConsentTerms, Outcome, SignedIntent
from ledger.vocabulary import bytes32_to_name
from tests.conftest import System, b32, build_system
from tests.contracts.helpers import (
    admin_signer,
    commit_intent,
    register_intent,
    request_intent,
    revoke_intent,
    role_intent,
)

E = TypeVar("E", bound=Exception)
KEY = "0x" + "ab" * 80


def grant_effects(*names: str, version: int = 1) -> dict[str, Any]:
    return {"kind": "grant", "version": version, "wrapped_keys": {n: KEY for n in names}}


@dataclass
class Rig:
    system: System
    store: Store
    indexer: Indexer
    relayer: Relayer

    @property
    def chain(self) -> Chain:
        return self.system.chain

    def sent(self) -> tuple[int, int]:
        """Head block and the relayer account's transaction count: what a send moves."""
        w3 = self.chain.w3
        return self.chain.head_number(), w3.eth.get_transaction_count(self.system.relayer.address)

    def journal(self) -> list[dict[str, Any]]:
        with self.store.connect() as c:
            rows = c.execute(select(journal).order_by(journal.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def states(self) -> list[str]:
        return [r["state"] for r in self.journal()]

    def rows(self, table: Any) -> list[dict[str, Any]]:
        with self.store.connect() as c:
            return [dict(r) for r in c.execute(select(table)).mappings().all()]

    def make_unwritable(self, table: str, statement: str = "INSERT") -> None:
        with self.store.begin() as c:
            c.exec_driver_sql(
                f"CREATE TRIGGER refuse_{table} BEFORE {statement} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{table} is read-only'); END"
            )

    def restore(self, table: str) -> None:
        with self.store.begin() as c:
            c.exec_driver_sql(f"DROP TRIGGER refuse_{table}")

    def new_relayer(self, **kw: Any) -> Relayer:
        return Relayer(self.system.client, self.store, self.indexer, apply=apply_side_effects, **kw)


def make_rig(system: System, tmp_path: Path, *, start: bool = True) -> Iterator[Rig]:
    store = Store(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    indexer = Indexer(system.client, store)
    indexer.catch_up()
    relayer = Relayer(system.client, store, indexer, apply=apply_side_effects, retry_interval=0.05)
    if start:
        relayer.start()
    try:
        yield Rig(system, store, indexer, relayer)
    finally:
        relayer.stop()
        store.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[System]:
    with EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0) as chain:
        yield build_system(chain)


@pytest.fixture
def rig(embedded: System, tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(embedded, tmp_path)


@pytest.fixture
def stopped(embedded: System, tmp_path: Path) -> Iterator[Rig]:
    """A rig whose relayer has not started: the state a crash left, before the restart."""
    yield from make_rig(embedded, tmp_path, start=False)


@pytest.fixture
def any_rig(system: System, tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(system, tmp_path)


def refused(rig: Rig, intent: SignedIntent, error: type[E], **arguments: Any) -> E:
    """``intent`` is refused with ``error`` (and these arguments) and nothing is sent."""
    before = rig.sent()
    with pytest.raises(error) as info:
        rig.relayer.submit(intent)
    assert rig.sent() == before, "a refused intent must not reach the chain"
    for name, value in arguments.items():
        assert getattr(info.value, name) == value, (name, info.value)
    return info.value


def reason(outcome: Outcome) -> str | None:
    """The denial reason of an access outcome, ``None`` if it was served."""
    event = outcome.unwrap()
    if event.name == "AccessLogged":
        return None
    assert event.name == "AccessDenied"
    return bytes32_to_name(event.args["reason"])


# ---------------------------------------------------------------- order


def test_queries_given_after_a_revocation_are_recorded_after_it(system: System) -> None:
    consent_id, terms = system.grant()
    before = [system.access_intent(consent_id, terms) for _ in range(100)]
    revoke = revoke_intent(system, consent_id, terms)
    after = [system.access_intent(consent_id, terms) for _ in range(100)]

    outcomes = system.submit(*before, revoke, *after)

    assert [reason(o) for o in outcomes[:100]] == [None] * 100
    assert outcomes[100].unwrap().name == "ConsentRevoked"
    assert [reason(o) for o in outcomes[101:]] == ["revoked"] * 100
    assert system.client.consent_state(consent_id).uses == 100

    # on the chain too: every served query is recorded before the revocation, every
    # refused one after it (log positions, numbered per block)
    def at(o: Outcome) -> tuple[int, int]:
        return o.receipt.block_number, o.receipt.log_index or 0

    assert max(at(o) for o in outcomes[:100]) < at(outcomes[100]) < min(map(at, outcomes[101:]))
    # still batched: queries, revocation, queries (one block, if its gas allows)
    transactions = {o.receipt.tx_hash for o in outcomes}
    if int(system.chain.w3.eth.get_block("latest")["gasLimit"]) >= 50_000_000:
        assert len(transactions) == 3
        assert len({o.receipt.block_number for o in outcomes}) == 1
    assert len({o.receipt.tx_hash for o in outcomes[:100]}) <= 2


def test_intents_that_commute_still_go_one_batch_per_type(embedded: System) -> None:
    system = embedded
    people = [Account.create() for _ in range(20)]
    for outcome in system.submit(*(system.enroll_intent(p.address) for p in people)):
        outcome.unwrap()
    consent_id, terms = system.grant()
    mixed: list[SignedIntent] = []
    for person in people:
        mixed.append(system.grant_intent(resident=person))
        mixed.append(system.access_intent(consent_id, terms))

    outcomes = system.submit(*mixed)

    assert all(o.ok for o in outcomes)
    assert len({o.receipt.tx_hash for o in outcomes[0::2]}) == 1
    assert len({o.receipt.tx_hash for o in outcomes[1::2]}) == 1
    assert system.client.consent_state(consent_id).uses == 20


def test_a_department_registered_mid_round_can_file_right_after(embedded: System) -> None:
    system = embedded
    newcomer = Account.create()
    first = request_intent(system)
    register = register_intent(system, newcomer.address)
    second = request_intent(system, department=newcomer)

    outcomes = system.submit(first, register, second)

    # grouped by type, the second request ran before the registration and was refused
    assert [o.unwrap().name for o in outcomes] == [
        "AccessRequested",
        "DepartmentRegistered",
        "AccessRequested",
    ]


def test_a_revocation_amid_200_concurrent_queries_in_one_round(any_rig: Rig) -> None:
    rig, system = any_rig, any_rig.system
    granted = rig.relayer.submit(system.grant_intent(), grant_effects("income", "name"))
    consent_id = int(granted.unwrap().args["consentId"])
    terms = ConsentTerms.from_event(granted.unwrap().args)
    before = [system.access_intent(consent_id, terms) for _ in range(100)]
    revoke = revoke_intent(system, consent_id, terms)
    after = [system.access_intent(consent_id, terms) for _ in range(100)]
    embedded = isinstance(rig.chain, EmbeddedChain)
    if embedded:  # the round gathers everything that arrives within one block period
        rig.chain.block_period = 3  # type: ignore[attr-defined]

    with ThreadPoolExecutor(100) as pool:
        early = list(pool.map(rig.relayer.enqueue, before))
        revoked = rig.relayer.enqueue(revoke)
        late = list(pool.map(rig.relayer.enqueue, after))
    outcomes = [f.result(60) for f in early] + [revoked.result(60)] + [f.result(60) for f in late]

    assert [reason(o) for o in outcomes[:100]] == [None] * 100
    assert outcomes[100].unwrap().name == "ConsentRevoked"
    assert [reason(o) for o in outcomes[101:]] == ["revoked"] * 100
    # the journal holds the order they were accepted in
    accepted = [json.loads(r["body"])["message"]["nonce"] for r in rig.journal()[1:]]
    nonces = [int(i.message["nonce"]) for i in (*before, revoke, *after)]
    assert sorted(accepted[:100]) == sorted(nonces[:100])
    assert accepted[100] == nonces[100]
    if embedded:
        assert len({o.receipt.block_number for o in outcomes}) == 1, "one round"
        assert len({o.receipt.tx_hash for o in outcomes}) == 3


def test_submit_all_records_a_batch_in_one_round_in_order_each_answered_on_its_own(
    rig: Rig,
) -> None:
    system = rig.system
    granted = rig.relayer.submit(system.grant_intent(), grant_effects("income", "name"))
    consent_id = int(granted.unwrap().args["consentId"])
    terms = ConsentTerms.from_event(granted.unwrap().args)
    stranger = Account.create()
    before = [system.access_intent(consent_id, terms) for _ in range(50)]
    after = [system.access_intent(consent_id, terms) for _ in range(50)]
    intents = [
        *before,
        system.access_intent(consent_id, terms, department=stranger),  # refused at once
        before[0],  # its nonce is in flight: refused as a replay
        revoke_intent(system, consent_id, terms),
        *after,
    ]
    head, _ = rig.sent()

    answers = rig.relayer.submit_all(intents)

    assert len(answers) == len(intents)
    served = [reason(a.outcome) for a in answers[:50] if a.outcome is not None]
    assert served == [None] * 50
    assert isinstance(answers[50].error, ce.ConsentLedgerUnknownDepartment)
    assert isinstance(answers[51].error, ce.SignedIntentNonceUsed)
    assert (answers[50].acceptance, answers[51].acceptance) == (None, None)
    assert answers[52].outcome is not None and answers[52].outcome.unwrap().name == "ConsentRevoked"
    assert [reason(a.outcome) for a in answers[53:] if a.outcome] == ["revoked"] * 50
    mined = [a for a in answers if a.outcome is not None]
    assert len(mined) == 101 and all(a.acceptance is not None for a in mined)
    journal_ids = [a.acceptance.journal_id for a in mined if a.acceptance is not None]
    assert journal_ids == sorted(journal_ids), "accepted in the order given"
    assert {a.outcome.receipt.block_number for a in mined if a.outcome} == {head + 1}
    assert system.client.consent_state(consent_id).uses == 50


# ---------------------------------------------------------------- refused before relaying


def test_signers_without_the_department_role_are_refused(rig: Rig) -> None:
    system = rig.system
    consent_id, terms = system.grant()
    stranger = Account.create()
    query = system.access_intent(consent_id, terms, department=stranger)
    refused(rig, query, ce.ConsentLedgerUnknownDepartment, department=stranger.address)
    request = request_intent(system, department=stranger)
    refused(rig, request, ce.ConsentLedgerUnknownDepartment, department=stranger.address)
    grant = system.grant_intent(department=stranger)
    refused(rig, grant, ce.ConsentLedgerUnknownDepartment, department=stranger.address)
    # a suspended department may not file; its queries are judged on chain
    system.client.set_department_active(admin_signer(system), system.dept.address, False)
    refused(
        rig,
        request_intent(system),
        ce.ConsentLedgerInactiveDepartment,
        department=system.dept.address,
    )
    assert reason(rig.relayer.submit(system.access_intent(consent_id, terms))) == "not_granted"


def test_residents_who_are_not_enrolled_are_refused(rig: Rig) -> None:
    system = rig.system
    stranger = Account.create()
    for intent in (
        commit_intent(system, stranger, 1),
        system.grant_intent(resident=stranger),
        request_intent(system, resident=stranger),
    ):
        refused(rig, intent, ce.ConsentLedgerUnknownResident, resident=stranger.address)


NOT_A_NAME = b"\xff" * 32


@pytest.mark.parametrize(
    "case",
    [
        "grant field not defined",
        "grant field not a name",
        "grant purpose not defined",
        "request field not defined",
        "request purpose not a name",
        "query field not defined",
        "query field not a name, unknown consent",
        "issuer role for a field not defined",
    ],
)
def test_field_ids_and_purposes_off_the_schema_are_refused(rig: Rig, case: str) -> None:
    system = rig.system
    consent_id, terms = system.grant()
    undefined = b32("shoe_size")
    both = sorted([b32("income"), undefined])
    odd = sorted([b32("income"), NOT_A_NAME])
    intent, error, arguments = {
        "grant field not defined": (
            lambda: system.grant_intent(fields=both),
            ce.ConsentDirectoryUnknownField,
            {"field": undefined},
        ),
        "grant field not a name": (
            lambda: system.grant_intent(fields=odd),
            ce.ConsentDirectoryUnknownField,
            {"field": NOT_A_NAME},
        ),
        "grant purpose not defined": (
            lambda: system.grant_intent(purpose=b32("GAMBLING")),
            ce.ConsentDirectoryUnknownPurpose,
            {"purpose": b32("GAMBLING")},
        ),
        "request field not defined": (
            lambda: request_intent(system, fields=both),
            ce.ConsentDirectoryUnknownField,
            {"field": undefined},
        ),
        "request purpose not a name": (
            lambda: request_intent(system, purpose=NOT_A_NAME),
            ce.ConsentDirectoryUnknownPurpose,
            {"purpose": NOT_A_NAME},
        ),
        "query field not defined": (
            lambda: system.access_intent(consent_id, terms, names=("income", "shoe_size")),
            ce.ConsentDirectoryUnknownField,
            {"field": undefined},
        ),
        "query field not a name, unknown consent": (
            lambda: system.sign(
                "Access",
                system.dept,
                {
                    "department": system.dept.address,
                    "resident": system.resident.address,
                    "consentId": 999_999,
                    "fields": [NOT_A_NAME],
                },
                ConsentTerms.empty(),
            ),
            ce.ConsentDirectoryUnknownField,
            {"field": NOT_A_NAME},
        ),
        "issuer role for a field not defined": (
            lambda: role_intent(system, "issuer", Account.create().address, both),
            ce.ConsentDirectoryUnknownField,
            {"field": undefined},
        ),
    }[case]
    refused(rig, intent(), error, **arguments)


def test_a_known_field_outside_the_consent_is_judged_on_chain(rig: Rig) -> None:
    system = rig.system
    consent_id, terms = system.grant(names=("income",))
    before = rig.sent()
    outcome = rig.relayer.submit(system.access_intent(consent_id, terms, names=("phone",)))
    assert reason(outcome) == "field_not_in_scope"
    assert rig.sent() != before


def test_a_field_defined_in_a_new_block_counts_from_that_block(rig: Rig) -> None:
    system = rig.system
    names = ("income", "shoe_size")
    refused(rig, system.grant_intent(names=names), ce.ConsentDirectoryUnknownField)
    system.client.define_fields(admin_signer(system), [b32("shoe_size")])
    outcome = rig.relayer.submit(system.grant_intent(names=names), grant_effects(*names))
    assert outcome.unwrap().name == "ConsentGranted"


def test_deadlines_beyond_the_horizon_are_refused_as_the_contract_refuses_them(
    rig: Rig,
) -> None:
    system = rig.system
    for contract in ("ConsentDirectory", "ConsentLedger"):
        assert system.client.simulate(contract, "MAX_DEADLINE_AHEAD") == MAX_DEADLINE_AHEAD
    now = system.now()
    for deadline in (now + MAX_DEADLINE_AHEAD + 60, 2**256 - 1):
        error = refused(rig, system.grant_intent(deadline=deadline), ce.SignedIntentDeadlineTooFar)
        assert error.deadline == deadline and error.latest >= now + MAX_DEADLINE_AHEAD
    within = system.grant_intent(deadline=now + MAX_DEADLINE_AHEAD - 60)
    assert rig.relayer.submit(within, grant_effects("income", "name")).ok


def test_field_lists_over_the_bound_are_refused(rig: Rig) -> None:
    system = rig.system
    consent_id, terms = system.grant()
    many = [b32(f"field_{i:03d}") for i in range(MAX_FIELDS + 1)]
    query = system.sign(
        "Access",
        system.dept,
        {
            "department": system.dept.address,
            "resident": system.resident.address,
            "consentId": consent_id,
            "fields": sorted(many),
        },
        terms,
    )
    refused(rig, query, TooManyFields, count=MAX_FIELDS + 1, limit=MAX_FIELDS)


def test_a_full_queue_answers_busy_and_queues_nothing(stopped: Rig) -> None:
    system = stopped.system
    relayer = stopped.new_relayer(max_queue=3)
    relayer.start()
    try:
        relayer.submit(system.grant_intent(), grant_effects("income", "name"))
        # the next round waits out a block period, and the queue fills meanwhile
        system.chain.block_period = 3  # type: ignore[attr-defined]
        waiting = [relayer.enqueue(system.grant_intent()) for _ in range(3)]
        with pytest.raises(RelayerBusy):
            relayer.enqueue(system.grant_intent())
        assert relayer.queue_depth == 3
        assert all(f.result(30).ok for f in waiting)
    finally:
        relayer.stop()


def test_storage_reads_agree_with_the_contract(rig: Rig) -> None:
    system = rig.system
    admission = rig.relayer.admission
    system.client.set_department_active(admin_signer(system), system.departments[1].address, False)
    stranger = Account.create().address
    for department in (*(d.address for d in system.departments), stranger):
        info = system.client.department(department)
        assert admission.department_status(department) == (info.registered, info.active)
    assert admission.department_status(system.departments[1].address) == (True, False)
    for resident in (*(r.address for r in system.residents), stranger):
        assert admission.is_enrolled(resident) == system.client.resident(resident).enrolled
    defined = set(system.client.fields())
    for field_id in (*defined, b32("shoe_size"), NOT_A_NAME):
        assert admission.is_field(field_id) == (field_id in defined)
    purposes = set(system.client.purposes())
    for purpose in (*purposes, b32("GAMBLING")):
        assert admission.is_purpose(purpose) == (purpose in purposes)


def test_nonce_reads_agree_with_the_contract_and_follow_the_head(rig: Rig) -> None:
    system = rig.system
    admission = rig.relayer.admission
    consent_id, terms = system.grant()
    dept = system.dept.address
    spent = (255, 256, 1_000)
    probes = (254, 255, 256, 257, 1_000, 1_001, 2**255)
    assert not any(admission.is_nonce_used("Access", dept, n) for n in probes)
    intents = [
        system.sign(
            "Access",
            system.dept,
            {
                "department": dept,
                "resident": system.resident.address,
                "consentId": consent_id,
                "fields": [b32("income")],
                "nonce": nonce,
            },
            terms,
        )
        for nonce in spent
    ]
    assert all(a.outcome is not None for a in rig.relayer.submit_all(intents))
    for nonce in probes:
        on_chain = system.client.simulate("ConsentLedger", "isNonceUsed", dept, nonce)
        assert admission.is_nonce_used("Access", dept, nonce) is on_chain is (nonce in spent)


# ---------------------------------------------------------------- the journal and recovery


def journal_queued(rig: Rig, intent: SignedIntent, effects: dict[str, Any]) -> int:
    """The journal entry the relayer writes when a round takes the intent."""
    with rig.store.begin() as c:
        result = c.execute(
            journal.insert().values(
                name=intent.name,
                body=dumps(intent.to_json()),
                side_effects=dumps(effects),
                state="queued",
                created_at=0,
            )
        )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


class Crash(Exception):
    """The process dies here."""


def send_journalled(rig: Rig, intent: SignedIntent, entry: int, *, crash: bool) -> None:
    """What a round does after journalling: mark the entry submitted with its
    transaction hash, then send (unless the process dies in between)."""

    def submitted(batches: list[BatchTx]) -> None:
        (batch,) = batches
        with rig.store.begin() as c:
            c.execute(
                journal.update()
                .where(journal.c.id == entry)
                .values(state="submitted", tx_hash=f"{batch.tx_hash}:0")
            )
        if crash:
            raise Crash

    if crash:
        with pytest.raises(Crash):
            rig.system.client.submit([intent], before_send=submitted)
    else:
        rig.system.client.submit([intent], before_send=submitted)


def test_recovery_settles_mined_entries_and_drops_unsent_ones(stopped: Rig) -> None:
    rig, system = stopped, stopped.system
    never_sent = system.grant_intent(resident=system.residents[0])
    mined = system.grant_intent(resident=system.residents[1])
    not_mined = system.grant_intent(resident=system.residents[2])
    effects = grant_effects("income", "name")
    queued_id = journal_queued(rig, never_sent, effects)
    mined_id = journal_queued(rig, mined, effects)
    send_journalled(rig, mined, mined_id, crash=False)
    head = rig.sent()
    lost_id = journal_queued(rig, not_mined, effects)
    send_journalled(rig, not_mined, lost_id, crash=True)
    assert rig.sent() == head
    assert rig.states() == ["queued", "submitted", "submitted"]

    assert rig.relayer.recover() == 3

    assert rig.states() == ["lost", "done", "lost"]
    (consent,) = [c for c in rig.rows(consents) if c["resident"] == system.residents[1].address]
    keys = [k for k in rig.rows(wrapped_keys) if k["consent_id"] == consent["consent_id"]]
    assert sorted(k["field"] for k in keys) == ["income", "name"]
    for intent in (never_sent, not_mined):
        resident = intent.message["resident"]
        assert not system.client.is_nonce_used("Grant", resident, intent.message["nonce"])
    assert queued_id < mined_id < lost_id


def test_recovery_touches_only_its_own_journal_entries(stopped: Rig) -> None:
    """Instances sharing one database: a relayer starting up must not mark another
    relayer's entries lost (that one may be mid-round with them). Entries of an older
    layout, naming no relayer, are claimed by the first to recover."""
    rig, system = stopped, stopped.system
    effects = grant_effects("income")
    other = Account.create().address
    mine = journal_queued(rig, system.grant_intent(resident=system.residents[0]), effects)
    theirs = journal_queued(rig, system.grant_intent(resident=system.residents[1]), effects)
    unowned = journal_queued(rig, system.grant_intent(resident=system.residents[2]), effects)
    with rig.store.begin() as c:
        own = system.client.relayer.address
        c.execute(journal.update().where(journal.c.id == mine).values(relayer=own))
        c.execute(journal.update().where(journal.c.id == theirs).values(relayer=other))

    assert rig.relayer.recover() == 2

    by_id = {row["id"]: (row["state"], row["relayer"]) for row in rig.journal()}
    assert by_id == {mine: ("lost", own), theirs: ("queued", other), unowned: ("lost", own)}
    # and the relayer's own rounds say whose they are
    rig.relayer.start()
    rig.relayer.submit(system.grant_intent(resident=system.residents[0]), effects)
    assert rig.journal()[-1]["relayer"] == own
    assert rig.journal()[-1]["state"] == "done"


def test_recovery_while_the_indexer_fails_waits_and_settles_without_a_restart(
    stopped: Rig,
) -> None:
    rig, system = stopped, stopped.system
    record = commit_intent(system, system.resident, 2)
    effects = {
        "kind": "record",
        "resident": system.resident.address,
        "version": 2,
        "fields": {"income": {"ciphertext": "0x01", "nonce": "0x02", "owner_wrapped_key": KEY}},
    }
    entry = journal_queued(rig, record, effects)
    send_journalled(rig, record, entry, crash=False)
    rig.make_unwritable("events")
    relayer = rig.new_relayer(retry_interval=0.05)
    relayer.start()  # must not fail: the loop settles once the indexer can write
    try:
        assert relayer.unsettled == 1
        assert rig.states() == ["submitted"]
        rig.restore("events")
        assert relayer.wait_settled(30)
        assert rig.states() == ["done"]
        (row,) = rig.rows(envelopes)
        assert (row["resident"], row["version"], row["field"]) == (
            system.resident.address,
            2,
            "income",
        )
    finally:
        relayer.stop()


# ---------------------------------------------------------------- mined, then the database failed


def test_a_round_the_indexer_cannot_record_answers_503_and_settles_later(rig: Rig) -> None:
    system = rig.system
    count = system.client.consent_count()
    rig.make_unwritable("events")
    with pytest.raises(ReadModelUnavailable, match="recorded on chain"):
        rig.relayer.submit(system.grant_intent(), grant_effects("income", "name"))
    assert system.client.consent_count() == count + 1  # on chain
    assert rig.indexer.failure is not None
    assert rig.states()[-1] == "submitted"
    assert rig.rows(wrapped_keys) == []
    # while the read model cannot follow, writes are refused before relaying
    before = rig.sent()
    with pytest.raises(ReadModelUnavailable, match="cannot follow"):
        rig.relayer.submit(system.grant_intent(resident=system.residents[1]))
    assert rig.sent() == before

    rig.restore("events")
    assert rig.relayer.wait_settled(30)

    assert rig.indexer.failure is None
    assert rig.states()[-1] == "done"
    keys = rig.rows(wrapped_keys)
    assert {(k["consent_id"], k["field"]) for k in keys} == {
        (count + 1, "income"),
        (count + 1, "name"),
    }
    assert any(c["consent_id"] == count + 1 for c in rig.rows(consents))
    assert rig.relayer.submit(system.grant_intent(resident=system.residents[1])).ok


def test_a_round_whose_vault_rows_cannot_be_written_is_settled_by_a_later_round(
    rig: Rig,
) -> None:
    system = rig.system
    rig.relayer.retry_interval = 3600  # only a later round may settle it
    rig.make_unwritable("wrapped_keys")
    with pytest.raises(ReadModelUnavailable) as info:
        rig.relayer.submit(system.grant_intent(), grant_effects("income", "name"))
    assert isinstance(info.value, LedgerError)
    assert rig.indexer.failure is None
    assert rig.relayer.unsettled == 1
    (first,) = [r for r in rig.journal() if r["state"] == "submitted"]
    assert rig.rows(wrapped_keys) == []

    rig.restore("wrapped_keys")
    later = rig.relayer.submit(
        system.grant_intent(resident=system.residents[1]), grant_effects("income")
    )

    assert later.ok
    assert rig.relayer.unsettled == 0
    states = {r["id"]: r["state"] for r in rig.journal()}
    assert states[first["id"]] == "done"
    assert len(rig.rows(wrapped_keys)) == 3


def test_a_round_whose_journal_cannot_be_updated_marks_its_entries_lost_later(
    rig: Rig,
) -> None:
    """The database goes away between journalling a round and marking it sent: nothing
    is sent, and once the database is back the entries are closed without a restart
    (they stayed ``queued`` for good before)."""
    system = rig.system
    before = rig.sent()
    rig.make_unwritable("journal", "UPDATE")
    with pytest.raises(ReadModelUnavailable):
        rig.relayer.submit(system.grant_intent(), grant_effects("income"))
    assert rig.sent() == before
    assert rig.states()[-1] == "queued"
    assert rig.relayer.unsettled == 1

    rig.restore("journal")
    assert rig.relayer.wait_settled(30)

    assert rig.states()[-1] == "lost"
    assert rig.relayer.submit(system.grant_intent(), grant_effects("income")).ok
