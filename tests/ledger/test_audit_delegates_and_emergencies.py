"""``verify`` on delegated signatures and emergency accesses (issue 15, part 7): each
delegated signature against the delegation in force at its block; each emergency
access against role, directive and daily limit; review deadlines in chain time."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from ledger.audit import AuditReport, ChainEvent, chain_events, verify
from ledger.audit_delegation import Delegations, delegated_problem
from ledger.audit_emergency import emergency_problems
from ledger.indexer import Indexer
from ledger.intents import INTENTS, POWER_GRANT, POWER_REVOKE
from ledger.store import Store, events
from ledger.types import Event
from tests.conftest import System, b32, fields
from tests.contracts.helpers import (
    appoint_intent,
    directive_intent,
    emergency_intent,
    remove_delegate_intent,
    review_intent,
    role_intent,
)

DAY = 86_400


def audited(system: System) -> tuple[AuditReport, Store]:
    store = Store("sqlite://")
    head = Indexer(system.client, store).catch_up()
    return verify(system.client, store, to_block=head), store


def kinds(report: AuditReport) -> list[str]:
    return sorted(p.kind for p in report.problems)


def resign(system: System, name: str, signer: LocalAccount, **kw: object) -> None:
    intent = system.grant_intent(**kw)  # type: ignore[arg-type]
    system.one(system.sign(name, signer, intent.message))


@pytest.fixture
def ambulance(system: System) -> LocalAccount:
    department = system.departments[1]
    system.one(role_intent(system, "emergency", department.address, fields("health_summary")))
    system.one(directive_intent(system, department.address, ("health_summary",)))
    return department


@pytest.fixture
def auditor(system: System) -> LocalAccount:
    account = Account.create()
    system.one(role_intent(system, "auditor", account.address))
    return account


def test_a_delegated_grant_and_a_guardians_grant_verify_and_are_indexed_as_theirs(
    system: System,
) -> None:
    delegate, child = system.residents[1], system.residents[2]
    system.one(appoint_intent(system, delegate.address, POWER_GRANT))
    system.one(
        appoint_intent(
            system, delegate.address, POWER_GRANT, resident=child, signer=system.registrar
        )
    )
    resign(system, "Grant", delegate)
    resign(system, "Grant", delegate, resident=child)
    system.one(remove_delegate_intent(system, delegate.address))

    report, store = audited(system)

    assert report.ok, [p.as_json() for p in report.problems]
    with store.connect() as c:
        rows = c.execute(
            select(events.c.name, events.c.resident, events.c.signed_by)
            .where(events.c.name.in_(["DelegateSigned", "ConsentGranted"]))
            .order_by(events.c.block_number, events.c.log_index)
        ).all()
    by_delegate = [(n, r) for n, r, s in rows if s == delegate.address]
    assert by_delegate == [
        ("DelegateSigned", system.resident.address),
        ("ConsentGranted", system.resident.address),
        ("DelegateSigned", child.address),
        ("ConsentGranted", child.address),
    ]
    # the residents' own grants (made while building the system) carry no signer
    assert all(s is None for n, r, s in rows if (n, r) not in by_delegate)


def _found(system: System) -> list[ChainEvent]:
    return list(chain_events(system.client, 0, system.chain.w3.eth.block_number))


def test_a_delegated_signature_is_judged_by_the_delegation_at_its_block(system: System) -> None:
    delegate = system.residents[1]
    system.one(appoint_intent(system, delegate.address, POWER_GRANT | POWER_REVOKE, days=2))
    resign(system, "Grant", delegate)
    found = _found(system)
    granted = next(
        i
        for i in found
        if i.event.name == "ConsentGranted"
        and i.event.args["resident"] == system.resident.address
        and i.block_number == found[-1].block_number
    )
    marker = next(i for i in found if i.event.name == "DelegateSigned")
    at, stamp = (granted.block_number, granted.log_index), granted.block_timestamp
    spec, resident = INTENTS["Grant"], system.resident.address

    def problem(
        at: tuple[int, int] = at,
        stamp: int = stamp,
        logged: list[Event] | None = None,
        delegations: Delegations | None = None,
        power_of: str = "Grant",
    ) -> str | None:
        return delegated_problem(
            INTENTS[power_of],
            delegations or Delegations(found),
            resident,
            delegate.address,
            at,
            stamp,
            [marker.event] if logged is None else logged,
        )

    assert problem() is None
    assert "never appointed" in str(problem(at=(marker.block_number - 5, 0)))
    assert "ended" in str(problem(stamp=stamp + 3 * DAY))
    assert "logged no DelegateSigned" in str(problem(logged=[]))
    assert "lacks the commit power" in str(problem(power_of="CommitRecord"))
    removed = replace(
        marker,
        event=Event(
            "DelegateRemoved",
            {"resident": resident, "delegate": delegate.address},
            marker.event.address,
            0,
        ),
        log_index=marker.log_index - 1,
    )
    before = found.index(marker)
    assert "removed" in str(
        problem(delegations=Delegations([*found[:before], removed, *found[before:]]))
    )
    assert spec.delegate_power == POWER_GRANT


def test_an_emergency_access_reviewed_in_time_and_justified_verifies(
    system: System, ambulance: LocalAccount, auditor: LocalAccount
) -> None:
    system.one(emergency_intent(system, ambulance))
    system.one(review_intent(system, 1, "justified", auditor))
    system.chain.time_travel(4 * DAY)
    system.one(system.grant_intent())  # a block after the deadline
    report, _ = audited(system)
    assert report.ok, [p.as_json() for p in report.problems]


def test_an_unreviewed_emergency_access_is_overdue_only_after_its_deadline(
    system: System, ambulance: LocalAccount, auditor: LocalAccount
) -> None:
    event = system.one(emergency_intent(system, ambulance))
    report, _ = audited(system)
    assert report.ok

    system.chain.time_travel(3 * DAY + 60)
    system.one(system.grant_intent())
    report, _ = audited(system)
    assert kinds(report) == ["emergency_review_overdue"]
    (problem,) = report.problems
    assert problem.receipt is not None
    assert problem.receipt["log_index"] is not None
    assert str(event.args["reviewDue"]) in problem.detail

    system.one(review_intent(system, 1, "unjustified", auditor))
    report, _ = audited(system)
    assert kinds(report) == ["emergency_reviewed_late", "emergency_unjustified"]


def test_every_emergency_check_reports_an_altered_log(
    system: System, ambulance: LocalAccount
) -> None:
    system.one(emergency_intent(system, ambulance))
    found = _found(system)
    index = next(i for i, item in enumerate(found) if item.event.name == "EmergencyAccessed")
    access = found[index]
    now = access.block_timestamp

    def holds(role: str, account: str, at: tuple[int, int]) -> bool:
        return account == ambulance.address

    def altered(**args: object) -> list[str]:
        changed = replace(access, event=replace(access.event, args={**access.event.args, **args}))
        log = [*found[:index], changed, *found[index + 1 :]]
        return [kind for kind, _, _ in emergency_problems(log, holds, now)]

    assert altered() == []
    assert altered(department=system.dept.address) == ["emergency_access_not_allowed"]
    assert altered(fields=fields("phone")) == ["emergency_access_not_allowed"]
    assert altered(resident=system.residents[2].address) == ["emergency_access_not_allowed"]
    assert altered(reviewDue=now + 10) == ["emergency_access_not_allowed"]
    four = [*found, *(replace(access, log_index=access.log_index + n) for n in range(1, 4))]
    assert [k for k, _, _ in emergency_problems(four, holds, now)] == [
        "emergency_access_not_allowed"
    ]
    assert b32("health_summary") in access.event.args["fields"]
