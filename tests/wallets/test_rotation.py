"""Rotation after revocation: fresh keys, fresh salts where exposed, re-wrapped grants."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.codec import to_hex
from wallets.attestation import attest, verify_attestation
from wallets.errors import InvalidAttestation, InvalidRecord
from wallets.field_cipher import decrypt_field
from wallets.grants import open_granted_fields, wrap_keys_for_department
from wallets.identity import Identity
from wallets.key_wrap import unwrap_key
from wallets.record import RecordVersion, restore
from wallets.rotation import ActiveConsent, rotate_after_revocation, rotate_record

VALUES = {
    "name": "王芳",
    "income": "85000",
    "social_insurance": "SI-2231",
    "health_summary": "none",
    "phone": "13800138000",
}
EXPOSED = ("income", "social_insurance")  # granted to the department that revoked
KEPT = ("name", "health_summary")  # granted to a department whose consent stays active
CHAIN_ID = 31337
DIRECTORY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


@pytest.fixture(scope="module")
def old(resident: Identity) -> RecordVersion:
    return RecordVersion.build(
        VALUES,
        resident=resident.address,
        version=4,
        owner_public_key=resident.encryption_public_key,
    )


@pytest.fixture(scope="module")
def revoked_wrapped(old: RecordVersion, department: Identity) -> dict[str, str]:
    """What the revoked department holds: the exposed fields' keys of the old version."""
    return wrap_keys_for_department(
        old,
        EXPOSED,
        department=department.address,
        department_public_key=department.encryption_public_key,
    )


@pytest.fixture(scope="module")
def rotation(old: RecordVersion, other_department: Identity) -> Any:
    survivor = ActiveConsent(
        consent_id=17,
        department=other_department.address,
        department_public_key=other_department.encryption_public_key,
        fields=KEPT,
    )
    return rotate_after_revocation(old, exposed=EXPOSED, active_consents=[survivor])


def test_new_version_follows_the_old_and_keeps_the_values(
    rotation: Any, old: RecordVersion, resident: Identity
) -> None:
    assert rotation.version == old.version + 1
    restored = restore(
        rotation.envelopes(), resident, resident.address, rotation.version, root=rotation.root
    )
    assert {n: v.value for n, v in restored.items()} == VALUES
    assert rotation.root != old.root


def test_every_field_has_a_fresh_key_and_ciphertext(rotation: Any, old: RecordVersion) -> None:
    for name in VALUES:
        assert rotation.record.field_key(name) != old.field_key(name)
        new_ct = rotation.record.field(name).envelope.ciphertext
        assert new_ct != old.field(name).envelope.ciphertext


def test_exposed_fields_get_fresh_salts_and_the_others_keep_theirs(
    rotation: Any, old: RecordVersion
) -> None:
    new_values, old_values = rotation.record.values(), old.values()
    for name in EXPOSED:
        assert new_values[name].salt != old_values[name].salt
    for name in set(VALUES) - set(EXPOSED):
        assert new_values[name].salt == old_values[name].salt
    assert rotation.fresh_salt_fields == frozenset(EXPOSED)


def test_old_wrapped_keys_open_nothing_of_the_new_version(
    rotation: Any,
    old: RecordVersion,
    revoked_wrapped: dict[str, str],
    resident: Identity,
    department: Identity,
) -> None:
    new = rotation.record
    old_keys = [
        department.unwrap_key(bytes.fromhex(w[2:]), field=n, version=old.version)
        for n, w in revoked_wrapped.items()
    ] + [old.field_key(n) for n in VALUES]  # even the owner's old keys
    for name, sealed in new.fields.items():
        for key in old_keys:
            with pytest.raises(InvalidRecord):
                decrypt_field(
                    key,
                    nonce=sealed.envelope.nonce,
                    ciphertext=sealed.envelope.ciphertext,
                    resident=resident.address,
                    field=name,
                    version=new.version,
                )
    for name, wrapped in revoked_wrapped.items():  # nor unwrap under the new binding
        with pytest.raises(InvalidRecord):
            department.unwrap_key(bytes.fromhex(wrapped[2:]), field=name, version=new.version)


def test_revoked_department_cannot_open_a_query_answer_of_the_new_version(
    rotation: Any, revoked_wrapped: dict[str, str], resident: Identity, department: Identity
) -> None:
    new = rotation.record
    entries = {
        name: {
            "ciphertext": to_hex(new.field(name).envelope.ciphertext),
            "nonce": to_hex(new.field(name).envelope.nonce),
            "wrapped_key": wrapped,
            "version": new.version,
            "proof": [to_hex(p) for p in new.proof(name)],
        }
        for name, wrapped in revoked_wrapped.items()
    }
    with pytest.raises(InvalidRecord):
        open_granted_fields(entries, resident=resident.address, identity=department, root=new.root)


def test_active_consent_gets_new_wrapped_keys_that_open_the_new_version(
    rotation: Any, resident: Identity, other_department: Identity
) -> None:
    new = rotation.record
    assert set(rotation.wrapped_keys) == {17}
    wrapped = rotation.wrapped_keys[17]
    assert set(wrapped) == set(KEPT)
    entries = {
        name: {
            "ciphertext": to_hex(new.field(name).envelope.ciphertext),
            "nonce": to_hex(new.field(name).envelope.nonce),
            "wrapped_key": w,
            "version": new.version,
            "proof": [to_hex(p) for p in new.proof(name)],
        }
        for name, w in wrapped.items()
    }
    opened = open_granted_fields(
        entries, resident=resident.address, identity=other_department, root=new.root
    )
    assert {n: v.value for n, v in opened.items()} == {n: VALUES[n] for n in KEPT}


def test_old_owner_wrapped_keys_do_not_unwrap_under_the_new_version(
    rotation: Any, old: RecordVersion, resident: Identity
) -> None:
    for name, sealed in old.fields.items():
        with pytest.raises(InvalidRecord):
            unwrap_key(
                sealed.envelope.owner_wrapped_key,
                resident.x25519_private_key,
                recipient=resident.address,
                field=name,
                version=rotation.version,
            )


def test_attestations_survive_for_unexposed_fields_only(
    old: RecordVersion, rotation: Any, issuer: Identity, resident: Identity
) -> None:
    def attested(name: str) -> Any:
        value = old.values()[name]
        return attest(
            issuer,
            resident=resident.address,
            field=name,
            value=value.value,
            salt=value.salt,
            issued_at=1,
            expires_at=10,
            chain_id=CHAIN_ID,
            directory=DIRECTORY,
        )

    def check(name: str) -> str:
        value = rotation.record.values()[name]
        return verify_attestation(
            attested(name),
            resident=resident.address,
            field=name,
            value=value.value,
            salt=value.salt,
            chain_id=CHAIN_ID,
            directory=DIRECTORY,
            is_trusted=lambda *_: True,
            recorded_at=lambda _digest: 2,
            now=5,
        )

    assert check("name") == issuer.address
    with pytest.raises(InvalidAttestation, match="commitment_mismatch"):
        check("income")


def test_refresh_all_salts_gives_every_field_a_fresh_salt(old: RecordVersion) -> None:
    new, fresh = rotate_record(old, exposed=["income"], refresh_all_salts=True)
    assert fresh == frozenset(VALUES)
    assert all(new.values()[n].salt != old.values()[n].salt for n in VALUES)


def test_changed_value_is_applied_with_a_fresh_salt(old: RecordVersion) -> None:
    new, fresh = rotate_record(old, exposed=["income"], changes={"phone": "13900139000"})
    assert new.values()["phone"].value == "13900139000"
    assert fresh == {"income", "phone"}
    assert new.values()["name"].salt == old.values()["name"].salt


def test_explicit_new_version_must_be_higher(old: RecordVersion) -> None:
    assert rotate_record(old, exposed=[], new_version=9)[0].version == 9
    with pytest.raises(ValueError, match="must be above"):
        rotate_record(old, exposed=[], new_version=old.version)


def test_unknown_exposed_field_is_refused(old: RecordVersion) -> None:
    with pytest.raises(ValueError, match="vehicle"):
        rotate_record(old, exposed=["vehicle"])


def test_rotation_keeps_the_owner_key_type(resident: Identity) -> None:
    identity = Identity.create(hybrid=True)
    assert identity.hybrid_public_key is not None
    record = RecordVersion.build(
        VALUES, resident=identity.address, version=1, owner_public_key=identity.hybrid_public_key
    )
    opened = RecordVersion.open(record.envelopes(), identity, resident=identity.address, version=1)
    new, _ = rotate_record(opened, exposed=["income"])
    assert new.owner_public_key == record.owner_public_key
    assert restore(new.envelopes(), identity, identity.address, 2)["income"].value == "85000"
