"""``verify``: the read model against the chain, every signature, every served access."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import Connection, delete, select, update

from ledger.audit import (
    AuditReport,
    ChainEvent,
    _Authority,
    _authority_problem,
    _check_accesses,
    chain_events,
    verify,
)
from ledger.chain.embedded import EmbeddedChain
from ledger.indexer import Indexer
from ledger.store import Store, access_requests, consents, events, residents
from ledger.types import Event
from ledger.vocabulary import role_id
from tests.conftest import System, b32, build_system, fields
from tests.ledger.test_indexer import Story, run_story

embedded_only = pytest.mark.parametrize("any_chain", ["embedded"], indirect=True)


def indexed_story(system: System) -> tuple[Store, Indexer, Story, int]:
    store = Store("sqlite://")
    indexer = Indexer(system.client, store)
    story = run_story(system)
    head = indexer.catch_up()
    return store, indexer, story, head


def event_row(c: Connection, name: str, nth: int = 0) -> dict[str, Any]:
    rows = (
        c.execute(
            select(events)
            .where(events.c.name == name)
            .order_by(events.c.block_number, events.c.log_index)
        )
        .mappings()
        .all()
    )
    return dict(rows[nth])


def receipt_of(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tx_hash": row["tx_hash"],
        "block_number": row["block_number"],
        "log_index": row["log_index"],
        "block_timestamp": row["block_timestamp"],
    }


# ---------------------------------------------------------------------- clean


def test_verify_is_ok_after_a_story_and_counts_signatures(system: System) -> None:
    store, indexer, story, head = indexed_story(system)
    # A refused intent (its window already over) changes nothing and is not counted.
    now = system.now()
    (refused,) = system.submit(system.grant_intent(validFrom=now - 20, validUntil=now - 10))
    assert not refused.ok
    head = indexer.catch_up()

    report = verify(system.client, store, to_block=head)
    assert report.ok, [p.as_json() for p in report.problems]
    with store.connect() as c:
        stored = len(c.execute(select(events.c.block_number)).all())
    assert (
        report.events
        == stored
        == len(list(chain_events(system.client, system.client.deployment.block_number, head)))
    )
    # Set-up: 3 departments, 2 roles, 3 enrolments, 3 records; the story: a request,
    # a grant, 3 served or refused accesses... every accepted intent once.
    setup = 3 + 2 + 3 + 3
    assert report.signatures_verified == setup + len(story.events)


def test_a_role_granted_earlier_in_the_same_block_counts(system: System) -> None:
    """The relayer may put a role's grant and its first use in one block: the signer
    held the role before its transaction, though not at the block before."""
    registrar = Account.create()
    resident = Account.create()
    grant = system.sign(
        "GrantRole",
        system.admin,
        {"role": role_id("registrar"), "account": registrar.address, "fields": []},
    )
    enrol = system.enroll_intent(resident.address, signer=registrar)
    granted, enrolled = system.submit(grant, enrol)
    granted.unwrap(), enrolled.unwrap()
    if isinstance(system.chain, EmbeddedChain):
        assert granted.receipt.block_number == enrolled.receipt.block_number
    store = Store("sqlite://")
    head = Indexer(system.client, store).catch_up()
    report = verify(system.client, store, to_block=head)
    assert report.ok, [p.as_json() for p in report.problems]


@embedded_only
def test_signers_without_authority_are_named(system: System) -> None:
    head = int(system.chain.w3.eth.block_number)
    found = list(chain_events(system.client, system.client.deployment.block_number, head))
    authority = _Authority(system.client, found)
    at = (head + 1, 0)
    stranger = Account.create()

    enrol = system.enroll_intent(Account.create().address, signer=stranger)
    assert "was not registrar" in (_authority_problem(authority, enrol, stranger.address, at) or "")
    enrol = system.enroll_intent(Account.create().address)
    assert _authority_problem(authority, enrol, system.registrar.address, at) is None

    grant = system.grant_intent()
    problem = _authority_problem(authority, grant, stranger.address, at)
    assert problem and "names " + system.resident.address in problem
    assert _authority_problem(authority, grant, system.resident.address, at) is None
    outsider = system.sign(
        "Grant",
        stranger,
        {**system.grant_intent().message, "resident": stranger.address},
    )
    assert "not an enrolled resident" in (
        _authority_problem(authority, outsider, stranger.address, at) or ""
    )
    request = system.sign(
        "AccessRequest",
        stranger,
        {
            "department": stranger.address,
            "resident": system.resident.address,
            "fields": fields("income"),
            "purpose": b32("HOUSING"),
            "duration": 60,
        },
    )
    assert "was not department" in (
        _authority_problem(authority, request, stranger.address, at) or ""
    )


# ---------------------------------------------------------------------- tampering


def _edit_event_args(c: Connection) -> dict[str, Any]:
    row = event_row(c, "AccessLogged")
    args = json.loads(row["args"])
    args["use"] = 7
    c.execute(
        update(events)
        .where(events.c.block_number == row["block_number"], events.c.log_index == row["log_index"])
        .values(args=json.dumps(args))
    )
    return receipt_of(row)


def _edit_event_department(c: Connection) -> dict[str, Any]:
    row = event_row(c, "AccessDenied")
    c.execute(
        update(events)
        .where(events.c.block_number == row["block_number"], events.c.log_index == row["log_index"])
        .values(department=Account.create().address)
    )
    return receipt_of(row)


def _delete_event(c: Connection) -> dict[str, Any]:
    row = event_row(c, "ConsentRevoked")
    c.execute(
        delete(events).where(
            events.c.block_number == row["block_number"], events.c.log_index == row["log_index"]
        )
    )
    return receipt_of(row)


def _insert_event(c: Connection) -> dict[str, Any]:
    row = event_row(c, "AccessLogged", 1)
    fake = {**row, "log_index": 77, "tx_hash": "0x" + secrets.token_hex(32)}
    fake["args"] = json.dumps({**json.loads(row["args"]), "use": 3})
    c.execute(events.insert().values(**fake))
    return receipt_of(fake)


def _consent(c: Connection) -> dict[str, Any]:
    return dict(c.execute(select(consents)).mappings().one())


def _consent_receipt(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tx_hash": row["tx_hash"],
        "block_number": row["block_number"],
        "log_index": row["log_index"],
        "block_timestamp": row["granted_at"],
    }


def _edit_consent_uses(c: Connection) -> dict[str, Any]:
    row = _consent(c)
    c.execute(update(consents).values(uses=1))
    return _consent_receipt(row)


def _unrevoke_consent(c: Connection) -> dict[str, Any]:
    row = _consent(c)
    c.execute(update(consents).values(revoked=False, revoked_at=None))
    return _consent_receipt(row)


def _widen_window(c: Connection) -> dict[str, Any]:
    row = _consent(c)
    c.execute(
        update(consents).values(
            valid_from=row["valid_from"] - 86400, valid_until=row["valid_until"] + 365 * 86400
        )
    )
    return _consent_receipt(row)


def _delete_consent(c: Connection) -> dict[str, Any]:
    row = _consent(c)
    c.execute(delete(consents))
    return _consent_receipt(row)


def _insert_consent(c: Connection) -> None:
    row = _consent(c)
    c.execute(consents.insert().values(**{**row, "consent_id": 42}))


def _delete_request(c: Connection) -> None:
    c.execute(delete(access_requests))


def _edit_resident(c: Connection) -> dict[str, Any]:
    row = dict(c.execute(select(residents).order_by(residents.c.address)).mappings().first() or {})
    c.execute(
        update(residents)
        .where(residents.c.address == row["address"])
        .values(id_commitment="0x" + "11" * 32)
    )
    return {"block_number": row["enrolled_block"]}


TAMPERING: dict[str, tuple[Callable[[Connection], dict[str, Any] | None], str, str]] = {
    "edit event args": (_edit_event_args, "event_altered", "args"),
    "edit event column": (_edit_event_department, "event_altered", "department"),
    "delete event": (_delete_event, "event_missing", "ConsentRevoked"),
    "insert event": (_insert_event, "event_not_on_chain", "AccessLogged"),
    "edit consent uses": (_edit_consent_uses, "consents_altered", "uses"),
    "un-revoke consent": (_unrevoke_consent, "consents_altered", "revoked, revoked_at"),
    "widen consent window": (_widen_window, "consents_altered", "valid_from, valid_until"),
    "delete consent": (_delete_consent, "consents_missing", "is missing"),
    "insert consent": (_insert_consent, "consents_not_on_chain", "(42,)"),
    "delete request": (_delete_request, "access_requests_missing", "is missing"),
    "edit resident": (_edit_resident, "residents_altered", "id_commitment"),
}


@dataclass
class Audited:
    """One story on one embedded chain for all the tampering cases of this module."""

    system: System
    store: Store
    indexer: Indexer
    head: int
    clean: AuditReport


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    path = tmp_path_factory.mktemp("audit") / "chain.sqlite3"
    with EmbeddedChain(path, block_period=0) as chain:
        system = build_system(chain)
        store, indexer, _story, head = indexed_story(system)
        clean = verify(system.client, store, to_block=head)
        assert clean.ok, [p.as_json() for p in clean.problems]
        yield Audited(system, store, indexer, head, clean)
        store.close()


@pytest.fixture
def tampered(audited: Audited) -> Iterator[Audited]:
    """The module's story, its read model derived afresh after each test."""
    yield audited
    audited.indexer.rebuild()


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_with_the_read_model_is_detected(tampered: Audited, case: str) -> None:
    system, store, head = tampered.system, tampered.store, tampered.head
    tamper, kind, mentioned = TAMPERING[case]
    with store.begin() as c:
        receipt = tamper(c)

    report = verify(system.client, store, to_block=head)
    assert not report.ok
    assert [p.kind for p in report.problems] == [kind], [p.as_json() for p in report.problems]
    (problem,) = report.problems
    assert mentioned in problem.detail
    if receipt is not None:
        assert problem.receipt == receipt
    # The chain is untouched: every event, signature and access still checks out.
    assert report.events == tampered.clean.events
    assert report.signatures_verified == tampered.clean.signatures_verified


def test_a_rebuild_repairs_the_read_model(tampered: Audited) -> None:
    with tampered.store.begin() as c:
        _edit_event_args(c)
        _widen_window(c)
    assert not verify(tampered.system.client, tampered.store, to_block=tampered.head).ok
    tampered.indexer.rebuild()
    assert verify(tampered.system.client, tampered.store, to_block=tampered.head).ok


def test_every_kind_of_tampering_at_once_is_reported(tampered: Audited) -> None:
    system, store, head = tampered.system, tampered.store, tampered.head
    with store.begin() as c:
        for tamper, *_ in TAMPERING.values():
            if tamper not in (_delete_consent, _delete_event):  # they hide other edits
                tamper(c)
    kinds = {p.kind for p in verify(system.client, store, to_block=head).problems}
    assert kinds == {
        "event_altered",
        "event_not_on_chain",
        "consents_altered",
        "consents_not_on_chain",
        "access_requests_missing",
        "residents_altered",
    }


# ---------------------------------------------------------------------- accesses


DEPT, RESIDENT, OTHER = (Account.create().address for _ in range(3))
FROM, UNTIL = 1_000, 2_000


def _item(name: str, block: int, timestamp: int, **args: Any) -> ChainEvent:
    return ChainEvent(Event(name, args, "0x" + "00" * 20, 0), block, 0, "0x" + "ab" * 32, timestamp)


def _granted(max_uses: int = 0) -> ChainEvent:
    return _item(
        "ConsentGranted",
        1,
        FROM,
        consentId=1,
        resident=RESIDENT,
        department=DEPT,
        fields=fields("income", "name"),
        purpose=b32("HOUSING"),
        validFrom=FROM,
        validUntil=UNTIL,
        maxUses=max_uses,
        requestId=b"\0" * 32,
    )


def _logged(block: int, timestamp: int, use: int, **overrides: Any) -> ChainEvent:
    args = {
        "consentId": 1,
        "resident": RESIDENT,
        "department": DEPT,
        "fields": fields("income"),
        "purpose": b32("HOUSING"),
        "use": use,
        **overrides,
    }
    return _item("AccessLogged", block, timestamp, **args)


def _revoked(block: int) -> ChainEvent:
    return _item(
        "ConsentRevoked", block, FROM + 10, consentId=1, resident=RESIDENT, department=DEPT
    )


ACCESS_CASES: dict[str, tuple[list[ChainEvent], str | None]] = {
    "inside": ([_granted(2), _logged(2, FROM, 1), _logged(3, UNTIL - 1, 2)], None),
    "after revocation": (
        [_granted(), _logged(2, FROM, 1), _revoked(3), _logged(4, FROM + 20, 2)],
        "after its revocation",
    ),
    "before the window": ([_granted(), _logged(2, FROM - 1, 1)], "outside its window"),
    "at the window's end": ([_granted(), _logged(2, UNTIL, 1)], "outside its window"),
    "out of scope": (
        [_granted(), _logged(2, FROM, 1, fields=fields("phone"))],
        "outside its scope",
    ),
    "beyond max uses": (
        [_granted(1), _logged(2, FROM, 1), _logged(3, FROM + 1, 2)],
        "beyond its 1 uses",
    ),
    "other department": ([_granted(), _logged(2, FROM, 1, department=OTHER)], "by other parties"),
    "other resident": ([_granted(), _logged(2, FROM, 1, resident=OTHER)], "by other parties"),
    "other purpose": (
        [_granted(), _logged(2, FROM, 1, purpose=b32("TAXATION"))],
        "another purpose",
    ),
    "never granted": ([_logged(2, FROM, 1)], "never granted"),
    "miscounted use": ([_granted(), _logged(2, FROM, 2)], "counted as use 2"),
}


@pytest.mark.parametrize("case", list(ACCESS_CASES))
def test_every_served_access_is_checked_against_its_consent(case: str) -> None:
    found, expected = ACCESS_CASES[case]
    report = AuditReport()
    _check_accesses(found, report)
    if expected is None:
        assert report.ok
        return
    (problem,) = report.problems
    assert problem.kind == "access_not_allowed"
    assert expected in problem.detail
    assert problem.receipt == found[-1].receipt()
