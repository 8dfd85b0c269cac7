"""Emergency access (issue 15, part 2), on both chains: a directive names fields for one
department holding the emergency role; an emergency access is judged on chain (role,
directive, fields, a daily limit per resident) and always logged, served or refused; an
auditor reviews each one, late reviews marked late."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.contract_errors import (
    ConsentDelegatesMissingPower,
    ConsentDirectoryUnexpectedFields,
    ConsentDirectoryUnknownDepartment,
    ConsentDirectoryUnsortedFields,
    ConsentEmergencyAlreadyReviewed,
    ConsentEmergencyFieldNotAllowed,
    ConsentEmergencyInvalidOutcome,
    ConsentEmergencyInvalidValidity,
    ConsentEmergencyMissingJustification,
    ConsentEmergencyNotEmergencyDepartment,
    ConsentEmergencyUnauthorizedSigner,
    ConsentEmergencyUnknownAccess,
)
from ledger.intents import POWER_GRANT, POWER_REVOKE
from ledger.types import Event
from ledger.vocabulary import EMERGENCY_DAILY_LIMIT, EMERGENCY_REVIEW_PERIOD
from tests.conftest import System, b32, fields
from tests.contracts.helpers import (
    appoint_intent,
    directive_intent,
    emergency_intent,
    review_intent,
    revoke_role_intent,
    role_intent,
)

ROLE_FIELDS = ("birth_date", "health_summary", "phone")
DAY = 86_400


@pytest.fixture
def ambulance(system: System) -> LocalAccount:
    """A registered department the admin gives the emergency role, for three fields."""
    department = system.departments[1]
    system.one(role_intent(system, "emergency", department.address, fields(*ROLE_FIELDS)))
    return department


@pytest.fixture
def auditor(system: System) -> LocalAccount:
    account = Account.create()
    system.one(role_intent(system, "auditor", account.address))
    return account


def served(system: System, ambulance: LocalAccount, **kw: object) -> Event:
    return system.one(emergency_intent(system, ambulance, **kw))  # type: ignore[arg-type]


def test_the_emergency_role_carries_its_fields_and_only_a_department_gets_it(
    system: System, ambulance: LocalAccount
) -> None:
    assert "emergency" in system.client.roles(ambulance.address)
    got = system.client.simulate("ConsentDirectory", "emergencyFields", ambulance.address)
    assert got == fields(*ROLE_FIELDS)
    with pytest.raises(ConsentDirectoryUnknownDepartment):
        system.one(role_intent(system, "emergency", Account.create().address, fields("phone")))
    with pytest.raises(ConsentDirectoryUnsortedFields):
        system.one(role_intent(system, "emergency", ambulance.address, [b32("phone"), b32("name")]))
    with pytest.raises(ConsentDirectoryUnexpectedFields):
        system.one(role_intent(system, "auditor", Account.create().address, fields("phone")))


def test_a_directive_names_role_fields_for_an_emergency_department(
    system: System, ambulance: LocalAccount
) -> None:
    event = system.one(directive_intent(system, ambulance.address))
    assert event.name == "EmergencyDirectiveSet"
    assert event.args["fields"] == fields("health_summary", "phone")
    assert event.args["signer"] == system.resident.address
    (department, until, signer), listed = system.client.simulate(
        "ConsentEmergency", "directive", system.resident.address
    )
    assert (department, until, signer) == (
        ambulance.address,
        event.args["validUntil"],
        system.resident.address,
    )
    assert listed == fields("health_summary", "phone")


def test_a_directive_outside_the_rules_is_refused(system: System, ambulance: LocalAccount) -> None:
    with pytest.raises(ConsentEmergencyNotEmergencyDepartment):
        system.one(directive_intent(system, system.dept.address))
    with pytest.raises(ConsentEmergencyFieldNotAllowed) as refused:
        system.one(directive_intent(system, ambulance.address, ("income", "phone")))
    assert refused.value.args == (ambulance.address, b32("income"))
    with pytest.raises(ConsentEmergencyInvalidValidity):
        system.one(directive_intent(system, ambulance.address, validUntil=1))


def test_an_emergency_access_under_a_directive_is_served_with_a_review_deadline(
    system: System, ambulance: LocalAccount
) -> None:
    system.one(directive_intent(system, ambulance.address))
    event = served(system, ambulance, names=("health_summary", "phone"))
    stamp = system.now()
    assert event.name == "EmergencyAccessed"
    assert event.args == {
        "accessId": 1,
        "resident": system.resident.address,
        "department": ambulance.address,
        "fields": fields("health_summary", "phone"),
        "reason": b32("UNCONSCIOUS"),
        "justificationHash": b"\x42" * 32,
        "reviewDue": stamp + 3 * DAY,
    }
    record = system.client.simulate("ConsentEmergency", "emergencyRecord", 1)
    assert record[:4] == (ambulance.address, stamp, stamp + 3 * DAY, system.resident.address)


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("no directive", "no_directive"),
        ("no role", "no_emergency_role"),
        ("field outside the directive", "field_not_in_directive"),
        ("directive for another department", "no_directive"),
        ("directive expired", "directive_expired"),
        ("role revoked", "no_emergency_role"),
        ("directive withdrawn", "no_directive"),
    ],
)
def test_an_emergency_access_outside_a_directive_is_refused_and_logged(
    system: System, ambulance: LocalAccount, case: str, refusal: str
) -> None:
    reader, names = ambulance, ("health_summary",)
    if case != "no directive":
        system.one(directive_intent(system, ambulance.address, days=1))
    if case == "no role":
        reader = system.dept
    elif case == "field outside the directive":
        names = ("birth_date",)  # the role's, not the directive's
    elif case == "directive for another department":
        other = system.departments[2]
        system.one(role_intent(system, "emergency", other.address, fields("health_summary")))
        reader = other
    elif case == "directive expired":
        system.chain.time_travel(DAY + 60)
    elif case == "role revoked":
        system.one(revoke_role_intent(system, "emergency", ambulance.address))
        got = system.client.simulate("ConsentDirectory", "emergencyFields", ambulance.address)
        assert got == []
    elif case == "directive withdrawn":
        system.one(directive_intent(system, ambulance.address, names=()))
    event = served(system, reader, names=names)
    assert event.name == "EmergencyDenied"
    assert event.args["refusal"] == b32(refusal)
    assert event.args["department"] == reader.address
    assert system.client.simulate("ConsentEmergency", "accessCount") == 0


def test_past_the_daily_limit_accesses_are_refused_until_the_next_day(
    system: System, ambulance: LocalAccount
) -> None:
    system.one(directive_intent(system, ambulance.address))
    limit = system.client.simulate("ConsentEmergency", "DAILY_LIMIT")
    assert limit == 3
    # in one block, so all fall in one day however the clock stands
    outcomes = system.submit(*(emergency_intent(system, ambulance) for _ in range(limit + 1)))
    names = [o.unwrap().name for o in outcomes]
    assert names == ["EmergencyAccessed"] * limit + ["EmergencyDenied"]
    assert outcomes[-1].unwrap().args["refusal"] == b32("daily_limit")
    other = served(system, ambulance, resident=system.residents[1])
    assert other.args["refusal"] == b32("no_directive")  # the limit is per resident
    system.chain.time_travel(DAY)
    assert served(system, ambulance).name == "EmergencyAccessed"


def test_an_emergency_access_without_a_reason_or_justification_records_nothing(
    system: System, ambulance: LocalAccount
) -> None:
    system.one(directive_intent(system, ambulance.address))
    for override in ({"reason": b"\0" * 32}, {"justificationHash": b"\0" * 32}):
        with pytest.raises(ConsentEmergencyMissingJustification):
            system.one(emergency_intent(system, ambulance, **override))
    assert system.client.simulate("ConsentEmergency", "accessCount") == 0


def test_an_auditor_reviews_once_and_a_late_review_is_marked_late(
    system: System, ambulance: LocalAccount, auditor: LocalAccount
) -> None:
    system.one(directive_intent(system, ambulance.address))
    served(system, ambulance)
    served(system, ambulance)

    on_time = system.one(review_intent(system, 1, "justified", auditor))
    assert on_time.args == {
        "accessId": 1,
        "auditor": auditor.address,
        "outcome": b32("justified"),
        "notesHash": b"\x07" * 32,
        "late": False,
    }
    with pytest.raises(ConsentEmergencyAlreadyReviewed):
        system.one(review_intent(system, 1, "unjustified", auditor))

    system.chain.time_travel(3 * DAY + 60)
    late = system.one(review_intent(system, 2, "unjustified", auditor))
    assert (late.args["outcome"], late.args["late"]) == (b32("unjustified"), True)
    record = system.client.simulate("ConsentEmergency", "emergencyRecord", 2)
    assert (record[5], record[6]) == (b32("unjustified"), auditor.address)


def test_only_an_auditor_reviews_a_known_access_with_a_known_outcome(
    system: System, ambulance: LocalAccount, auditor: LocalAccount
) -> None:
    system.one(directive_intent(system, ambulance.address))
    served(system, ambulance)
    with pytest.raises(ConsentEmergencyUnauthorizedSigner):
        system.one(review_intent(system, 1, "justified", system.admin))
    with pytest.raises(ConsentEmergencyUnknownAccess):
        system.one(review_intent(system, 9, "justified", auditor))
    with pytest.raises(ConsentEmergencyInvalidOutcome):
        system.one(review_intent(system, 1, "fine", auditor))


def test_a_delegate_with_the_grant_power_leaves_a_directive_and_one_without_cannot(
    system: System, ambulance: LocalAccount
) -> None:
    delegate = system.residents[1]
    system.one(appoint_intent(system, delegate.address, POWER_REVOKE))
    with pytest.raises(ConsentDelegatesMissingPower):
        system.one(directive_intent(system, ambulance.address, signer=delegate))
    system.one(appoint_intent(system, delegate.address, POWER_GRANT))
    event = system.one(directive_intent(system, ambulance.address, signer=delegate))
    assert (event.args["resident"], event.args["signer"]) == (
        system.resident.address,
        delegate.address,
    )


def test_the_python_vocabulary_holds_the_contracts_limits(system: System) -> None:
    contract = "ConsentEmergency"
    assert system.client.simulate(contract, "DAILY_LIMIT") == EMERGENCY_DAILY_LIMIT
    assert system.client.simulate(contract, "REVIEW_PERIOD") == EMERGENCY_REVIEW_PERIOD
