"""The contract judges every access at the block that records it."""

from __future__ import annotations

import pytest

from ledger.contract_errors import (
    ConsentLedgerEmptyFields,
    ConsentLedgerTermsMismatch,
    ConsentLedgerUnknownDepartment,
    ConsentLedgerUnsortedFields,
)
from ledger.types import ConsentTerms
from ledger.vocabulary import bytes32_to_name
from tests.conftest import System, b32


def reason(event) -> str:  # type: ignore[no-untyped-def]
    assert event.name == "AccessDenied", event
    return bytes32_to_name(event.args["reason"])


def test_access_within_consent_is_logged_with_use_count(system: System) -> None:
    consent_id, terms = system.grant()
    first = system.one(system.access_intent(consent_id, terms))
    second = system.one(system.access_intent(consent_id, terms, ("income", "name")))
    assert (first.name, first.args["use"]) == ("AccessLogged", 1)
    assert (second.name, second.args["use"]) == ("AccessLogged", 2)
    assert second.args["purpose"] == b32("HOUSING")
    assert system.client.consent_state(consent_id).uses == 2


def test_access_to_unknown_consent_is_denied_unknown_consent(system: System) -> None:
    event = system.one(system.access_intent(424242, ConsentTerms.empty()))
    assert reason(event) == "unknown_consent"


def test_access_by_another_department_is_denied_not_granted(system: System) -> None:
    consent_id, terms = system.grant()
    other = system.departments[1]
    event = system.one(system.access_intent(consent_id, terms, department=other))
    assert reason(event) == "not_granted"


def test_access_naming_another_resident_is_denied_not_granted(system: System) -> None:
    consent_id, terms = system.grant()
    event = system.one(system.access_intent(consent_id, terms, resident=system.residents[1]))
    assert reason(event) == "not_granted"


def test_access_by_suspended_department_is_denied_not_granted(system: System) -> None:
    consent_id, terms = system.grant()
    admin = system.client.relayer.__class__(system.admin)
    system.client.set_department_active(admin, system.dept.address, False)
    assert reason(system.one(system.access_intent(consent_id, terms))) == "not_granted"
    system.client.set_department_active(admin, system.dept.address, True)
    assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"


def test_access_after_revocation_is_denied_revoked(system: System) -> None:
    consent_id, terms = system.grant()
    revoke = system.sign(
        "Revoke",
        system.resident,
        {"resident": system.resident.address, "consentId": consent_id},
        terms,
    )
    system.one(revoke)
    assert reason(system.one(system.access_intent(consent_id, terms))) == "revoked"


def test_revocation_denies_an_access_submitted_with_it(system: System) -> None:
    """Same block on the embedded chain; the next block on anvil, which mines per tx."""
    consent_id, terms = system.grant()
    revoke = system.sign(
        "Revoke",
        system.resident,
        {"resident": system.resident.address, "consentId": consent_id},
        terms,
    )
    revoked, access = system.submit(revoke, system.access_intent(consent_id, terms))
    assert revoked.ok and revoked.receipt.block_number <= access.receipt.block_number
    assert reason(access.unwrap()) == "revoked"


def test_access_before_valid_from_is_denied_then_allowed_after_time_travel(system: System) -> None:
    start = system.now() + 3 * 86400
    consent_id, terms = system.grant(validFrom=start, validUntil=start + 86400)
    assert reason(system.one(system.access_intent(consent_id, terms))) == "not_yet_valid"
    system.chain.time_travel(start - system.now())
    assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"


def test_access_at_or_after_valid_until_is_denied_expired(system: System) -> None:
    now = system.now()
    consent_id, terms = system.grant(validFrom=now, validUntil=now + 600)
    assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"
    system.chain.time_travel(600)
    assert reason(system.one(system.access_intent(consent_id, terms))) == "expired"


def test_access_beyond_max_uses_is_denied_uses_exhausted(system: System) -> None:
    consent_id, terms = system.grant(maxUses=2)
    for _ in range(2):
        assert system.one(system.access_intent(consent_id, terms)).name == "AccessLogged"
    assert reason(system.one(system.access_intent(consent_id, terms))) == "uses_exhausted"


def test_access_to_ungranted_field_is_denied_field_not_in_scope(system: System) -> None:
    consent_id, terms = system.grant(names=("income",))
    event = system.one(system.access_intent(consent_id, terms, ("income", "phone")))
    assert reason(event) == "field_not_in_scope"


def test_denied_access_still_spends_the_nonce(system: System) -> None:
    intent = system.access_intent(424242, ConsentTerms.empty())
    system.one(intent)
    assert system.client.is_nonce_used("Access", system.dept.address, intent.message["nonce"])


def test_access_with_forged_terms_reverts_terms_mismatch(system: System) -> None:
    consent_id, terms = system.grant(names=("income",))
    forged = ConsentTerms(**{**terms.__dict__, "fields": (b32("address"), b32("income"))})
    with pytest.raises(ConsentLedgerTermsMismatch) as info:
        system.one(system.access_intent(consent_id, forged, ("address",)))
    assert info.value.consentId == consent_id


def test_access_signed_by_unregistered_address_reverts(system: System) -> None:
    from eth_account import Account

    stranger = Account.create()
    consent_id, terms = system.grant()
    with pytest.raises(ConsentLedgerUnknownDepartment) as info:
        system.one(system.access_intent(consent_id, terms, department=stranger))
    assert info.value.department == stranger.address


def test_access_with_unsorted_or_empty_fields_reverts(system: System) -> None:
    consent_id, terms = system.grant()
    unsorted = system.sign(
        "Access",
        system.dept,
        {
            "department": system.dept.address,
            "resident": system.resident.address,
            "consentId": consent_id,
            "fields": [b32("name"), b32("income")],
        },
        terms,
    )
    with pytest.raises(ConsentLedgerUnsortedFields) as info:
        system.one(unsorted)
    assert info.value.index == 1
    with pytest.raises(ConsentLedgerEmptyFields):
        system.one(system.access_intent(consent_id, terms, ()))
