"""ConsentLedger consents: requests by departments, grants and revocations by residents."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from eth_account import Account

from ledger.contract_errors import (
    ConsentDirectoryEmptyFields,
    ConsentDirectoryUnknownField,
    ConsentDirectoryUnknownPurpose,
    ConsentDirectoryUnsortedFields,
    ConsentLedgerAlreadyRevoked,
    ConsentLedgerInactiveDepartment,
    ConsentLedgerInvalidWindow,
    ConsentLedgerNotConsentResident,
    ConsentLedgerTermsMismatch,
    ConsentLedgerUnknownConsent,
    ConsentLedgerUnknownDepartment,
    ConsentLedgerUnknownRequest,
    ConsentLedgerUnknownResident,
    ConsentLedgerZeroDuration,
)
from ledger.types import ConsentTerms
from tests.conftest import ZERO32, System, b32, fields
from tests.contracts.helpers import (
    admin_signer,
    assert_consent_granted_log_is_canonical,
    digest_of,
    parties,
    request_intent,
    revoke_intent,
    terms_digest,
)


def ledger_call(system: System, function: str, *args: Any) -> Any:
    return system.client.simulate("ConsentLedger", function, *args)


def file_request(system: System, **kwargs: Any) -> bytes:
    return bytes(system.one(request_intent(system, **kwargs)).args["requestId"])


# ---------------------------------------------------------------- requestAccess


def test_request_access_returns_the_intents_eip712_digest_as_request_id(system: System) -> None:
    intent = request_intent(system, names=("income", "phone"), duration=3600)
    digest = digest_of(system, intent)
    assert ledger_call(system, "requestAccess", intent.as_abi(), intent.signature) == digest
    event = system.one(intent)
    assert event.name == "AccessRequested"
    assert event.args == {
        "requestId": digest,
        "department": system.dept.address,
        "resident": system.resident.address,
        "fields": fields("income", "phone"),
        "purpose": b32("HOUSING"),
        "duration": 3600,
    }
    stored = ledger_call(system, "requestParties", digest)
    assert stored == parties(system.dept.address, system.resident.address) != ZERO32
    assert ledger_call(system, "requestParties", secrets.token_bytes(32)) == ZERO32


def test_request_access_by_suspended_department_reverts_inactive_department(
    system: System,
) -> None:
    system.client.set_department_active(admin_signer(system), system.dept.address, False)
    with pytest.raises(ConsentLedgerInactiveDepartment) as info:
        system.one(request_intent(system))
    assert info.value.department == system.dept.address


def test_request_access_by_unregistered_signer_reverts_unknown_department(
    system: System,
) -> None:
    stranger = Account.create()
    with pytest.raises(ConsentLedgerUnknownDepartment) as info:
        system.one(request_intent(system, department=stranger))
    assert info.value.department == stranger.address


def test_request_access_to_unenrolled_resident_reverts_unknown_resident(system: System) -> None:
    stranger = Account.create()
    with pytest.raises(ConsentLedgerUnknownResident) as info:
        system.one(request_intent(system, resident=stranger))
    assert info.value.resident == stranger.address


def test_request_access_for_zero_duration_reverts_zero_duration(system: System) -> None:
    with pytest.raises(ConsentLedgerZeroDuration):
        system.one(request_intent(system, duration=0))


def test_request_access_out_of_schema_reverts_with_the_directorys_error(system: System) -> None:
    outcomes = system.submit(
        request_intent(system, names=("income", "shoe_size")),
        request_intent(system, purpose=b32("MARKETING")),
        request_intent(system, fields=[b32("name"), b32("income")]),
        request_intent(system, fields=[]),
    )
    unknown_field, unknown_purpose, unsorted, empty = (o.error for o in outcomes)
    assert isinstance(unknown_field, ConsentDirectoryUnknownField)
    assert unknown_field.field == b32("shoe_size")
    assert isinstance(unknown_purpose, ConsentDirectoryUnknownPurpose)
    assert unknown_purpose.purpose == b32("MARKETING")
    assert isinstance(unsorted, ConsentDirectoryUnsortedFields) and unsorted.index == 1
    assert isinstance(empty, ConsentDirectoryEmptyFields)
    for outcome in outcomes:
        digest = digest_of(system, outcome.intent)
        assert ledger_call(system, "requestParties", digest) == ZERO32


# ---------------------------------------------------------------- grant


def test_grant_ids_count_up_from_one(system: System) -> None:
    assert system.client.consent_count() == 0
    intent = system.grant_intent()
    assert ledger_call(system, "grant", intent.as_abi(), intent.signature) == 1
    assert [system.grant()[0] for _ in range(3)] == [1, 2, 3]
    assert system.client.consent_count() == 3


def test_grant_event_carries_the_full_terms_and_state_starts_unused(system: System) -> None:
    now = system.now()
    event = system.one(
        system.grant_intent(
            department=system.departments[1],
            names=("address", "income", "phone"),
            purpose=b32("EDUCATION"),
            validFrom=now + 10,
            validUntil=now + 86400,
            maxUses=7,
        )
    )
    assert event.name == "ConsentGranted"
    assert event.args == {
        "consentId": 1,
        "resident": system.resident.address,
        "department": system.departments[1].address,
        "fields": fields("address", "income", "phone"),
        "purpose": b32("EDUCATION"),
        "validFrom": now + 10,
        "validUntil": now + 86400,
        "maxUses": 7,
        "requestId": ZERO32,
    }
    terms = ConsentTerms.from_event(event.args)
    state = system.client.consent_state(1)
    assert state.exists and state.uses == 0 and not state.revoked
    assert state.terms_hash == ledger_call(system, "hashTerms", terms.as_abi())
    assert state.terms_hash == terms_digest(terms)
    assert not system.client.consent_state(2).exists


def test_a_batch_of_grants_stores_each_terms_digest_and_logs_each_event_canonically(
    system: System,
) -> None:
    # The grant path reads an intent's words from calldata once and logs and hashes slices
    # of them: each consent's stored digest and event must be what the definitions give,
    # whatever its number of fields, maxUses, window or request.
    now = system.now()
    request_id = file_request(system, names=("address", "income", "phone"))
    intents = [
        system.grant_intent(names=("income",), maxUses=2**32 - 1, validUntil=2**64 - 1),
        system.grant_intent(
            names=("address", "income", "phone"),
            requestId=request_id,
            validFrom=now - 5,
            validUntil=now + 3 * 86400,
        ),
        system.grant_intent(
            department=system.departments[1],
            names=("address", "birth_date", "income", "name", "phone", "property", "vehicle"),
            purpose=b32("EDUCATION"),
            maxUses=7,
        ),
    ]
    outcomes = system.submit(*intents)
    assert len({o.receipt.tx_hash for o in outcomes}) == 1  # one batch transaction
    for outcome, intent in zip(outcomes, intents, strict=True):
        event = outcome.unwrap()
        terms = ConsentTerms.from_event(event.args)
        message = intent.message
        assert (terms.resident, terms.department) == (message["resident"], message["department"])
        assert list(terms.fields) == message["fields"] and terms.purpose == message["purpose"]
        assert (terms.valid_from, terms.valid_until, terms.max_uses) == (
            message["validFrom"],
            message["validUntil"],
            message["maxUses"],
        )
        assert bytes(event.args["requestId"]) == message["requestId"]
        state = system.client.consent_state(int(event.args["consentId"]))
        assert state.terms_hash == terms_digest(terms) and state.uses == 0 and not state.revoked
    assert_consent_granted_log_is_canonical(system, outcomes[0].receipt.tx_hash)


def test_grant_answering_a_request_records_its_id(system: System) -> None:
    request_id = file_request(system)
    event = system.one(system.grant_intent(requestId=request_id))
    assert event.args["requestId"] == request_id


def test_grant_naming_an_unknown_request_reverts_unknown_request(system: System) -> None:
    unknown = secrets.token_bytes(32)
    with pytest.raises(ConsentLedgerUnknownRequest) as info:
        system.one(system.grant_intent(requestId=unknown))
    assert info.value.requestId == unknown
    assert system.client.consent_count() == 0


def test_grant_naming_another_departments_request_reverts_unknown_request(
    system: System,
) -> None:
    request_id = file_request(system, department=system.departments[1])
    with pytest.raises(ConsentLedgerUnknownRequest) as info:
        system.one(system.grant_intent(department=system.dept, requestId=request_id))
    assert info.value.requestId == request_id


def test_grant_naming_a_request_to_another_resident_reverts_unknown_request(
    system: System,
) -> None:
    request_id = file_request(system, resident=system.residents[1])
    with pytest.raises(ConsentLedgerUnknownRequest) as info:
        system.one(system.grant_intent(resident=system.residents[0], requestId=request_id))
    assert info.value.requestId == request_id


def test_grant_with_empty_or_reversed_window_reverts_invalid_window(system: System) -> None:
    now = system.now()
    windows = [(now + 100, now + 100), (now + 200, now + 100)]
    outcomes = system.submit(*(system.grant_intent(validFrom=a, validUntil=b) for a, b in windows))
    for outcome, (valid_from, valid_until) in zip(outcomes, windows, strict=True):
        assert isinstance(outcome.error, ConsentLedgerInvalidWindow)
        assert (outcome.error.validFrom, outcome.error.validUntil) == (valid_from, valid_until)
    assert system.client.consent_count() == 0


def test_grant_ending_in_the_past_or_now_reverts_invalid_window(system: System) -> None:
    now = system.now()
    outcomes = system.submit(
        system.grant_intent(validFrom=now - 100, validUntil=now - 10),
        system.grant_intent(validFrom=0, validUntil=now),
    )
    assert isinstance(outcomes[0].error, ConsentLedgerInvalidWindow)
    assert (outcomes[0].error.validFrom, outcomes[0].error.validUntil) == (now - 100, now - 10)
    # the block that would record it is stamped at ``now`` or later: validUntil <= timestamp
    assert outcomes[1].receipt.block_timestamp >= now
    assert isinstance(outcomes[1].error, ConsentLedgerInvalidWindow)
    assert (outcomes[1].error.validFrom, outcomes[1].error.validUntil) == (0, now)


def test_grant_to_suspended_department_reverts_inactive_department(system: System) -> None:
    system.client.set_department_active(admin_signer(system), system.dept.address, False)
    with pytest.raises(ConsentLedgerInactiveDepartment) as info:
        system.grant()
    assert info.value.department == system.dept.address


def test_grant_to_unregistered_department_reverts_unknown_department(system: System) -> None:
    stranger = Account.create()
    with pytest.raises(ConsentLedgerUnknownDepartment) as info:
        system.grant(department=stranger)
    assert info.value.department == stranger.address


def test_grant_by_never_enrolled_signer_reverts_unknown_resident(system: System) -> None:
    stranger = Account.create()
    with pytest.raises(ConsentLedgerUnknownResident) as info:
        system.grant(resident=stranger)
    assert info.value.resident == stranger.address


def test_grant_out_of_schema_reverts_with_the_directorys_error(system: System) -> None:
    with pytest.raises(ConsentDirectoryUnknownPurpose) as purpose_info:
        system.grant(purpose=b32("MARKETING"))
    assert purpose_info.value.purpose == b32("MARKETING")
    with pytest.raises(ConsentDirectoryUnknownField) as field_info:
        system.grant(names=("income", "zodiac"))
    assert field_info.value.field == b32("zodiac")
    with pytest.raises(ConsentDirectoryUnsortedFields) as order_info:
        system.grant(fields=[b32("name"), b32("income")])
    assert order_info.value.index == 1


# ---------------------------------------------------------------- revoke


def test_revoke_marks_consent_revoked_and_emits_consent_revoked(system: System) -> None:
    consent_id, terms = system.grant(department=system.departments[2])
    event = system.one(revoke_intent(system, consent_id, terms))
    assert event.name == "ConsentRevoked"
    assert event.args == {
        "consentId": consent_id,
        "resident": system.resident.address,
        "department": system.departments[2].address,
    }
    state = system.client.consent_state(consent_id)
    assert state.revoked and state.uses == 0


def test_revoke_twice_reverts_already_revoked(system: System) -> None:
    consent_id, terms = system.grant()
    system.one(revoke_intent(system, consent_id, terms))
    with pytest.raises(ConsentLedgerAlreadyRevoked) as info:
        system.one(revoke_intent(system, consent_id, terms))
    assert info.value.consentId == consent_id


def test_revoke_unknown_consent_reverts_unknown_consent(system: System) -> None:
    consent_id, terms = system.grant()
    with pytest.raises(ConsentLedgerUnknownConsent) as info:
        system.one(revoke_intent(system, consent_id + 1, terms))
    assert info.value.consentId == consent_id + 1
    with pytest.raises(ConsentLedgerUnknownConsent) as info:
        system.one(revoke_intent(system, 0, ConsentTerms.empty()))
    assert info.value.consentId == 0


def test_revoke_with_other_terms_reverts_terms_mismatch(system: System) -> None:
    consent_id, terms = system.grant(maxUses=3)
    forged = dataclasses.replace(terms, max_uses=0)
    with pytest.raises(ConsentLedgerTermsMismatch) as info:
        system.one(revoke_intent(system, consent_id, forged))
    assert info.value.consentId == consent_id
    assert not system.client.consent_state(consent_id).revoked


def test_revoke_of_another_residents_consent_reverts_not_consent_resident(
    system: System,
) -> None:
    consent_id, terms = system.grant(resident=system.residents[0])
    other = system.residents[1]
    with pytest.raises(ConsentLedgerNotConsentResident) as info:
        system.one(revoke_intent(system, consent_id, terms, resident=other))
    assert (info.value.consentId, info.value.resident) == (consent_id, other.address)
    assert not system.client.consent_state(consent_id).revoked
