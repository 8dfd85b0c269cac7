"""ConsentDirectory: seeded schema, signed department registration and role grants,
the admin's direct functions, issuer trust and the attestation digest (recording is in
``test_attestations``, the admin's other signed intents in ``test_admin_intents``)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from ledger.chain import TransactionSigner
from ledger.contract_errors import (
    AccessControlBadConfirmation,
    AccessControlUnauthorizedAccount,
    ConsentDirectoryDepartmentExists,
    ConsentDirectoryDepartmentRevoked,
    ConsentDirectoryEmptyFields,
    ConsentDirectoryFieldExists,
    ConsentDirectoryInvalidDepartment,
    ConsentDirectoryInvalidName,
    ConsentDirectoryPurposeExists,
    ConsentDirectoryUnauthorizedSigner,
    ConsentDirectoryUnexpectedFields,
    ConsentDirectoryUnknownDepartment,
    ConsentDirectoryUnknownField,
    ConsentDirectoryUnknownPurpose,
    ConsentDirectoryUnsortedFields,
    ConsentDirectoryUnsupportedRole,
    ConsentDirectoryZeroAddress,
    ConsentLedgerZeroAddress,
    SignedIntentUnauthorizedRelayer,
)
from ledger.vocabulary import ROLE_NAMES, SEED_FIELDS, SEED_PURPOSES, role_id
from tests.conftest import System, b32, fields
from tests.contracts.helpers import (
    ADMIN_ROLE,
    ZERO_ADDRESS,
    admin_signer,
    attest_message,
    constructor_revert,
    funded_stranger,
    receipt_events,
    register_intent,
    role_intent,
)
from wallets.signing import intent_digest

IACCESS_CONTROL = bytes.fromhex("7965db0b")
IERC165 = bytes.fromhex("01ffc9a7")


def directory_call(system: System, function: str, *args: Any) -> Any:
    return system.client.simulate("ConsentDirectory", function, *args)


# ---------------------------------------------------------------- constructor


def is_field(system: System, field: bytes) -> bool:
    return bytes(field) in [bytes(f) for f in directory_call(system, "fields")]


def is_purpose(system: System, purpose: bytes) -> bool:
    return bytes(purpose) in [bytes(p) for p in directory_call(system, "purposes")]


def issuer_trust(system: System, issuer: str, field: bytes) -> list[int]:
    """The latest window of trust (``[0, 0]``: never trusted)."""
    windows = directory_call(system, "issuerTrustHistory", issuer, field)
    return list(windows[-1]) if windows else [0, 0]


def test_constructor_seeds_fields_in_seed_order_purposes_admin_and_relayer(system: System) -> None:
    client = system.client
    assert client.fields() == [b32(f) for f in SEED_FIELDS]
    assert client.purposes() == [b32(p) for p in SEED_PURPOSES]
    assert all(is_field(system, b32(f)) for f in SEED_FIELDS)
    assert all(is_purpose(system, b32(p)) for p in SEED_PURPOSES)
    assert not is_field(system, b32("HOUSING"))
    assert not is_purpose(system, b32("income"))
    assert client.has_role("admin", system.admin.address)
    assert client.has_role("relayer", system.relayer.address)
    assert not client.has_role("admin", system.relayer.address)
    assert not client.has_role("relayer", system.admin.address)


def test_role_constants_are_the_openzeppelin_ids_all_administered_by_the_admin(
    system: System,
) -> None:
    for name in ROLE_NAMES:
        getter = "DEFAULT_ADMIN_ROLE" if name == "admin" else f"{name.upper()}_ROLE"
        assert directory_call(system, getter) == role_id(name)
        assert directory_call(system, "getRoleAdmin", role_id(name)) == ADMIN_ROLE
    for name in ("registrar", "relayer"):
        getter = f"{name.upper()}_ROLE"
        assert system.client.simulate("ConsentLedger", getter) == role_id(name)


def test_supports_erc165_and_access_control_interfaces_only(system: System) -> None:
    assert directory_call(system, "supportsInterface", IERC165)
    assert directory_call(system, "supportsInterface", IACCESS_CONTROL)
    assert not directory_call(system, "supportsInterface", b"\xff\xff\xff\xff")


def test_constructor_with_zero_admin_or_relayer_reverts_zero_address(system: System) -> None:
    relayer = system.relayer.address
    for admin, first_relayer in ((ZERO_ADDRESS, relayer), (system.admin.address, ZERO_ADDRESS)):
        error = constructor_revert(system, "ConsentDirectory", admin, first_relayer, [], [])
        assert isinstance(error, ConsentDirectoryZeroAddress)


def test_constructor_with_bad_or_duplicate_seed_reverts_naming_it(system: System) -> None:
    admin, relayer = system.admin.address, system.relayer.address
    bad = b"two words".ljust(32, b"\0")
    error = constructor_revert(system, "ConsentDirectory", admin, relayer, [bad], [])
    assert isinstance(error, ConsentDirectoryInvalidName) and error.name == bad
    twice = [b32("income"), b32("income")]
    error = constructor_revert(system, "ConsentDirectory", admin, relayer, twice, [])
    assert isinstance(error, ConsentDirectoryFieldExists) and error.field == b32("income")
    twice = [b32("HOUSING"), b32("HOUSING")]
    error = constructor_revert(system, "ConsentDirectory", admin, relayer, [], twice)
    assert isinstance(error, ConsentDirectoryPurposeExists) and error.purpose == b32("HOUSING")


def test_ledger_constructor_with_zero_directory_reverts_zero_address(system: System) -> None:
    delegates = system.client.delegates.address
    error = constructor_revert(system, "ConsentLedger", ZERO_ADDRESS, delegates)
    assert isinstance(error, ConsentLedgerZeroAddress)


def test_ledger_constructor_with_zero_delegates_reverts_zero_address(system: System) -> None:
    directory = system.client.directory.address
    error = constructor_revert(system, "ConsentLedger", directory, ZERO_ADDRESS)
    assert isinstance(error, ConsentLedgerZeroAddress)


def test_ledger_directory_view_is_the_deployed_directory(system: System) -> None:
    assert system.client.simulate("ConsentLedger", "directory") == system.client.directory.address


# ---------------------------------------------------------------- registerDepartment


def test_register_department_adds_entry_grants_department_role_and_emits_event(
    system: System,
) -> None:
    new = Account.create()
    intent = register_intent(system, new.address, name="Civil Affairs", code="CA")
    outcome = system.submit(intent)[0]
    event = outcome.unwrap()
    assert event.name == "DepartmentRegistered"
    assert event.args == {
        "department": new.address,
        "admin": system.admin.address,
        "name": "Civil Affairs",
        "code": "CA",
        "encryptionKey": intent.message["encryptionKey"],
    }
    granted = [e for e in outcome.extra_events if e.name == "RoleGranted"]
    assert [(e.args["role"], e.args["account"]) for e in granted] == [
        (role_id("department"), new.address)
    ]
    entry = system.client.department(new.address)
    assert (entry.name, entry.code, entry.encryption_key) == (
        "Civil Affairs",
        "CA",
        intent.message["encryptionKey"],
    )
    assert entry.registered and entry.active
    assert system.client.has_role("department", new.address)
    assert directory_call(system, "departmentStatus", new.address) == [True, True]
    assert directory_call(system, "isActiveDepartment", new.address)


def test_register_department_signed_by_non_admin_reverts_unauthorized_signer(
    system: System,
) -> None:
    new = Account.create()
    with pytest.raises(ConsentDirectoryUnauthorizedSigner) as info:
        system.one(register_intent(system, new.address, signer=system.registrar))
    assert info.value.signer == system.registrar.address
    assert info.value.role == ADMIN_ROLE
    assert not system.client.department(new.address).registered


def test_register_department_twice_reverts_department_exists(system: System) -> None:
    with pytest.raises(ConsentDirectoryDepartmentExists) as info:
        system.one(register_intent(system, system.dept.address))
    assert info.value.department == system.dept.address
    assert system.client.department(system.dept.address).code == "D0"


def test_register_zero_address_department_reverts_zero_address(system: System) -> None:
    with pytest.raises(ConsentDirectoryZeroAddress):
        system.one(register_intent(system, ZERO_ADDRESS))


def test_register_department_with_empty_code_or_key_reverts_invalid_department(
    system: System,
) -> None:
    no_code, no_key = Account.create(), Account.create()
    outcomes = system.submit(
        register_intent(system, no_code.address, code=""),
        register_intent(system, no_key.address, encryptionKey=b""),
    )
    for outcome, account in zip(outcomes, (no_code, no_key), strict=True):
        assert isinstance(outcome.error, ConsentDirectoryInvalidDepartment)
        assert outcome.error.department == account.address
        assert not system.client.department(account.address).registered


def test_departments_lists_registered_departments_in_registration_order(system: System) -> None:
    new = Account.create()
    system.one(register_intent(system, new.address))
    listed = [d.address for d in system.client.departments()]
    assert listed == [d.address for d in system.departments] + [new.address]
    assert [d.code for d in system.client.departments()[:3]] == ["D0", "D1", "D2"]


def test_department_view_of_unknown_address_is_empty_and_unregistered(system: System) -> None:
    entry = system.client.department(Account.create().address)
    assert (entry.name, entry.code, entry.encryption_key) == ("", "", b"")
    assert not entry.registered and not entry.active


# ---------------------------------------------------------------- assignRole


def test_assign_registrar_auditor_and_relayer_emit_role_assigned(system: System) -> None:
    accounts = {name: Account.create() for name in ("registrar", "auditor", "relayer")}
    outcomes = system.submit(
        *(role_intent(system, name, account.address) for name, account in accounts.items())
    )
    for outcome, (name, account) in zip(outcomes, accounts.items(), strict=True):
        event = outcome.unwrap()
        assert event.name == "RoleAssigned"
        assert event.args == {
            "role": role_id(name),
            "account": account.address,
            "admin": system.admin.address,
            "fields": [],
        }
        assert [e.name for e in outcome.extra_events] == ["RoleGranted"]
        assert system.client.has_role(name, account.address)


def test_assigned_relayer_may_submit_intents_to_both_contracts(system: System) -> None:
    relayer, _ = funded_stranger(system)  # eth-tester charges eth_call gas to the sender
    system.one(role_intent(system, "relayer", relayer.address))
    grant = system.grant_intent()
    assert (
        system.client.simulate(
            "ConsentLedger", "grant", grant.as_abi(), grant.signature, sender=relayer.address
        )
        == system.client.consent_count() + 1
    )
    register = register_intent(system, Account.create().address)
    system.client.simulate(
        "ConsentDirectory",
        "registerDepartmentBatch",
        [register.as_abi()],
        [register.signature],
        sender=relayer.address,
    )


def test_relayer_revoked_directly_by_the_admin_may_no_longer_submit(system: System) -> None:
    relayer, _ = funded_stranger(system)
    system.one(role_intent(system, "relayer", relayer.address))
    system.client.transact(
        admin_signer(system), "ConsentDirectory", "revokeRole", role_id("relayer"), relayer.address
    )
    grant = system.grant_intent()
    with pytest.raises(SignedIntentUnauthorizedRelayer) as info:
        system.client.simulate(
            "ConsentLedger", "grant", grant.as_abi(), grant.signature, sender=relayer.address
        )
    assert info.value.caller == relayer.address


def test_assigning_a_held_role_again_emits_role_assigned_without_role_granted(
    system: System,
) -> None:
    outcome = system.submit(role_intent(system, "registrar", system.registrar.address))[0]
    assert outcome.unwrap().name == "RoleAssigned"
    assert outcome.extra_events == ()


def test_assign_issuer_trusts_each_field_from_this_block(system: System) -> None:
    issuer = Account.create()
    ids = fields("income", "phone")
    outcome = system.submit(role_intent(system, "issuer", issuer.address, ids))[0]
    event = outcome.unwrap()
    since = outcome.receipt.block_timestamp
    assert event.name == "RoleAssigned" and event.args["fields"] == ids
    trusted = [e for e in outcome.extra_events if e.name == "IssuerTrusted"]
    assert [e.args for e in trusted] == [
        {"issuer": issuer.address, "field": f, "since": since} for f in ids
    ]
    assert system.client.has_role("issuer", issuer.address)
    for field_id in ids:
        assert issuer_trust(system, issuer.address, field_id) == [since, 0]
        assert system.client.is_trusted_issuer(issuer.address, field_id, since)
        assert system.client.is_trusted_issuer(issuer.address, field_id, since + 10**6)
        assert not system.client.is_trusted_issuer(issuer.address, field_id, since - 1)
    assert not system.client.is_trusted_issuer(issuer.address, b32("name"), since)
    assert issuer_trust(system, issuer.address, b32("name")) == [0, 0]


def test_assign_department_or_admin_role_reverts_unsupported_role(system: System) -> None:
    account = Account.create()
    outcomes = system.submit(
        role_intent(system, "department", account.address),
        role_intent(system, "admin", account.address),
    )
    errors = [o.error for o in outcomes]
    assert all(isinstance(e, ConsentDirectoryUnsupportedRole) for e in errors)
    assert [getattr(e, "role", None) for e in errors] == [role_id("department"), ADMIN_ROLE]
    assert not system.client.has_role("department", account.address)
    assert not system.client.has_role("admin", account.address)


def test_assign_non_issuer_role_with_fields_reverts_unexpected_fields(system: System) -> None:
    with pytest.raises(ConsentDirectoryUnexpectedFields) as info:
        system.one(role_intent(system, "auditor", Account.create().address, fields("income")))
    assert info.value.role == role_id("auditor")


def test_assign_issuer_without_fields_reverts_empty_fields(system: System) -> None:
    with pytest.raises(ConsentDirectoryEmptyFields):
        system.one(role_intent(system, "issuer", Account.create().address, []))


def test_assign_issuer_with_unsorted_or_repeated_fields_reverts_unsorted_fields(
    system: System,
) -> None:
    account = Account.create()
    three = [*fields("income", "name"), b32("address")]
    outcomes = system.submit(
        role_intent(system, "issuer", account.address, [b32("name"), b32("income")]),
        role_intent(system, "issuer", account.address, [b32("income"), b32("income")]),
        role_intent(system, "issuer", account.address, three),
    )
    errors = [o.error for o in outcomes]
    assert all(isinstance(e, ConsentDirectoryUnsortedFields) for e in errors)
    assert [getattr(e, "index", None) for e in errors] == [1, 1, 2]
    assert not system.client.has_role("issuer", account.address)


def test_assign_issuer_for_undefined_field_reverts_unknown_field(system: System) -> None:
    with pytest.raises(ConsentDirectoryUnknownField) as info:
        system.one(role_intent(system, "issuer", Account.create().address, fields("shoe_size")))
    assert info.value.field == b32("shoe_size")


def test_assign_role_to_zero_address_reverts_zero_address(system: System) -> None:
    with pytest.raises(ConsentDirectoryZeroAddress):
        system.one(role_intent(system, "auditor", ZERO_ADDRESS))


def test_assign_role_signed_by_non_admin_reverts_unauthorized_signer(system: System) -> None:
    account = Account.create()
    with pytest.raises(ConsentDirectoryUnauthorizedSigner) as info:
        system.one(role_intent(system, "registrar", account.address, signer=system.registrar))
    assert info.value.signer == system.registrar.address
    assert info.value.role == ADMIN_ROLE
    assert not system.client.has_role("registrar", account.address)


# ---------------------------------------------------------------- admin functions


def test_define_fields_and_purposes_appends_them_with_events(system: System) -> None:
    admin = admin_signer(system)
    new_fields = [b32("pet_license"), b32("library_card")]
    receipt = system.client.define_fields(admin, new_fields)
    assert [(e.name, e.args) for e in receipt_events(system, receipt)] == [
        ("FieldDefined", {"field": f}) for f in new_fields
    ]
    receipt = system.client.define_purposes(admin, [b32("CENSUS")])
    assert [(e.name, e.args) for e in receipt_events(system, receipt)] == [
        ("PurposeDefined", {"purpose": b32("CENSUS")})
    ]
    assert system.client.fields() == [b32(f) for f in SEED_FIELDS] + new_fields
    assert system.client.purposes()[-1] == b32("CENSUS")
    assert is_field(system, b32("library_card"))
    assert is_purpose(system, b32("CENSUS"))
    directory_call(system, "checkScope", [b32("library_card")], b32("CENSUS"))


def test_define_existing_field_or_purpose_reverts_exists(system: System) -> None:
    admin = admin_signer(system)
    with pytest.raises(ConsentDirectoryFieldExists) as field_info:
        system.client.define_fields(admin, [b32("pet_license"), b32("income")])
    assert field_info.value.field == b32("income")
    with pytest.raises(ConsentDirectoryFieldExists) as twice_info:
        system.client.define_fields(admin, [b32("pet_license"), b32("pet_license")])
    assert twice_info.value.field == b32("pet_license")
    with pytest.raises(ConsentDirectoryPurposeExists) as purpose_info:
        system.client.define_purposes(admin, [b32("HOUSING")])
    assert purpose_info.value.purpose == b32("HOUSING")
    assert not is_field(system, b32("pet_license"))


BAD_NAMES = {
    "space": b"two words".ljust(32, b"\0"),
    "empty": b"\0" * 32,
    "bytes after a zero byte": b"ab\0cd".ljust(32, b"\0"),
    "leading zero byte": b"\0abc".ljust(32, b"\0"),
    "control character": b"tab\there".ljust(32, b"\0"),
    "non-ASCII": "café".encode().ljust(32, b"\0"),
    "DEL": b"del\x7f".ljust(32, b"\0"),
    "trailing space": b"x" * 31 + b" ",
}


def test_define_invalid_names_reverts_invalid_name(system: System) -> None:
    admin = admin_signer(system)
    for label, name in BAD_NAMES.items():
        with pytest.raises(ConsentDirectoryInvalidName) as field_info:
            system.client.define_fields(admin, [name])
        assert field_info.value.name == name, label
        with pytest.raises(ConsentDirectoryInvalidName) as purpose_info:
            system.client.define_purposes(admin, [name])
        assert purpose_info.value.name == name, label


def test_define_names_of_one_and_thirty_two_printable_bytes(system: System) -> None:
    admin = admin_signer(system)
    names = [b"x".ljust(32, b"\0"), b"~" * 32, b"!" * 31 + b"~"]
    system.client.define_fields(admin, names)
    system.client.define_purposes(admin, names)
    assert all(is_field(system, n) for n in names)
    assert all(is_purpose(system, n) for n in names)


def test_set_department_active_suspends_and_reinstates_with_events(system: System) -> None:
    admin = admin_signer(system)
    dept = system.dept.address
    receipt = system.client.set_department_active(admin, dept, False)
    assert [(e.name, e.args) for e in receipt_events(system, receipt)] == [
        ("DepartmentActivationChanged", {"department": dept, "active": False})
    ]
    assert directory_call(system, "departmentStatus", dept) == [True, False]
    assert not directory_call(system, "isActiveDepartment", dept)
    assert not system.client.department(dept).active
    unchanged = system.client.set_department_active(admin, dept, False)
    assert receipt_events(system, unchanged) == []
    receipt = system.client.set_department_active(admin, dept, True)
    assert [e.args["active"] for e in receipt_events(system, receipt)] == [True]
    assert directory_call(system, "departmentStatus", dept) == [True, True]


def test_set_unregistered_department_active_reverts_unknown_department(system: System) -> None:
    stranger = Account.create().address
    with pytest.raises(ConsentDirectoryUnknownDepartment) as info:
        system.client.set_department_active(admin_signer(system), stranger, False)
    assert info.value.department == stranger


def test_admin_functions_called_by_non_admin_revert_access_control_unauthorized(
    system: System,
) -> None:
    stranger, signer = funded_stranger(system)
    client = system.client
    calls = [
        lambda: client.define_fields(signer, [b32("pet_license")]),
        lambda: client.define_purposes(signer, [b32("CENSUS")]),
        lambda: client.set_department_active(signer, system.dept.address, False),
        lambda: client.distrust_issuer(signer, system.issuer.address, fields("income")),
    ]
    for call in calls:
        with pytest.raises(AccessControlUnauthorizedAccount) as info:
            call()
        assert info.value.account == stranger.address
        assert info.value.neededRole == ADMIN_ROLE
    assert client.department(system.dept.address).active
    assert not is_field(system, b32("pet_license"))


def test_distrust_issuer_ends_trust_from_this_block_and_keeps_earlier_trust(
    system: System,
) -> None:
    income, name = b32("income"), b32("name")
    since, until0 = issuer_trust(system, system.issuer.address, income)
    assert until0 == 0
    system.chain.time_travel(60)
    receipt = system.client.distrust_issuer(
        admin_signer(system), system.issuer.address, [income, b32("phone")]
    )
    until = system.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert [(e.name, e.args) for e in receipt_events(system, receipt)] == [
        ("IssuerDistrusted", {"issuer": system.issuer.address, "field": income, "until": until})
    ]
    assert issuer_trust(system, system.issuer.address, income) == [since, until]
    assert system.client.is_trusted_issuer(system.issuer.address, income, since)
    assert system.client.is_trusted_issuer(system.issuer.address, income, until - 1)
    assert not system.client.is_trusted_issuer(system.issuer.address, income, until)
    assert system.client.is_trusted_issuer(system.issuer.address, name, until + 1)
    # a second distrust changes nothing and says nothing
    again = system.client.distrust_issuer(admin_signer(system), system.issuer.address, [income])
    assert receipt_events(system, again) == []
    assert issuer_trust(system, system.issuer.address, income) == [since, until]


# ---------------------------------------------------------------- OpenZeppelin AccessControl


def test_admin_may_grant_and_revoke_roles_directly(system: System) -> None:
    admin = admin_signer(system)
    auditor = Account.create().address
    receipt = system.client.transact(
        admin, "ConsentDirectory", "grantRole", role_id("auditor"), auditor
    )
    assert [e.name for e in receipt_events(system, receipt)] == ["RoleGranted"]
    assert system.client.has_role("auditor", auditor)
    system.client.transact(admin, "ConsentDirectory", "revokeRole", role_id("auditor"), auditor)
    assert not system.client.has_role("auditor", auditor)


def test_grant_or_revoke_role_by_non_admin_reverts_access_control_unauthorized(
    system: System,
) -> None:
    stranger, signer = funded_stranger(system)
    for function in ("grantRole", "revokeRole"):
        with pytest.raises(AccessControlUnauthorizedAccount) as info:
            system.client.transact(
                signer, "ConsentDirectory", function, role_id("relayer"), stranger.address
            )
        assert (info.value.account, info.value.neededRole) == (stranger.address, ADMIN_ROLE)


def test_renounce_role_for_another_account_reverts_bad_confirmation(system: System) -> None:
    _, signer = funded_stranger(system)
    with pytest.raises(AccessControlBadConfirmation):
        system.client.transact(
            signer, "ConsentDirectory", "renounceRole", role_id("issuer"), system.issuer.address
        )
    assert system.client.has_role("issuer", system.issuer.address)


def test_issuer_may_renounce_its_own_role(system: System) -> None:
    issuer = TransactionSigner(system.issuer)
    system.chain.fund(system.issuer.address, 10**18)
    system.client.transact(
        issuer, "ConsentDirectory", "renounceRole", role_id("issuer"), system.issuer.address
    )
    assert not system.client.has_role("issuer", system.issuer.address)


# ---------------------------------------------------------------- checkScope


def test_check_scope_accepts_sorted_defined_fields_and_defined_purpose(system: System) -> None:
    assert (
        directory_call(system, "checkScope", fields("income", "name", "phone"), b32("HOUSING"))
        == []
    )


def test_check_scope_with_undefined_purpose_reverts_unknown_purpose(system: System) -> None:
    with pytest.raises(ConsentDirectoryUnknownPurpose) as info:
        directory_call(system, "checkScope", fields("income"), b32("MARKETING"))
    assert info.value.purpose == b32("MARKETING")


def test_check_scope_with_bad_fields_reverts_naming_the_fault(system: System) -> None:
    with pytest.raises(ConsentDirectoryEmptyFields):
        directory_call(system, "checkScope", [], b32("HOUSING"))
    with pytest.raises(ConsentDirectoryUnsortedFields) as unsorted:
        directory_call(system, "checkScope", [b32("name"), b32("income")], b32("HOUSING"))
    assert unsorted.value.index == 1
    with pytest.raises(ConsentDirectoryUnknownField) as unknown:
        directory_call(system, "checkScope", fields("income", "zodiac"), b32("HOUSING"))
    assert unknown.value.field == b32("zodiac")


# ---------------------------------------------------------------- attestations


def test_hash_attest_is_the_eip712_digest_of_the_attestation(system: System) -> None:
    message = attest_message(system)
    expected = intent_digest(
        "Attest",
        message,
        chain_id=system.chain.chain_id,
        verifying_contract=system.client.directory.address,
    )
    args = tuple(message[k] for k in ("issuer", "resident", "field", "commitment"))
    args += (message["issuedAt"], message["expiresAt"])
    assert directory_call(system, "hashAttest", args) == expected


def test_reassigning_an_issuer_keeps_its_open_trust_window(system: System) -> None:
    since, _ = issuer_trust(system, system.issuer.address, b32("income"))
    system.chain.time_travel(60)
    # the admin adds a field to the issuer; the only way is another GrantRole naming both
    system.one(role_intent(system, "issuer", system.issuer.address, fields("income", "phone")))
    assert issuer_trust(system, system.issuer.address, b32("income")) == [
        since,
        0,
    ]
    assert system.client.is_trusted_issuer(system.issuer.address, b32("phone"), system.now())


def test_retrusting_after_distrust_keeps_every_window_on_record(system: System) -> None:
    system.chain.time_travel(60)
    receipt = system.client.distrust_issuer(
        admin_signer(system), system.issuer.address, [b32("income")]
    )
    ended = system.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    system.chain.time_travel(60)
    system.one(role_intent(system, "issuer", system.issuer.address, fields("income")))
    history = directory_call(system, "issuerTrustHistory", system.issuer.address, b32("income"))
    assert len(history) == 2 and history[0][1] == ended and history[1][1] == 0
    assert not system.client.is_trusted_issuer(system.issuer.address, b32("income"), ended + 30)
    assert system.client.is_trusted_issuer(system.issuer.address, b32("income"), ended - 1)


def test_revoking_the_issuer_role_directly_ends_its_trust(system: System) -> None:
    system.chain.time_travel(60)
    receipt = system.client.transact(
        admin_signer(system),
        "ConsentDirectory",
        "revokeRole",
        role_id("issuer"),
        system.issuer.address,
    )
    ended = system.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    since, until = issuer_trust(system, system.issuer.address, b32("income"))
    assert until == ended and since < until
    assert not system.client.is_trusted_issuer(system.issuer.address, b32("income"), ended)


def test_revoking_the_department_role_directly_suspends_it_for_good(system: System) -> None:
    dept = system.dept.address
    admin = admin_signer(system)
    receipt = system.client.transact(
        admin, "ConsentDirectory", "revokeRole", role_id("department"), dept
    )
    assert [e.name for e in receipt_events(system, receipt)] == [
        "RoleRevoked",
        "DepartmentActivationChanged",
    ]
    assert not system.client.department(dept).active
    with pytest.raises(ConsentDirectoryDepartmentRevoked):
        system.client.set_department_active(admin, dept, True)


def test_roles_of_answers_every_role_in_one_call(system: System) -> None:
    client = system.client
    assert client.roles(system.admin.address) == {"admin"}
    assert client.roles(system.relayer.address) == {"relayer"}
    assert client.roles(system.registrar.address) == {"registrar"}
    assert client.roles(system.issuer.address) == {"issuer"}
    assert client.roles(system.dept.address) == {"department"}
    assert client.roles(system.resident.address) == {"resident"}
    assert client.roles(Account.create().address) == frozenset()
    client.set_department_active(admin_signer(system), system.dept.address, False)
    assert client.roles(system.dept.address) == frozenset()
