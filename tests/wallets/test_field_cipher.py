"""AES-256-GCM field encryption: known answers from node:crypto, round trips, tampering."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.vocabulary import SEED_FIELDS, name_to_bytes32
from tests.wallets.known_answers import PROPERTY, hex_bytes, load, params, run_node_script
from wallets.attestation import commitment
from wallets.errors import InvalidRecord
from wallets.field_cipher import (
    FieldValue,
    decrypt_field,
    encrypt_field,
    field_aad,
    new_field_key,
    unsafe_encrypt_field,
)
from wallets.record import field_leaf_hash

RESIDENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SALT = bytes(range(32))


@pytest.mark.parametrize("vector", params("field_envelope"))
def test_known_answer_ciphertext_equals_node_crypto(vector: dict[str, Any]) -> None:
    value = FieldValue(vector["value"], hex_bytes(vector["salt"]))
    binding: dict[str, Any] = {
        "resident": vector["resident"],
        "field": vector["field"],
        "version": int(vector["version"]),
    }
    assert value.to_plaintext() == hex_bytes(vector["plaintext"])
    assert field_aad(**binding) == hex_bytes(vector["aad"])
    ciphertext = unsafe_encrypt_field(
        hex_bytes(vector["key"]), value, nonce=hex_bytes(vector["nonce"]), **binding
    )
    assert ciphertext == hex_bytes(vector["ciphertext"])


@pytest.mark.parametrize("vector", params("field_envelope"))
def test_known_answer_ciphertext_decrypts_to_value_and_salt(vector: dict[str, Any]) -> None:
    opened = decrypt_field(
        hex_bytes(vector["key"]),
        nonce=hex_bytes(vector["nonce"]),
        ciphertext=hex_bytes(vector["ciphertext"]),
        resident=vector["resident"],
        field=vector["field"],
        version=int(vector["version"]),
    )
    assert opened.value == vector["value"]
    assert opened.salt == hex_bytes(vector["salt"])


@pytest.mark.parametrize("vector", params("field_envelope"))
def test_known_answer_leaf_and_commitment_equal_ethers(vector: dict[str, Any]) -> None:
    ciphertext = hex_bytes(vector["ciphertext"])
    assert field_leaf_hash(vector["field"], ciphertext) == hex_bytes(vector["leafHash"])
    expected = hex_bytes(vector["commitment"])
    field_id = name_to_bytes32(vector["field"])
    assert commitment(field_id, vector["value"], hex_bytes(vector["salt"])) == expected


@pytest.mark.slow
def test_node_script_reproduces_committed_envelope_vectors() -> None:
    assert run_node_script("field_envelope.mjs") == load("field_envelope")


@PROPERTY
@given(
    text=st.text(),
    field=st.sampled_from(SEED_FIELDS),
    version=st.integers(0, 2**64 - 1),
)
def test_encrypt_then_decrypt_returns_value_and_salt(text: str, field: str, version: int) -> None:
    key = new_field_key()
    value = FieldValue.with_fresh_salt(text)
    nonce, ciphertext = encrypt_field(key, value, resident=RESIDENT, field=field, version=version)
    opened = decrypt_field(
        key, nonce=nonce, ciphertext=ciphertext, resident=RESIDENT, field=field, version=version
    )
    assert (opened.value, opened.salt) == (text, value.salt)


@PROPERTY
@given(text=st.text(max_size=40), data=st.data())
def test_any_flipped_ciphertext_bit_raises_invalid_record(text: str, data: st.DataObject) -> None:
    key = new_field_key()
    nonce, ciphertext = encrypt_field(
        key, FieldValue(text, SALT), resident=RESIDENT, field="income", version=1
    )
    bit = data.draw(st.integers(0, len(ciphertext) * 8 - 1))
    tampered = bytearray(ciphertext)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidRecord):
        decrypt_field(
            key,
            nonce=nonce,
            ciphertext=bytes(tampered),
            resident=RESIDENT,
            field="income",
            version=1,
        )


@pytest.mark.parametrize(
    "binding",
    [
        {"resident": "0x90F79bf6EB2c4f870365E785982E1f101E93b906", "field": "income", "version": 1},
        {"resident": RESIDENT, "field": "phone", "version": 1},
        {"resident": RESIDENT, "field": "income", "version": 2},
    ],
    ids=["other-resident", "other-field", "other-version"],
)
def test_ciphertext_moved_to_another_binding_raises_invalid_record(
    binding: dict[str, Any],
) -> None:
    key = new_field_key()
    nonce, ciphertext = encrypt_field(
        key, FieldValue("85000", SALT), resident=RESIDENT, field="income", version=1
    )
    with pytest.raises(InvalidRecord):
        decrypt_field(key, nonce=nonce, ciphertext=ciphertext, **binding)


def test_wrong_key_or_nonce_raises_invalid_record() -> None:
    key = new_field_key()
    nonce, ciphertext = encrypt_field(
        key, FieldValue("85000", SALT), resident=RESIDENT, field="income", version=1
    )
    binding: dict[str, Any] = {"resident": RESIDENT, "field": "income", "version": 1}
    for bad_key, bad_nonce in ((new_field_key(), nonce), (key, bytes(12)), (key, b"short")):
        with pytest.raises(InvalidRecord):
            decrypt_field(bad_key, nonce=bad_nonce, ciphertext=ciphertext, **binding)


def test_each_encryption_draws_a_fresh_nonce() -> None:
    key = new_field_key()
    value = FieldValue("same", SALT)
    nonces = {
        encrypt_field(key, value, resident=RESIDENT, field="income", version=1)[0]
        for _ in range(20)
    }
    assert len(nonces) == 20


def test_aad_is_designs_string_with_lower_case_address() -> None:
    assert field_aad(resident=RESIDENT, field="income", version=7) == (
        f"{RESIDENT.lower()}:income:7".encode()
    )


def test_plaintext_is_compact_utf8_json_with_value_then_salt() -> None:
    plaintext = FieldValue("西湖区", SALT).to_plaintext()
    assert plaintext == ('{"value":"西湖区","salt":"0x' + SALT.hex() + '"}').encode()


@pytest.mark.parametrize(
    "plaintext",
    [
        b'{"value":"x"}',
        b'{"value":"x","salt":"0x' + b"00" * 32 + b'","extra":1}',
        b'{"value":"x","value":"y","salt":"0x' + b"00" * 32 + b'"}',
        b'{"value":1,"salt":"0x' + b"00" * 32 + b'"}',
        b'{"value":"x","salt":"0x' + b"00" * 31 + b'"}',
        b'{"value":"x","salt":"' + b"00" * 32 + b'"}',
        b'["value","salt"]',
        b"\xff\xfe",
        b"not json",
    ],
    ids=[
        "no-salt",
        "extra-member",
        "duplicate-member",
        "non-string-value",
        "short-salt",
        "unprefixed-salt",
        "not-an-object",
        "not-utf8",
        "not-json",
    ],
)
def test_malformed_plaintext_raises_invalid_record(plaintext: bytes) -> None:
    with pytest.raises(InvalidRecord):
        FieldValue.from_plaintext(plaintext)


def test_field_value_repr_redacts_value_and_salt() -> None:
    assert "secret-value" not in repr(FieldValue("secret-value", SALT))


@pytest.mark.parametrize("salt", [b"", bytes(31), bytes(33)])
def test_field_value_refuses_salts_that_are_not_32_bytes(salt: bytes) -> None:
    with pytest.raises(ValueError, match="salt"):
        FieldValue("x", salt)


def test_unsafe_entry_point_refuses_bad_nonce_length() -> None:
    with pytest.raises(ValueError, match="12 bytes"):
        unsafe_encrypt_field(
            bytes(32),
            FieldValue("x", SALT),
            nonce=bytes(8),
            resident=RESIDENT,
            field="x",
            version=0,
        )
