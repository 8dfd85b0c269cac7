"""Record versions: envelopes, root, proofs, and restoring from envelopes + keystore alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.vocabulary import SEED_FIELDS
from tests.wallets.known_answers import PROPERTY
from wallets.errors import InvalidRecord
from wallets.field_cipher import NONCE_LENGTH
from wallets.identity import Identity
from wallets.key_wrap import X25519_WRAPPED_LENGTH
from wallets.record import (
    FieldEnvelope,
    RecordVersion,
    field_leaf,
    record_root,
    record_tree,
    restore,
    verify_field_proof,
)
from wallets.signing import recover_intent_signer

VALUES = {
    "name": "张伟",
    "id_number": "330106199001011234",
    "household_registration": "浙江省杭州市西湖区",
    "income": "85000",
}
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def build(identity: Identity, version: int = 1, values: dict[str, str] = VALUES) -> RecordVersion:
    return RecordVersion.build(
        values,
        resident=identity.address,
        version=version,
        owner_public_key=identity.encryption_public_key,
    )


@pytest.fixture(scope="module")
def record(resident: Identity) -> RecordVersion:
    return build(resident)


def test_envelopes_have_the_wire_shape(record: RecordVersion) -> None:
    envelopes = record.envelopes()
    assert list(envelopes) == list(VALUES)
    for envelope in envelopes.values():
        assert set(envelope) == {"ciphertext", "nonce", "owner_wrapped_key"}
        assert all(v.startswith("0x") for v in envelope.values())
        assert len(bytes.fromhex(envelope["nonce"][2:])) == NONCE_LENGTH
        assert len(bytes.fromhex(envelope["owner_wrapped_key"][2:])) == X25519_WRAPPED_LENGTH


def test_root_is_the_standard_tree_over_field_id_and_ciphertext_hash(
    record: RecordVersion,
) -> None:
    ciphertexts = {n: f.envelope.ciphertext for n, f in record.fields.items()}
    assert record.root == record_tree(ciphertexts).root == record_root(record.envelopes())
    name, ciphertext = next(iter(ciphertexts.items()))
    field_id, ciphertext_hash = field_leaf(name, ciphertext)
    assert field_id == name.encode().ljust(32, b"\0") and len(ciphertext_hash) == 32


def test_every_field_proof_verifies_against_the_root(record: RecordVersion) -> None:
    for name, sealed in record.fields.items():
        assert verify_field_proof(record.root, name, sealed.envelope.ciphertext, record.proof(name))


def test_proof_fails_for_another_fields_ciphertext(record: RecordVersion) -> None:
    other = record.field("income").envelope.ciphertext
    assert not verify_field_proof(record.root, "name", other, record.proof("name"))
    assert not verify_field_proof(record.root, "income", other, record.proof("name"))


def test_every_field_has_a_fresh_key_salt_and_nonce(resident: Identity) -> None:
    first, second = build(resident), build(resident)
    for name in VALUES:
        assert first.field_key(name) != second.field_key(name)
        assert first.values()[name].salt != second.values()[name].salt
        assert first.field(name).envelope.nonce != second.field(name).envelope.nonce
    assert len({f.key for f in first.fields.values()}) == len(VALUES)
    assert first.root != second.root


def test_restore_from_envelopes_and_a_reloaded_keystore(tmp_path: Path, scrypt_n: int) -> None:
    identity = Identity.create()
    record = build(identity, version=3)
    stored = record.envelopes()  # what the server keeps
    identity.save(tmp_path, "pw", scrypt_n=scrypt_n)
    restored = restore(stored, Identity.load(tmp_path, "pw"), identity.address, 3, root=record.root)
    assert {n: v.value for n, v in restored.items()} == VALUES
    assert {n: v.salt for n, v in restored.items()} == {
        n: v.salt for n, v in record.values().items()
    }


def test_open_returns_the_field_keys_and_the_same_root(
    resident: Identity, record: RecordVersion
) -> None:
    opened = RecordVersion.open(record.envelopes(), resident, resident=resident.address, version=1)
    assert opened.root == record.root
    assert all(opened.field_key(n) == record.field_key(n) for n in VALUES)


def test_restore_with_a_hybrid_owner_key(resident: Identity) -> None:
    identity = Identity.create(hybrid=True)
    assert identity.hybrid_public_key is not None
    record = RecordVersion.build(
        VALUES, resident=identity.address, version=1, owner_public_key=identity.hybrid_public_key
    )
    opened = RecordVersion.open(record.envelopes(), identity, resident=identity.address, version=1)
    assert opened.values()["income"].value == "85000"
    assert opened.owner_public_key == record.owner_public_key


@pytest.mark.parametrize(
    "change",
    ["other-identity", "other-resident", "other-version", "wrong-root", "fields-swapped"],
)
def test_restore_refuses_what_does_not_belong(
    resident: Identity, other_resident: Identity, record: RecordVersion, change: str
) -> None:
    envelopes: dict[str, Any] = record.envelopes()
    kwargs: dict[str, Any] = {
        "identity": resident,
        "resident": resident.address,
        "version": 1,
        "root": record.root,
    }
    if change == "other-identity":
        kwargs["identity"] = other_resident
    elif change == "other-resident":
        kwargs["resident"] = other_resident.address
        kwargs["root"] = None
    elif change == "other-version":
        kwargs["version"] = 2
        kwargs["root"] = None
    elif change == "wrong-root":
        kwargs["root"] = bytes(32)
    else:
        envelopes["name"], envelopes["income"] = envelopes["income"], envelopes["name"]
        kwargs["root"] = None
    with pytest.raises(InvalidRecord):
        restore(envelopes, **kwargs)


@pytest.mark.parametrize(
    "envelope",
    [
        {},
        {"ciphertext": "0x00", "nonce": "0x00"},
        {"ciphertext": "zz", "nonce": "0x" + "00" * 12, "owner_wrapped_key": "0x00"},
        {"ciphertext": "0x00", "nonce": "0x" + "00" * 11, "owner_wrapped_key": "0x00"},
        "not an object",
    ],
)
def test_malformed_envelope_raises_invalid_record(resident: Identity, envelope: Any) -> None:
    with pytest.raises(InvalidRecord):
        restore({"income": envelope}, resident, resident.address, 1)


def test_restore_of_nothing_raises_invalid_record(resident: Identity) -> None:
    with pytest.raises(InvalidRecord):
        restore({}, resident, resident.address, 1)


def test_envelope_json_round_trips(record: RecordVersion) -> None:
    envelope = record.field("income").envelope
    assert FieldEnvelope.from_json(envelope.to_json()) == envelope


def test_commit_message_signs_as_a_commit_record_intent(
    resident: Identity, record: RecordVersion
) -> None:
    message = record.commit_message(nonce=1, deadline=2**40)
    assert message["root"] == record.root and message["version"] == 1
    signature = resident.sign_intent(
        "CommitRecord", message, chain_id=31337, verifying_contract=CONTRACT
    )
    assert (
        recover_intent_signer(
            "CommitRecord", message, signature, chain_id=31337, verifying_contract=CONTRACT
        )
        == resident.address
    )


def test_build_refuses_bad_field_names_and_empty_records(resident: Identity) -> None:
    with pytest.raises(ValueError, match="schema name"):
        build(resident, values={"two words": "x"})
    with pytest.raises(ValueError, match="at least one field"):
        build(resident, values={})


def test_repr_shows_no_values_or_keys(record: RecordVersion) -> None:
    text = repr(record) + repr(record.field("income")) + repr(record.values())
    assert "85000" not in text
    assert record.field_key("income").hex() not in text


@PROPERTY
@given(
    values=st.dictionaries(st.sampled_from(SEED_FIELDS), st.text(max_size=60), min_size=1),
    version=st.integers(0, 2**64 - 1),
)
def test_build_then_restore_round_trips(
    resident: Identity, values: dict[str, str], version: int
) -> None:
    record = build(resident, version=version, values=values)
    restored = restore(
        record.envelopes(), resident, resident.address.lower(), version, root=record.root
    )
    assert {n: v.value for n, v in restored.items()} == values
