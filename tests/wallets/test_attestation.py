"""Attestations: commitment, issuer signature, the chain's record, trust list, validity
window, and picking the one that matches a value among several."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from ledger.eip712 import SECP256K1_N
from ledger.vocabulary import name_to_bytes32
from wallets.attestation import (
    Attestation,
    attest,
    commitment,
    pick_attestation,
    verify_attestation,
)
from wallets.errors import InvalidAttestation
from wallets.identity import Identity
from wallets.signing import intent_digest

CHAIN_ID = 31337
DIRECTORY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
FIELD = "household_registration"
VALUE = "浙江省杭州市西湖区"
SALT = bytes.fromhex("11" * 32)
ISSUED, EXPIRES = 1_735_689_600, 1_767_225_600
#: When the chain recorded the attestation (a few seconds after the issuer signed it).
RECORDED = ISSUED + 4


def trusting(*allowed: tuple[str, bytes]) -> Callable[[str, bytes, int], bool]:
    calls: list[tuple[str, bytes, int]] = []

    def is_trusted(issuer: str, field_id: bytes, at: int) -> bool:
        calls.append((issuer, field_id, at))
        return (issuer, field_id) in allowed

    is_trusted.calls = calls  # type: ignore[attr-defined]
    return is_trusted


@pytest.fixture(scope="module")
def attestation(issuer: Identity, resident: Identity) -> Attestation:
    return attest(
        issuer,
        resident=resident.address,
        field=FIELD,
        value=VALUE,
        salt=SALT,
        issued_at=ISSUED,
        expires_at=EXPIRES,
        chain_id=CHAIN_ID,
        directory=DIRECTORY,
    )


def verify(
    attestation: Attestation | dict[str, Any],
    by: Identity,
    about: Identity,
    **overrides: Any,
) -> str:
    """Verify with everything right, except what ``overrides`` changes."""
    kwargs: dict[str, Any] = {
        "resident": about.address,
        "field": FIELD,
        "value": VALUE,
        "salt": SALT,
        "chain_id": CHAIN_ID,
        "directory": DIRECTORY,
        "is_trusted": trusting((by.address, name_to_bytes32(FIELD))),
        "recorded_at": lambda _digest: RECORDED,
        "now": ISSUED + 10,
    }
    kwargs.update(overrides)
    return verify_attestation(attestation, **kwargs)


def test_commitment_is_keccak_of_abi_encoded_field_value_salt() -> None:
    field_id = name_to_bytes32(FIELD)
    expected = keccak(encode(["bytes32", "string", "bytes32"], [field_id, VALUE, SALT]))
    assert commitment(field_id, VALUE, SALT) == expected


def test_valid_attestation_verifies_and_names_the_issuer(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    assert verify(attestation, issuer, resident) == issuer.address


def test_trust_is_asked_at_the_chains_recording_time_and_now_never_at_issued_at(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    is_trusted = trusting((issuer.address, name_to_bytes32(FIELD)))
    asked: list[bytes] = []

    def recorded_at(digest: bytes) -> int:
        asked.append(digest)
        return RECORDED

    verify(
        attestation,
        issuer,
        resident,
        is_trusted=is_trusted,
        recorded_at=recorded_at,
        now=ISSUED + 99,
    )
    field_id = name_to_bytes32(FIELD)
    assert is_trusted.calls == [  # type: ignore[attr-defined]
        (issuer.address, field_id, RECORDED),
        (issuer.address, field_id, ISSUED + 99),
    ]
    expected = intent_digest(
        "Attest", attestation.message, chain_id=CHAIN_ID, verifying_contract=DIRECTORY
    )
    assert asked == [expected] == [attestation.digest(chain_id=CHAIN_ID, directory=DIRECTORY)]


def test_a_backdated_attestation_by_a_key_distrusted_since_is_untrusted(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    # Trusted until ISSUED + 2; the attestation says ISSUED, the chain recorded it later.
    def trusted_until_then(who: str, field_id: bytes, at: int) -> bool:
        return who == issuer.address and at < ISSUED + 2

    with pytest.raises(InvalidAttestation) as caught:
        verify(attestation, issuer, resident, is_trusted=trusted_until_then)
    assert caught.value.reason == "untrusted_issuer"
    assert str(RECORDED) in str(caught.value)


def test_json_form_round_trips_and_verifies(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    as_json = attestation.to_json()
    assert as_json["message"]["field"] == "0x" + name_to_bytes32(FIELD).hex()
    assert as_json["signature"].startswith("0x")
    assert verify(as_json, issuer, resident) == issuer.address


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"value": "浙江省杭州市上城区"}, "commitment_mismatch"),
        ({"salt": bytes(32)}, "commitment_mismatch"),
        ({"salt": b"short"}, "commitment_mismatch"),
        ({"field": "address"}, "wrong_field"),
        ({"now": ISSUED - 1}, "not_yet_valid"),
        ({"now": EXPIRES}, "expired"),
        ({"is_trusted": lambda *_: False}, "untrusted_issuer"),
        ({"is_trusted": lambda _i, _f, at: at != RECORDED}, "untrusted_issuer"),
        ({"is_trusted": lambda _i, _f, at: at == RECORDED}, "untrusted_issuer"),
        ({"recorded_at": lambda _digest: 0}, "not_recorded"),
        ({"directory": "0x5FbDB2315678afecb367f032d93F642f64180aa3"}, "bad_signature"),
        ({"chain_id": 1}, "bad_signature"),
    ],
    ids=[
        "other-value",
        "other-salt",
        "short-salt",
        "other-field",
        "before-issued",
        "at-expiry",
        "never-trusted",
        "not-trusted-when-recorded",
        "no-longer-trusted",
        "never-recorded",
        "other-directory",
        "other-chain",
    ],
)
def test_failed_check_raises_invalid_attestation_with_reason(
    attestation: Attestation,
    issuer: Identity,
    resident: Identity,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    with pytest.raises(InvalidAttestation) as caught:
        verify(attestation, issuer, resident, **overrides)
    assert caught.value.reason == reason


def test_validity_window_includes_issuance_and_excludes_expiry(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    assert verify(attestation, issuer, resident, now=ISSUED) == issuer.address
    assert verify(attestation, issuer, resident, now=EXPIRES - 1) == issuer.address


def test_attestation_for_another_resident_is_refused(
    attestation: Attestation, issuer: Identity, resident: Identity, other_resident: Identity
) -> None:
    with pytest.raises(InvalidAttestation) as caught:
        verify(attestation, issuer, resident, resident=other_resident.address)
    assert caught.value.reason == "wrong_resident"


def test_signature_by_someone_other_than_the_named_issuer_is_refused(
    issuer: Identity, resident: Identity
) -> None:
    impostor = Identity.create()
    forged = attest(
        impostor,
        resident=resident.address,
        field=FIELD,
        value=VALUE,
        salt=SALT,
        issued_at=ISSUED,
        expires_at=EXPIRES,
        chain_id=CHAIN_ID,
        directory=DIRECTORY,
    )
    relabelled = Attestation(dict(forged.message, issuer=issuer.address), forged.signature)
    with pytest.raises(InvalidAttestation) as caught:
        verify(relabelled, issuer, resident)
    assert caught.value.reason == "bad_signature"


def test_message_edited_after_signing_is_refused(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    extended = Attestation(dict(attestation.message, expiresAt=EXPIRES * 2), attestation.signature)
    with pytest.raises(InvalidAttestation) as caught:
        verify(extended, issuer, resident)
    assert caught.value.reason == "bad_signature"


def test_high_s_signature_is_refused(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    sig = attestation.signature
    s = int.from_bytes(sig[32:64], "big")
    twin = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    with pytest.raises(InvalidAttestation) as caught:
        verify(Attestation(attestation.message, twin), issuer, resident)
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "document",
    [{}, {"message": {}, "signature": "0x00"}, {"message": {"issuer": "x"}, "signature": "0x"}],
)
def test_malformed_attestation_is_refused(
    document: dict[str, Any], issuer: Identity, resident: Identity
) -> None:
    with pytest.raises(InvalidAttestation) as caught:
        verify(document, issuer, resident)
    assert caught.value.reason == "malformed"


def test_attest_accepts_a_raw_key_and_a_bytes32_field(resident: Identity) -> None:
    key = b"\x07" * 32
    made = attest(
        key,
        resident=resident.address,
        field=name_to_bytes32(FIELD),
        value=VALUE,
        salt=SALT,
        issued_at=1,
        expires_at=2,
        chain_id=CHAIN_ID,
        directory=DIRECTORY,
    )
    assert made.message["field"] == name_to_bytes32(FIELD)
    assert made.issuer == Identity(key, Identity.create().encryption_keys).address


def test_attest_refuses_an_empty_window(issuer: Identity, resident: Identity) -> None:
    with pytest.raises(ValueError, match="expire after"):
        attest(
            issuer,
            resident=resident.address,
            field=FIELD,
            value=VALUE,
            salt=SALT,
            issued_at=5,
            expires_at=5,
            chain_id=CHAIN_ID,
            directory=DIRECTORY,
        )


def test_reason_is_part_of_the_message() -> None:
    error = InvalidAttestation("expired", "expired at 5, now 6")
    assert str(error) == "expired: expired at 5, now 6" and error.reason == "expired"


# ---------------------------------------------------------------- several of one field


def _attestation_by(who: Identity, about: Identity, value: str, salt: bytes) -> Attestation:
    return attest(
        who,
        resident=about.address,
        field=FIELD,
        value=value,
        salt=salt,
        issued_at=ISSUED,
        expires_at=EXPIRES,
        chain_id=CHAIN_ID,
        directory=DIRECTORY,
    )


def _pick(candidates: list[Any], about: Identity, **overrides: Any) -> tuple[Attestation, str]:
    kwargs: dict[str, Any] = {
        "resident": about.address,
        "field": FIELD,
        "value": VALUE,
        "salt": SALT,
        "chain_id": CHAIN_ID,
        "directory": DIRECTORY,
        "is_trusted": lambda *_: True,
        "recorded_at": lambda _digest: RECORDED,
        "now": ISSUED + 10,
        **overrides,
    }
    return pick_attestation(candidates, **kwargs)


def test_a_newer_bogus_attestation_does_not_hide_the_genuine_one(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    rogue = Identity.create()  # another trusted issuer vouching for another value
    bogus = _attestation_by(rogue, resident, "北京市朝阳区", bytes.fromhex("22" * 32))
    picked, by = _pick([bogus.to_json(), attestation.to_json()], resident)
    assert (picked, by) == (attestation, issuer.address)


def test_the_matching_attestation_must_also_be_on_the_chains_record(
    attestation: Attestation, resident: Identity
) -> None:
    genuine = attestation.digest(chain_id=CHAIN_ID, directory=DIRECTORY)
    unrecorded_copy = _attestation_by(Identity.create(), resident, VALUE, SALT)
    picked, _ = _pick(
        [unrecorded_copy, attestation],
        resident,
        recorded_at=lambda digest: RECORDED if digest == genuine else 0,
    )
    assert picked == attestation


def test_without_a_match_the_failure_of_the_closest_candidate_is_raised(
    attestation: Attestation, issuer: Identity, resident: Identity
) -> None:
    bogus = _attestation_by(Identity.create(), resident, "elsewhere", bytes.fromhex("33" * 32))
    with pytest.raises(InvalidAttestation) as other_value:
        _pick([bogus], resident)
    assert other_value.value.reason == "commitment_mismatch"
    with pytest.raises(InvalidAttestation) as distrusted:
        _pick([bogus, attestation], resident, is_trusted=lambda who, *_: who != issuer.address)
    assert distrusted.value.reason == "untrusted_issuer"
    with pytest.raises(InvalidAttestation) as none:
        _pick([], resident)
    assert none.value.reason == "absent"
