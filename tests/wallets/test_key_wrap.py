"""HPKE key wrapping: DESIGN's suite and info, cross-checked both ways with pyhpke."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given
from hypothesis import strategies as st
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from ledger.vocabulary import SEED_FIELDS
from tests.wallets.known_answers import PROPERTY, hex_bytes, load, params, run_python_script
from wallets.errors import InvalidRecord
from wallets.key_wrap import (
    HYBRID_PUBLIC_KEY_LENGTH,
    HYBRID_WRAPPED_LENGTH,
    X25519_WRAPPED_LENGTH,
    HybridPrivateKey,
    HybridPublicKey,
    decode_public_key,
    encode_public_key,
    unwrap_key,
    wrap_info,
    wrap_key,
)

PYHPKE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OTHER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
KEY = bytes(range(32))

fields = st.sampled_from(SEED_FIELDS)
versions = st.integers(min_value=0, max_value=2**64 - 1)


def test_info_is_designs_string_with_lower_case_address() -> None:
    info = wrap_info(recipient=RECIPIENT, field="income", version=3)
    assert info == f"consent-ledger/v1:{RECIPIENT.lower()}:income:3".encode()


def test_wrapped_x25519_key_is_enc_plus_ciphertext_80_bytes() -> None:
    private = x25519.X25519PrivateKey.generate()
    wrapped = wrap_key(KEY, private.public_key(), recipient=RECIPIENT, field="income", version=1)
    assert len(wrapped) == X25519_WRAPPED_LENGTH == 80


def test_published_32_byte_key_is_accepted_as_recipient() -> None:
    private = x25519.X25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    wrapped = wrap_key(KEY, raw, recipient=RECIPIENT, field="income", version=1)
    assert unwrap_key(wrapped, private, recipient=RECIPIENT, field="income", version=1) == KEY


@PROPERTY
@given(key=st.binary(min_size=32, max_size=32), field=fields, version=versions)
def test_wrap_then_unwrap_returns_the_key(key: bytes, field: str, version: int) -> None:
    private = x25519.X25519PrivateKey.generate()
    wrapped = wrap_key(key, private.public_key(), recipient=RECIPIENT, field=field, version=version)
    assert unwrap_key(wrapped, private, recipient=RECIPIENT, field=field, version=version) == key


# -- cross-checks with pyhpke -------------------------------------------------------------


@PROPERTY
@given(key=st.binary(min_size=32, max_size=32), field=fields, version=versions)
def test_our_wrapped_key_opens_with_pyhpke(key: bytes, field: str, version: int) -> None:
    private = x25519.X25519PrivateKey.generate()
    wrapped = wrap_key(key, private.public_key(), recipient=RECIPIENT, field=field, version=version)
    enc, ciphertext = wrapped[:32], wrapped[32:]
    receiver = PYHPKE.create_recipient_context(
        enc,
        PYHPKE.kem.deserialize_private_key(private.private_bytes_raw()),
        info=wrap_info(recipient=RECIPIENT, field=field, version=version),
    )
    assert receiver.open(ciphertext) == key


@PROPERTY
@given(key=st.binary(min_size=32, max_size=32), field=fields, version=versions)
def test_pyhpke_sealed_key_unwraps_with_ours(key: bytes, field: str, version: int) -> None:
    private = x25519.X25519PrivateKey.generate()
    enc, sender = PYHPKE.create_sender_context(
        PYHPKE.kem.deserialize_public_key(private.public_key().public_bytes_raw()),
        info=f"consent-ledger/v1:{RECIPIENT.lower()}:{field}:{version}".encode(),
    )
    wrapped = enc + sender.seal(key)
    assert unwrap_key(wrapped, private, recipient=RECIPIENT, field=field, version=version) == key


@pytest.mark.parametrize("vector", params("hpke"))
def test_known_answer_vectors_from_pyhpke_unwrap(vector: dict[str, Any]) -> None:
    private = x25519.X25519PrivateKey.from_private_bytes(hex_bytes(vector["recipient_private_key"]))
    assert private.public_key().public_bytes_raw() == hex_bytes(vector["recipient_public_key"])
    assert (
        wrap_info(
            recipient=vector["recipient"], field=vector["field"], version=int(vector["version"])
        )
        == vector["info"].encode()
    )
    key = unwrap_key(
        hex_bytes(vector["wrapped"]),
        private,
        recipient=vector["recipient"],
        field=vector["field"],
        version=int(vector["version"]),
    )
    assert key == hex_bytes(vector["key"])


def test_hpke_vector_generator_reproduces_committed_file() -> None:
    assert run_python_script("tests/wallets/vectors/generate_hpke.py") == load("hpke")


# -- failures are one opaque InvalidRecord ------------------------------------------------


@pytest.fixture(scope="module")
def recipient_key() -> x25519.X25519PrivateKey:
    return x25519.X25519PrivateKey.generate()


@pytest.fixture(scope="module")
def wrapped(recipient_key: x25519.X25519PrivateKey) -> bytes:
    return wrap_key(KEY, recipient_key.public_key(), recipient=RECIPIENT, field="income", version=2)


@pytest.mark.parametrize(
    "binding",
    [
        {"recipient": OTHER, "field": "income", "version": 2},
        {"recipient": RECIPIENT, "field": "phone", "version": 2},
        {"recipient": RECIPIENT, "field": "income", "version": 3},
        {"recipient": RECIPIENT, "field": "income", "version": -1},
        {"recipient": "not an address", "field": "income", "version": 2},
    ],
    ids=["other-recipient", "other-field", "other-version", "bad-version", "bad-address"],
)
def test_unwrap_under_another_binding_raises_invalid_record(
    wrapped: bytes, recipient_key: x25519.X25519PrivateKey, binding: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRecord):
        unwrap_key(wrapped, recipient_key, **binding)


def test_unwrap_with_another_private_key_raises_invalid_record(wrapped: bytes) -> None:
    with pytest.raises(InvalidRecord):
        unwrap_key(
            wrapped,
            x25519.X25519PrivateKey.generate(),
            recipient=RECIPIENT,
            field="income",
            version=2,
        )


@PROPERTY
@given(data=st.data())
def test_any_flipped_bit_raises_invalid_record(
    wrapped: bytes, recipient_key: x25519.X25519PrivateKey, data: st.DataObject
) -> None:
    bit = data.draw(st.integers(min_value=0, max_value=len(wrapped) * 8 - 1))
    tampered = bytearray(wrapped)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidRecord):
        unwrap_key(bytes(tampered), recipient_key, recipient=RECIPIENT, field="income", version=2)


@pytest.mark.parametrize("length", [0, 32, 79, 81, 200])
def test_wrong_length_raises_invalid_record(
    recipient_key: x25519.X25519PrivateKey, length: int
) -> None:
    with pytest.raises(InvalidRecord):
        unwrap_key(b"\x01" * length, recipient_key, recipient=RECIPIENT, field="income", version=2)


def test_invalid_record_says_nothing_about_the_cause(
    wrapped: bytes, recipient_key: x25519.X25519PrivateKey
) -> None:
    messages = set()
    bindings: list[dict[str, Any]] = [
        {"field": "phone", "version": 2},
        {"field": "income", "version": 9},
    ]
    for kwargs in bindings:
        with pytest.raises(InvalidRecord) as caught:
            unwrap_key(wrapped, recipient_key, recipient=RECIPIENT, **kwargs)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        messages.add(str(caught.value))
    with pytest.raises(InvalidRecord) as caught:
        unwrap_key(b"", recipient_key, recipient=RECIPIENT, field="income", version=2)
    messages.add(str(caught.value))
    assert len(messages) == 1


@pytest.mark.parametrize("key", [b"", b"\0" * 31, b"\0" * 33])
def test_wrap_refuses_keys_that_are_not_32_bytes(key: bytes) -> None:
    public = x25519.X25519PrivateKey.generate().public_key()
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_key(key, public, recipient=RECIPIENT, field="income", version=1)


def test_wrap_refuses_a_field_that_is_not_a_schema_name() -> None:
    public = x25519.X25519PrivateKey.generate().public_key()
    with pytest.raises(ValueError, match="schema name"):
        wrap_key(KEY, public, recipient=RECIPIENT, field="has space", version=1)


# -- optional ML-KEM-768 + X25519 hybrid ----------------------------------------------------


def test_hybrid_wrap_round_trips_and_is_1168_bytes() -> None:
    private = HybridPrivateKey.generate()
    wrapped = wrap_key(KEY, private.public_key(), recipient=RECIPIENT, field="income", version=1)
    assert len(wrapped) == HYBRID_WRAPPED_LENGTH == 1168
    assert unwrap_key(wrapped, private, recipient=RECIPIENT, field="income", version=1) == KEY
    with pytest.raises(InvalidRecord):
        unwrap_key(wrapped, private, recipient=RECIPIENT, field="income", version=2)


def test_hybrid_public_key_encoding_round_trips_and_wraps() -> None:
    private = HybridPrivateKey.generate()
    raw = encode_public_key(private.public_key())
    assert len(raw) == HYBRID_PUBLIC_KEY_LENGTH == 1216
    decoded = decode_public_key(raw)
    assert isinstance(decoded, HybridPublicKey) and decoded == private.public_key()
    wrapped = wrap_key(KEY, raw, recipient=RECIPIENT, field="phone", version=4)
    assert unwrap_key(wrapped, private, recipient=RECIPIENT, field="phone", version=4) == KEY


def test_hybrid_private_key_bytes_round_trip() -> None:
    private = HybridPrivateKey.generate()
    again = HybridPrivateKey.from_bytes(private.to_bytes())
    assert again.public_key() == private.public_key()
    assert "secret" in repr(private)


def test_x25519_wrapped_key_does_not_open_with_a_hybrid_key() -> None:
    hybrid = HybridPrivateKey.generate()
    wrapped = wrap_key(
        KEY, hybrid.x25519.public_key(), recipient=RECIPIENT, field="income", version=1
    )
    with pytest.raises(InvalidRecord):
        unwrap_key(wrapped, hybrid, recipient=RECIPIENT, field="income", version=1)


@pytest.mark.parametrize("length", [0, 31, 33, 1215])
def test_public_keys_of_other_lengths_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="encryption key must be"):
        decode_public_key(b"\x09" * length)
