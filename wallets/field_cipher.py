"""AES-256-GCM encryption of one field value (DESIGN, "Wire formats").

Plaintext: the UTF-8 JSON ``{"value": "<string>", "salt": "0x<32 bytes>"}``,
written compactly (``{"value":"…","salt":"0x…"}``, non-ASCII as UTF-8, which is
also what ``JSON.stringify`` produces) and read strictly (exactly those two
members, no duplicates). AAD: UTF-8 of ``"{resident}:{field}:{version}"`` with the
lower-case address, so a ciphertext moved to another resident, field or version
fails to decrypt.

Safe recipe first: :func:`encrypt_field` draws its own 96-bit nonce (each key is
fresh per field and version and encrypts once, so random nonces are far from the
GCM birthday bound). :func:`unsafe_encrypt_field` takes the nonce from the caller
and exists only for known-answer tests. Every decryption failure is the one opaque
:class:`~wallets.errors.InvalidRecord`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.codec import from_hex, lower_address, to_hex
from ledger.vocabulary import name_to_bytes32
from wallets.errors import InvalidRecord
from wallets.key_wrap import check_version

KEY_LENGTH = 32
NONCE_LENGTH = 12
SALT_LENGTH = 32


@dataclass(frozen=True, repr=False)
class FieldValue:
    """A field's plaintext: the value and its salt (the salt also feeds attestations)."""

    value: str
    salt: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise ValueError("field values are strings")
        try:
            self.value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("field value is not encodable as UTF-8") from exc
        if not isinstance(self.salt, bytes) or len(self.salt) != SALT_LENGTH:
            raise ValueError(f"salt must be {SALT_LENGTH} bytes")

    @classmethod
    def with_fresh_salt(cls, value: str) -> FieldValue:
        return cls(value, os.urandom(SALT_LENGTH))

    def to_plaintext(self) -> bytes:
        document = {"value": self.value, "salt": to_hex(self.salt)}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_plaintext(cls, plaintext: bytes) -> FieldValue:
        """Parse strictly; anything else is :class:`InvalidRecord`."""
        try:
            document = json.loads(plaintext.decode("utf-8"), object_pairs_hook=_no_duplicates)
            if not isinstance(document, dict) or set(document) != {"value", "salt"}:
                raise ValueError("unexpected members")
            salt = document["salt"]
            if not isinstance(salt, str):
                raise ValueError("salt is not a string")
            return cls(document["value"], from_hex(salt, length=SALT_LENGTH))
        except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
            raise InvalidRecord() from None

    def __repr__(self) -> str:
        return "FieldValue(value=<redacted>, salt=<redacted>)"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate member")
    return document


def field_aad(*, resident: str, field: str, version: int) -> bytes:
    """UTF-8 of ``"{resident}:{field}:{version}"``, lower-case address."""
    name_to_bytes32(field)
    return f"{lower_address(resident)}:{field}:{check_version(version)}".encode()


def new_field_key() -> bytes:
    """A fresh 256-bit AES key; one per field and record version."""
    return AESGCM.generate_key(bit_length=256)


def encrypt_field(
    key: bytes, value: FieldValue, *, resident: str, field: str, version: int
) -> tuple[bytes, bytes]:
    """Encrypt under a fresh random nonce; returns ``(nonce, ciphertext)``."""
    nonce = os.urandom(NONCE_LENGTH)
    ciphertext = unsafe_encrypt_field(
        key, value, nonce=nonce, resident=resident, field=field, version=version
    )
    return nonce, ciphertext


def unsafe_encrypt_field(
    key: bytes, value: FieldValue, *, nonce: bytes, resident: str, field: str, version: int
) -> bytes:
    """Deterministic encryption with a caller-chosen nonce — for known-answer tests ONLY.

    Reusing a (key, nonce) pair with AES-GCM destroys confidentiality and
    authenticity; production code calls :func:`encrypt_field`.
    """
    if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
        raise ValueError(f"field keys are {KEY_LENGTH} bytes")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_LENGTH:
        raise ValueError(f"nonces are {NONCE_LENGTH} bytes")
    aad = field_aad(resident=resident, field=field, version=version)
    return AESGCM(key).encrypt(nonce, value.to_plaintext(), aad)


def decrypt_field(
    key: bytes, *, nonce: bytes, ciphertext: bytes, resident: str, field: str, version: int
) -> FieldValue:
    """Decrypt and parse one field; :class:`InvalidRecord` on any failure."""
    try:
        if len(key) != KEY_LENGTH or len(nonce) != NONCE_LENGTH:
            raise ValueError("bad key or nonce length")
        aad = field_aad(resident=resident, field=field, version=version)
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError, TypeError):
        raise InvalidRecord() from None
    return FieldValue.from_plaintext(plaintext)
