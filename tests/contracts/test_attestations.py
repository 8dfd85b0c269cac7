"""Attestations recorded on chain: the directory dates them, judges the issuer's trust at
the recording block, and records each one once."""

from __future__ import annotations

import pytest

from ledger.contract_errors import (
    ConsentDirectoryAttestationPeriod,
    ConsentDirectoryAttestationRecorded,
    ConsentDirectoryAttestationTime,
    ConsentDirectoryUntrustedIssuer,
    ECDSAInvalidSignatureLength,
    SignedIntentWrongSigner,
)
from ledger.intents import ATTEST_TIME_WINDOW, type_hash
from tests.conftest import System, b32, fields
from tests.contracts.helpers import (
    attest_intent,
    attest_message,
    digest_of,
    distrust_intent,
    revoke_role_intent,
    role_intent,
    sign_attest,
    with_signature,
)


def recorded_at(system: System, digest: bytes) -> int:
    return system.client.attestation_recorded_at(digest)


def test_an_attestation_is_recorded_at_the_blocks_time_under_its_digest(system: System) -> None:
    intent = attest_intent(system, "income")
    digest = digest_of(system, intent)
    assert recorded_at(system, digest) == 0
    assert not system.client.verify_attestation(intent.message, intent.signature)

    (outcome,) = system.submit(intent)

    event = outcome.unwrap()
    at = outcome.receipt.block_timestamp
    message = intent.message
    assert (event.name, event.args) == (
        "AttestationRecorded",
        {
            "digest": digest,
            "issuer": system.issuer.address,
            "resident": system.resident.address,
            "field": b32("income"),
            "commitment": message["commitment"],
            "issuedAt": message["issuedAt"],
            "expiresAt": message["expiresAt"],
            "recordedAt": at,
        },
    )
    assert recorded_at(system, digest) == at
    assert system.client.verify_attestation(message, intent.signature)
    assert system.client.simulate("ConsentDirectory", "ATTEST_TIME_WINDOW") == ATTEST_TIME_WINDOW


def test_a_replayed_attestation_is_refused_and_the_first_record_stands(system: System) -> None:
    intent = attest_intent(system)
    first = system.submit(intent)[0].receipt.block_timestamp
    system.chain.time_travel(5)
    with pytest.raises(ConsentDirectoryAttestationRecorded) as info:
        system.one(intent)
    assert info.value.digest == digest_of(system, intent)
    assert recorded_at(system, info.value.digest) == first


def test_a_distrusted_issuer_cannot_backdate_an_attestation(system: System) -> None:
    since = system.now()
    system.chain.time_travel(3600)
    (ended,) = system.submit(distrust_intent(system, system.issuer.address, fields("income")))
    ended.unwrap()
    # dated to when the issuer was still trusted: the chain judges trust now, not then
    backdated = attest_intent(system, "income", issuedAt=since + 60)
    with pytest.raises(ConsentDirectoryAttestationTime):
        system.one(backdated)
    current = attest_intent(system, "income")
    with pytest.raises(ConsentDirectoryUntrustedIssuer) as info:
        system.one(current)
    assert (info.value.issuer, info.value.field) == (system.issuer.address, b32("income"))
    # the other field stays trusted
    assert system.submit(attest_intent(system, "name"))[0].ok


def test_issued_at_must_lie_within_the_window_of_block_time(system: System) -> None:
    now = system.now()
    too_old = attest_intent(system, issuedAt=now - ATTEST_TIME_WINDOW - 60)
    too_new = attest_intent(system, issuedAt=now + ATTEST_TIME_WINDOW + 60)
    edge = attest_intent(system, issuedAt=now - ATTEST_TIME_WINDOW + 30)
    outcomes = system.submit(too_old, too_new, edge)
    for outcome in outcomes[:2]:
        assert isinstance(outcome.error, ConsentDirectoryAttestationTime), outcome.error
        assert outcome.error.issuedAt == outcome.intent.message["issuedAt"]
        assert outcome.error.timestamp == outcome.receipt.block_timestamp
    assert outcomes[2].ok, outcomes[2].error


def test_an_attestation_expiring_before_it_is_issued_or_now_is_refused(system: System) -> None:
    now = system.now()
    backwards = attest_intent(system, issuedAt=now, expiresAt=now)
    expired = attest_intent(system, issuedAt=now - 100, expiresAt=now - 10)
    for intent in (backwards, expired):
        with pytest.raises(ConsentDirectoryAttestationPeriod) as info:
            system.one(intent)
        assert info.value.expiresAt == intent.message["expiresAt"]
    # the largest uint64 expiry is a valid one
    assert system.submit(attest_intent(system, expiresAt=2**64 - 1))[0].ok


def test_attestations_for_fields_the_issuer_is_not_trusted_for_are_refused(system: System) -> None:
    not_trusted = attest_intent(system, "phone")
    with pytest.raises(ConsentDirectoryUntrustedIssuer):
        system.one(not_trusted)
    not_a_field = system.sign(
        "Attest", system.issuer, {**attest_message(system), "field": b"\xff" * 32}
    )
    with pytest.raises(ConsentDirectoryUntrustedIssuer) as info:
        system.one(not_a_field)
    assert info.value.field == b"\xff" * 32
    # a department is no issuer at all
    by_department = attest_intent(system, signer=system.dept, issuer=system.dept.address)
    with pytest.raises(ConsentDirectoryUntrustedIssuer):
        system.one(by_department)


def test_an_attestation_signed_by_someone_else_is_refused(system: System) -> None:
    claimed = attest_intent(system, signer=system.resident)  # names the issuer, signed by another
    with pytest.raises(SignedIntentWrongSigner) as info:
        system.one(claimed)
    assert (info.value.expected, info.value.recovered) == (
        system.issuer.address,
        system.resident.address,
    )
    with pytest.raises(ECDSAInvalidSignatureLength):
        system.one(with_signature(claimed, claimed.signature[:64]))


def test_a_recorded_attestation_outlives_the_end_of_trust_for_its_reader_to_judge(
    system: System,
) -> None:
    intent = attest_intent(system, "income")
    recorded = system.submit(intent)[0].receipt.block_timestamp
    system.chain.time_travel(60)
    (revoked,) = system.submit(revoke_role_intent(system, "issuer", system.issuer.address))
    ended = revoked.receipt.block_timestamp
    assert system.client.verify_attestation(intent.message, intent.signature)
    issuer, income = system.issuer.address, b32("income")
    assert system.client.is_trusted_issuer(issuer, income, recorded)
    assert not system.client.is_trusted_issuer(issuer, income, ended)
    # trusted again later: a new window, and an attestation recorded in the gap never was
    system.chain.time_travel(60)
    system.one(role_intent(system, "issuer", issuer, fields("income")))
    history = system.client.simulate("ConsentDirectory", "issuerTrustHistory", issuer, income)
    assert len(history) == 2 and history[0][1] == ended and history[1][1] == 0
    assert system.submit(attest_intent(system, "income"))[0].ok


def test_verify_attestation_is_false_for_a_signature_other_than_the_recorded_issuers(
    system: System,
) -> None:
    intent = attest_intent(system)
    system.one(intent)
    message = intent.message
    assert not system.client.verify_attestation(message, sign_attest(system, system.dept, message))
    assert not system.client.verify_attestation(message, intent.signature[:64])
    assert not system.client.verify_attestation(message, b"")
    other = {**message, "commitment": b"\x01" * 32}
    assert not system.client.verify_attestation(other, sign_attest(system, system.issuer, other))


def test_an_attestation_batch_refuses_its_bad_one_alone(system: System) -> None:
    good, also_good = attest_intent(system, "income"), attest_intent(system, "name")
    bad = attest_intent(system, "phone")
    outcomes = system.submit(good, bad, also_good)
    assert outcomes[0].ok and outcomes[2].ok
    assert isinstance(outcomes[1].error, ConsentDirectoryUntrustedIssuer)
    event = outcomes[1].event
    assert event is not None and event.name == "IntentRejected"
    assert (event.args["index"], event.args["intentType"]) == (1, type_hash("Attest"))
    assert len({o.receipt.tx_hash for o in outcomes}) == 1
    assert recorded_at(system, digest_of(system, also_good)) != 0
    assert recorded_at(system, digest_of(system, bad)) == 0
