"""HPKE (RFC 9180) wrapping of 32-byte field keys for a recipient's public key.

DESIGN, "Wire formats": base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
AES-256-GCM, single-shot (``cryptography``'s ``hpke.Suite``), encoded as
``enc || ciphertext`` — 32 + 32 + 16 = 80 bytes for a 32-byte key.

``Suite.encrypt`` takes no AAD, so the binding lives in ``info``: the UTF-8 of
``"consent-ledger/v1:{recipient}:{field}:{version}"`` with the lower-case 0x
address. A key wrapped for one (recipient, field, version) does not unwrap under
any other: the key schedule differs and the AEAD tag fails.

Optional post-quantum hybrid: ``cryptography`` 50 ships the
``MLKEM768_X25519`` KEM (draft-ietf-hpke-pq, X-Wing construction), so a recipient
may hold a :class:`HybridPrivateKey` as well. The same ``info`` binds it; its
encoding is ``enc (1120) || ciphertext (48)`` = 1168 bytes, and its public key is
published as ``ML-KEM-768 encapsulation key (1184) || X25519 key (32)``. Which suite
a wrapped key uses follows from the recipient key type on wrapping and from the
length on unwrapping; DESIGN only requires X25519.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from ledger.codec import lower_address
from ledger.vocabulary import name_to_bytes32
from wallets.errors import InvalidRecord

KEY_LENGTH = 32
INFO_PREFIX = "consent-ledger/v1"

X25519_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
HYBRID_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

_TAG_LENGTH = 16
X25519_PUBLIC_KEY_LENGTH = 32
MLKEM768_PUBLIC_KEY_LENGTH = 1184
MLKEM768_SEED_LENGTH = 64
HYBRID_PUBLIC_KEY_LENGTH = MLKEM768_PUBLIC_KEY_LENGTH + X25519_PUBLIC_KEY_LENGTH
X25519_WRAPPED_LENGTH = hpke.KEM.X25519.enc_length() + KEY_LENGTH + _TAG_LENGTH
HYBRID_WRAPPED_LENGTH = hpke.KEM.MLKEM768_X25519.enc_length() + KEY_LENGTH + _TAG_LENGTH


@dataclass(frozen=True, eq=False)
class HybridPublicKey:
    """An ML-KEM-768 + X25519 public key, kept as its two parts so it can be encoded."""

    mlkem: mlkem.MLKEM768PublicKey
    x25519: x25519.X25519PublicKey

    def to_bytes(self) -> bytes:
        return self.mlkem.public_bytes_raw() + self.x25519.public_bytes_raw()

    @classmethod
    def from_bytes(cls, raw: bytes) -> HybridPublicKey:
        if len(raw) != HYBRID_PUBLIC_KEY_LENGTH:
            raise ValueError(f"hybrid public key must be {HYBRID_PUBLIC_KEY_LENGTH} bytes")
        return cls(
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUBLIC_KEY_LENGTH]),
            x25519.X25519PublicKey.from_public_bytes(raw[MLKEM768_PUBLIC_KEY_LENGTH:]),
        )

    def hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(self.mlkem, self.x25519)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridPublicKey) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


@dataclass(frozen=True, eq=False, repr=False)
class HybridPrivateKey:
    """An ML-KEM-768 (64-byte seed) + X25519 private key."""

    mlkem: mlkem.MLKEM768PrivateKey
    x25519: x25519.X25519PrivateKey

    @classmethod
    def generate(cls) -> HybridPrivateKey:
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    def public_key(self) -> HybridPublicKey:
        return HybridPublicKey(self.mlkem.public_key(), self.x25519.public_key())

    def to_bytes(self) -> bytes:
        """``ML-KEM seed (64) || X25519 private key (32)`` — secret; for keystores only."""
        return self.mlkem.private_bytes_raw() + self.x25519.private_bytes_raw()

    @classmethod
    def from_bytes(cls, raw: bytes) -> HybridPrivateKey:
        if len(raw) != MLKEM768_SEED_LENGTH + 32:
            raise ValueError("hybrid private key must be 96 bytes")
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:MLKEM768_SEED_LENGTH]),
            x25519.X25519PrivateKey.from_private_bytes(raw[MLKEM768_SEED_LENGTH:]),
        )

    def hpke_key(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(self.mlkem, self.x25519)

    def __repr__(self) -> str:
        return "HybridPrivateKey(<secret>)"


RecipientPublicKey = x25519.X25519PublicKey | HybridPublicKey
RecipientPrivateKey = x25519.X25519PrivateKey | HybridPrivateKey


def encode_public_key(public_key: RecipientPublicKey) -> bytes:
    """The bytes published on chain as ``encryptionKey``: 32 (X25519) or 1216 (hybrid)."""
    if isinstance(public_key, HybridPublicKey):
        return public_key.to_bytes()
    return public_key.public_bytes_raw()


def decode_public_key(raw: bytes | RecipientPublicKey) -> RecipientPublicKey:
    """A recipient key from its published bytes; key objects pass through."""
    if isinstance(raw, x25519.X25519PublicKey | HybridPublicKey):
        return raw
    raw = bytes(raw)
    if len(raw) == X25519_PUBLIC_KEY_LENGTH:
        return x25519.X25519PublicKey.from_public_bytes(raw)
    if len(raw) == HYBRID_PUBLIC_KEY_LENGTH:
        return HybridPublicKey.from_bytes(raw)
    raise ValueError(
        f"encryption key must be {X25519_PUBLIC_KEY_LENGTH} (X25519) or"
        f" {HYBRID_PUBLIC_KEY_LENGTH} (ML-KEM-768+X25519) bytes, got {len(raw)}"
    )


def check_version(version: int) -> int:
    """Record versions are ``uint64`` on chain."""
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**64:
        raise ValueError(f"version must be an integer in [0, 2**64), got {version!r}")
    return version


def wrap_info(*, recipient: str, field: str, version: int) -> bytes:
    """``info`` for HPKE: UTF-8 of ``consent-ledger/v1:{recipient}:{field}:{version}``."""
    name_to_bytes32(field)  # a schema name, or ValueError
    return f"{INFO_PREFIX}:{lower_address(recipient)}:{field}:{check_version(version)}".encode()


def wrap_key(
    key: bytes,
    recipient_public_key: RecipientPublicKey | bytes,
    *,
    recipient: str,
    field: str,
    version: int,
) -> bytes:
    """Wrap a 32-byte field key for ``recipient``; returns ``enc || ciphertext``."""
    if not isinstance(key, bytes) or len(key) != KEY_LENGTH:
        raise ValueError(f"field keys are {KEY_LENGTH} bytes")
    info = wrap_info(recipient=recipient, field=field, version=version)
    public_key = decode_public_key(recipient_public_key)
    if isinstance(public_key, HybridPublicKey):
        return HYBRID_SUITE.encrypt(key, public_key.hpke_key(), info=info)
    return X25519_SUITE.encrypt(key, public_key, info=info)


def unwrap_key(
    wrapped: bytes,
    recipient_private_key: RecipientPrivateKey,
    *,
    recipient: str,
    field: str,
    version: int,
) -> bytes:
    """The field key inside ``wrapped``; :class:`InvalidRecord` on any failure whatsoever."""
    try:
        info = wrap_info(recipient=recipient, field=field, version=version)
        wrapped = bytes(wrapped)
        if isinstance(recipient_private_key, HybridPrivateKey):
            if len(wrapped) != HYBRID_WRAPPED_LENGTH:
                raise InvalidRecord()
            key = HYBRID_SUITE.decrypt(wrapped, recipient_private_key.hpke_key(), info=info)
        elif isinstance(recipient_private_key, x25519.X25519PrivateKey):
            if len(wrapped) != X25519_WRAPPED_LENGTH:
                raise InvalidRecord()
            key = X25519_SUITE.decrypt(wrapped, recipient_private_key, info=info)
        else:
            raise InvalidRecord()
    except (InvalidTag, ValueError, TypeError):
        raise InvalidRecord() from None  # opaque on purpose: no cause to inspect
    if len(key) != KEY_LENGTH:
        raise InvalidRecord()
    return key
