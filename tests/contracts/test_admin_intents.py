"""The admin's signed intents that cut an actor off — suspend or reinstate a department,
revoke a role, end an issuer's trust — and rotate a department's key; each takes effect
at the block that records it."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from ledger.contract_errors import (
    ConsentDirectoryDepartmentRevoked,
    ConsentDirectoryEmptyFields,
    ConsentDirectoryInvalidDepartment,
    ConsentDirectoryUnauthorizedSigner,
    ConsentDirectoryUnknownDepartment,
    ConsentDirectoryUnknownField,
    ConsentDirectoryUnsortedFields,
    ConsentDirectoryUnsupportedRole,
    ConsentDirectoryZeroAddress,
    ConsentLedgerInactiveDepartment,
    ConsentLedgerUnauthorizedSigner,
    SignedIntentDeadlineTooFar,
    SignedIntentUnauthorizedRelayer,
)
from ledger.intents import type_hash
from ledger.vocabulary import bytes32_to_name, role_id
from tests.conftest import System, b32, fields
from tests.contracts.helpers import (
    ADMIN_ROLE,
    ZERO_ADDRESS,
    active_intent,
    distrust_intent,
    funded_stranger,
    request_intent,
    revoke_role_intent,
    role_intent,
    rotate_intent,
)


def block_time(system: System, block_number: int) -> int:
    return int(system.chain.w3.eth.get_block(block_number)["timestamp"])


# ---------------------------------------------------------------- SetDepartmentActive


def test_suspending_a_department_denies_its_next_query_and_refuses_its_requests(
    system: System,
) -> None:
    consent_id, terms = system.grant()
    assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"

    (outcome,) = system.submit(active_intent(system, system.dept.address, False))

    event = outcome.unwrap()
    assert (event.name, event.args) == (
        "DepartmentSuspended",
        {"department": system.dept.address, "admin": system.admin.address},
    )
    assert [(e.name, e.args["active"]) for e in outcome.extra_events] == [
        ("DepartmentActivationChanged", False)
    ]
    assert system.client.department(system.dept.address).active is False
    assert system.client.roles(system.dept.address) == frozenset()
    denied = system.one(system.access_intent(consent_id, terms))
    assert denied.name == "AccessDenied"
    assert bytes32_to_name(denied.args["reason"]) == "not_granted"
    with pytest.raises(ConsentLedgerInactiveDepartment):
        system.one(request_intent(system))
    with pytest.raises(ConsentLedgerInactiveDepartment):
        system.grant()


def test_reinstating_a_department_lets_it_read_again(system: System) -> None:
    consent_id, terms = system.grant()
    system.one(active_intent(system, system.dept.address, False))
    (outcome,) = system.submit(active_intent(system, system.dept.address, True))
    assert outcome.unwrap().name == "DepartmentReinstated"
    assert outcome.unwrap().args["admin"] == system.admin.address
    assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"


def test_setting_the_state_a_department_is_in_takes_effect_without_a_change_event(
    system: System,
) -> None:
    (outcome,) = system.submit(active_intent(system, system.dept.address, True))
    assert outcome.unwrap().name == "DepartmentReinstated"
    assert outcome.extra_events == ()
    assert system.client.department(system.dept.address).active


def test_set_department_active_of_unregistered_address_reverts_unknown_department(
    system: System,
) -> None:
    stranger = Account.create().address
    with pytest.raises(ConsentDirectoryUnknownDepartment) as info:
        system.one(active_intent(system, stranger, False))
    assert info.value.department == stranger


def test_admin_intents_signed_by_non_admin_revert_unauthorized_signer(system: System) -> None:
    impostor = system.registrar
    dept = system.dept.address
    for intent in (
        active_intent(system, dept, False, signer=impostor),
        revoke_role_intent(system, "issuer", system.issuer.address, signer=impostor),
        distrust_intent(system, system.issuer.address, fields("income"), signer=impostor),
        rotate_intent(system, dept, signer=impostor),
    ):
        with pytest.raises(ConsentDirectoryUnauthorizedSigner) as info:
            system.one(intent)
        assert (info.value.signer, info.value.role) == (impostor.address, ADMIN_ROLE)
    assert system.client.department(dept).active
    assert system.client.has_role("issuer", system.issuer.address)
    assert system.client.is_trusted_issuer(system.issuer.address, b32("income"), system.now())


def test_admin_intents_are_submitted_by_relayers_only(system: System) -> None:
    _, signer = funded_stranger(system)
    intent = active_intent(system, system.dept.address, False)
    with pytest.raises(SignedIntentUnauthorizedRelayer):
        system.client.transact(
            signer, "ConsentDirectory", "changeDepartmentActive", intent.as_abi(), intent.signature
        )
    assert system.client.department(system.dept.address).active


# ---------------------------------------------------------------- RevokeRole


def test_revoked_registrar_can_no_longer_enrol(system: System) -> None:
    (outcome,) = system.submit(revoke_role_intent(system, "registrar", system.registrar.address))
    event = outcome.unwrap()
    assert (event.name, event.args) == (
        "RoleRemoved",
        {
            "role": role_id("registrar"),
            "account": system.registrar.address,
            "admin": system.admin.address,
        },
    )
    assert [e.name for e in outcome.extra_events] == ["RoleRevoked"]
    assert not system.client.has_role("registrar", system.registrar.address)
    with pytest.raises(ConsentLedgerUnauthorizedSigner) as info:
        system.one(system.enroll_intent(Account.create().address))
    assert info.value.signer == system.registrar.address


def test_revoking_the_issuer_role_ends_its_trust_for_every_field(system: System) -> None:
    issuer = system.issuer.address
    system.chain.time_travel(60)  # anvil stamps blocks within a second alike
    (outcome,) = system.submit(revoke_role_intent(system, "issuer", issuer))
    ended = outcome.receipt.block_timestamp
    names = [e.name for e in outcome.extra_events]
    assert names == ["RoleRevoked", "IssuerDistrusted", "IssuerDistrusted"]
    assert {bytes(e.args["field"]) for e in outcome.extra_events[1:]} == {
        b32("income"),
        b32("name"),
    }
    for name in ("income", "name"):
        assert not system.client.is_trusted_issuer(issuer, b32(name), ended)
        assert system.client.is_trusted_issuer(issuer, b32(name), ended - 1)


def test_revoking_a_department_suspends_it_for_good(system: System) -> None:
    consent_id, terms = system.grant()
    dept = system.dept.address
    (outcome,) = system.submit(revoke_role_intent(system, "department", dept))
    assert [e.name for e in outcome.extra_events] == ["RoleRevoked", "DepartmentActivationChanged"]
    assert system.client.department(dept).registered
    assert not system.client.department(dept).active
    assert not system.client.has_role("department", dept)
    denied = system.one(system.access_intent(consent_id, terms))
    assert bytes32_to_name(denied.args["reason"]) == "not_granted"
    with pytest.raises(ConsentDirectoryDepartmentRevoked) as info:
        system.one(active_intent(system, dept, True))
    assert info.value.department == dept
    assert not system.client.department(dept).active


def test_revoking_auditor_and_relayer_roles(system: System) -> None:
    auditor, relayer = Account.create().address, Account.create().address
    for outcome in system.submit(
        role_intent(system, "auditor", auditor), role_intent(system, "relayer", relayer)
    ):
        outcome.unwrap()
    for outcome in system.submit(
        revoke_role_intent(system, "auditor", auditor),
        revoke_role_intent(system, "relayer", relayer),
    ):
        assert outcome.unwrap().name == "RoleRemoved"
    assert not system.client.has_role("auditor", auditor)
    assert not system.client.has_role("relayer", relayer)


def test_revoking_a_role_not_held_takes_effect_without_role_revoked(system: System) -> None:
    stranger = Account.create().address
    (outcome,) = system.submit(revoke_role_intent(system, "auditor", stranger))
    assert outcome.unwrap().name == "RoleRemoved"
    assert outcome.extra_events == ()


def test_revoking_the_admin_role_reverts_unsupported_role(system: System) -> None:
    with pytest.raises(ConsentDirectoryUnsupportedRole) as info:
        system.one(revoke_role_intent(system, "admin", system.admin.address))
    assert info.value.role == ADMIN_ROLE
    made_up = secrets.token_bytes(32)
    with pytest.raises(ConsentDirectoryUnauthorizedSigner):
        # a role nobody administers: its admin is bytes32(0), so the admin may try
        system.one(
            revoke_role_intent(system, made_up, system.registrar.address, signer=system.dept)
        )
    with pytest.raises(ConsentDirectoryUnsupportedRole):
        system.one(revoke_role_intent(system, made_up, system.registrar.address))
    assert system.client.has_role("admin", system.admin.address)


def test_revoking_a_role_of_the_zero_address_reverts_zero_address(system: System) -> None:
    with pytest.raises(ConsentDirectoryZeroAddress):
        system.one(revoke_role_intent(system, "auditor", ZERO_ADDRESS))


# ---------------------------------------------------------------- DistrustIssuer


def test_distrusting_an_issuer_ends_its_trust_for_those_fields_from_this_block(
    system: System,
) -> None:
    issuer = system.issuer.address
    system.chain.time_travel(60)
    (outcome,) = system.submit(distrust_intent(system, issuer, fields("income", "phone")))
    event = outcome.unwrap()
    assert (event.name, event.args) == (
        "IssuerTrustEnded",
        {"issuer": issuer, "admin": system.admin.address, "fields": fields("income", "phone")},
    )
    until = outcome.receipt.block_timestamp
    # only the field it was trusted for closes a window
    assert [(e.name, e.args) for e in outcome.extra_events] == [
        ("IssuerDistrusted", {"issuer": issuer, "field": b32("income"), "until": until})
    ]
    assert not system.client.is_trusted_issuer(issuer, b32("income"), until)
    assert system.client.is_trusted_issuer(issuer, b32("income"), until - 1)
    assert system.client.is_trusted_issuer(issuer, b32("name"), until)
    assert system.client.has_role("issuer", issuer)
    # a second one takes effect and closes nothing
    (again,) = system.submit(distrust_intent(system, issuer, fields("income")))
    assert again.unwrap().name == "IssuerTrustEnded"
    assert again.extra_events == ()


def test_distrust_with_bad_fields_reverts_naming_the_fault(system: System) -> None:
    issuer = system.issuer.address
    with pytest.raises(ConsentDirectoryEmptyFields):
        system.one(distrust_intent(system, issuer, []))
    with pytest.raises(ConsentDirectoryUnsortedFields) as unsorted:
        system.one(distrust_intent(system, issuer, [b32("name"), b32("income")]))
    assert unsorted.value.index == 1
    with pytest.raises(ConsentDirectoryUnknownField) as unknown:
        system.one(distrust_intent(system, issuer, [b"\xff" * 32]))
    assert unknown.value.field == b"\xff" * 32
    assert system.client.is_trusted_issuer(issuer, b32("income"), system.now())


# ---------------------------------------------------------------- RotateDepartmentKey


def test_rotating_a_department_key_publishes_the_new_key(system: System) -> None:
    dept = system.dept.address
    new_key = secrets.token_bytes(32)
    (outcome,) = system.submit(rotate_intent(system, dept, new_key))
    event = outcome.unwrap()
    assert (event.name, event.args) == (
        "DepartmentKeyRotated",
        {"department": dept, "admin": system.admin.address, "encryptionKey": new_key},
    )
    info = system.client.department(dept)
    assert (info.encryption_key, info.active, info.name) == (new_key, True, "Department 0")


def test_rotating_the_key_of_an_unknown_department_or_to_no_key_reverts(system: System) -> None:
    stranger = Account.create().address
    with pytest.raises(ConsentDirectoryUnknownDepartment):
        system.one(rotate_intent(system, stranger))
    old = system.client.department(system.dept.address).encryption_key
    with pytest.raises(ConsentDirectoryInvalidDepartment) as info:
        system.one(rotate_intent(system, system.dept.address, b""))
    assert info.value.department == system.dept.address
    assert system.client.department(system.dept.address).encryption_key == old


# ---------------------------------------------------------------- batches and deadlines


def test_each_admin_batch_refuses_its_bad_intent_alone(system: System) -> None:
    dept1, dept2 = system.departments[1].address, system.departments[2].address
    stranger = Account.create().address
    key = secrets.token_bytes(32)
    pairs = [
        (active_intent(system, stranger, False), active_intent(system, dept1, False)),
        (
            revoke_role_intent(system, "admin", system.admin.address),
            revoke_role_intent(system, "registrar", system.registrar.address),
        ),
        (
            distrust_intent(system, system.issuer.address, []),
            distrust_intent(system, system.issuer.address, fields("name")),
        ),
        (rotate_intent(system, stranger), rotate_intent(system, dept2, key)),
    ]
    intents = [intent for pair in pairs for intent in pair]

    outcomes = system.submit(*intents)

    for bad, good in zip(outcomes[0::2], outcomes[1::2], strict=True):
        assert bad.error is not None and bad.event is not None
        assert bad.event.name == "IntentRejected"
        assert bad.event.args["intentType"] == type_hash(bad.intent.name)
        assert bad.event.args["index"] == 0
        assert good.ok, good.error
        assert good.receipt.tx_hash == bad.receipt.tx_hash
        assert not system.client.is_nonce_used(
            bad.intent.name, system.admin.address, bad.intent.message["nonce"]
        )
    assert not system.client.department(dept1).active
    assert not system.client.has_role("registrar", system.registrar.address)
    assert not system.client.is_trusted_issuer(
        system.issuer.address, b32("name"), outcomes[5].receipt.block_timestamp
    )
    assert system.client.department(dept2).encryption_key == key


def test_a_deadline_beyond_thirty_days_is_refused_deadline_too_far(system: System) -> None:
    from ledger import admission
    from ledger.intents import MAX_DEADLINE_AHEAD

    # One bound: the contracts', the one ledger.intents publishes, the relayer's horizon.
    assert admission.MAX_DEADLINE_AHEAD == MAX_DEADLINE_AHEAD
    assert system.client.simulate("ConsentDirectory", "MAX_DEADLINE_AHEAD") == MAX_DEADLINE_AHEAD
    assert system.client.simulate("ConsentLedger", "MAX_DEADLINE_AHEAD") == MAX_DEADLINE_AHEAD
    far = system.now() + MAX_DEADLINE_AHEAD + 3600
    for intent in (
        active_intent(system, system.dept.address, False, deadline=far),
        system.grant_intent(deadline=2**256 - 1),
    ):
        (outcome,) = system.submit(intent)
        assert isinstance(outcome.error, SignedIntentDeadlineTooFar), outcome.error
        assert outcome.error.deadline == intent.message["deadline"]
        assert outcome.error.latest == outcome.receipt.block_timestamp + MAX_DEADLINE_AHEAD
    assert system.client.department(system.dept.address).active
    # within the bound it is accepted
    near = system.now() + MAX_DEADLINE_AHEAD - 60
    assert system.submit(system.grant_intent(deadline=near))[0].ok
