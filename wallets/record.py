"""A resident's record at one version: encrypted fields, their envelopes and the Merkle root.

Flow 2 of DESIGN: each field value gets a fresh salt and a fresh 256-bit key,
is encrypted with AES-256-GCM (:mod:`wallets.field_cipher`), and its key is wrapped
with HPKE for the resident's own encryption key (:mod:`wallets.key_wrap`, recipient
= the resident). The server stores the envelopes::

    {"ciphertext": "0x…", "nonce": "0x…", "owner_wrapped_key": "0x…"}

and the chain stores ``(version, root)`` where ``root`` is the OpenZeppelin
``StandardMerkleTree`` root over ``(bytes32 fieldId, bytes32 keccak256(ciphertext))``
with leaf encoding ``["bytes32", "bytes32"]``.

:func:`restore` rebuilds values and salts from the stored envelopes and the keystore
alone (a new device); :meth:`RecordVersion.open` also returns the field keys, which
granting and rotation need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from ledger.codec import checksum_address, from_hex, to_hex
from ledger.vocabulary import name_to_bytes32
from wallets.errors import InvalidProof, InvalidRecord
from wallets.field_cipher import (
    NONCE_LENGTH,
    FieldValue,
    decrypt_field,
    encrypt_field,
    new_field_key,
)
from wallets.identity import Identity
from wallets.key_wrap import (
    HYBRID_WRAPPED_LENGTH,
    RecipientPublicKey,
    check_version,
    decode_public_key,
    wrap_key,
)
from wallets.merkle import ProofLike, StandardMerkleTree, standard_leaf_hash, verify_proof

LEAF_ENCODING: tuple[str, str] = ("bytes32", "bytes32")


@dataclass(frozen=True)
class FieldEnvelope:
    """What the server stores for one field of one version."""

    ciphertext: bytes
    nonce: bytes
    owner_wrapped_key: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "ciphertext": to_hex(self.ciphertext),
            "nonce": to_hex(self.nonce),
            "owner_wrapped_key": to_hex(self.owner_wrapped_key),
        }

    @classmethod
    def from_json(cls, data: FieldEnvelope | Mapping[str, Any]) -> FieldEnvelope:
        """Parse an envelope; anything malformed is :class:`InvalidRecord`."""
        if isinstance(data, FieldEnvelope):
            return data
        try:
            return cls(
                ciphertext=from_hex(data["ciphertext"]),
                nonce=from_hex(data["nonce"], length=NONCE_LENGTH),
                owner_wrapped_key=from_hex(data["owner_wrapped_key"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidRecord() from None


@dataclass(frozen=True, repr=False)
class SealedField:
    """One field of a version with everything the owner knows about it (secret)."""

    name: str
    version: int
    value: FieldValue
    key: bytes
    envelope: FieldEnvelope

    def __repr__(self) -> str:
        return f"SealedField(name={self.name!r}, version={self.version}, <secret>)"


def field_leaf(field: str, ciphertext: bytes) -> tuple[bytes, bytes]:
    """The Merkle leaf value ``(fieldId, keccak256(ciphertext))``."""
    return name_to_bytes32(field), bytes(keccak(ciphertext))


def field_leaf_hash(field: str, ciphertext: bytes) -> bytes:
    return standard_leaf_hash(LEAF_ENCODING, field_leaf(field, ciphertext))


def record_tree(ciphertexts: Mapping[str, bytes]) -> StandardMerkleTree:
    """The tree over ``{field name: ciphertext}``."""
    if not ciphertexts:
        raise ValueError("a record has at least one field")
    return StandardMerkleTree.of(
        [field_leaf(name, ct) for name, ct in ciphertexts.items()], LEAF_ENCODING
    )


def record_root(envelopes: Mapping[str, FieldEnvelope | Mapping[str, Any]]) -> bytes:
    """The root committed on chain for these envelopes (what the server re-checks)."""
    parsed = {name: FieldEnvelope.from_json(env) for name, env in envelopes.items()}
    return record_tree({name: env.ciphertext for name, env in parsed.items()}).root


def verify_field_proof(root: bytes | str, field: str, ciphertext: bytes, proof: ProofLike) -> bool:
    """Whether ``ciphertext`` is ``field``'s ciphertext under ``root``."""
    try:
        return verify_proof(root, field_leaf_hash(field, ciphertext), proof)
    except (InvalidProof, ValueError):
        return False


class RecordVersion:
    """A record at one version, with its field keys — the owner's view."""

    def __init__(
        self,
        *,
        resident: str,
        version: int,
        fields: Mapping[str, SealedField],
        owner_public_key: RecipientPublicKey,
    ) -> None:
        if not fields:
            raise ValueError("a record has at least one field")
        self._resident = checksum_address(resident)
        self._version = check_version(version)
        self._fields = dict(fields)
        self._owner_public_key = owner_public_key
        self._tree = record_tree({n: f.envelope.ciphertext for n, f in self._fields.items()})

    @classmethod
    def build(
        cls,
        values: Mapping[str, str],
        *,
        resident: str,
        version: int,
        owner_public_key: RecipientPublicKey | bytes,
        salts: Mapping[str, bytes] | None = None,
    ) -> RecordVersion:
        """Encrypt ``{field name: value}`` with fresh keys and nonces (and salts).

        ``salts`` carries an existing salt over for a field (rotation keeps the salts
        of unexposed fields so their attestations stay valid); every other field
        gets a fresh one.
        """
        resident = checksum_address(resident)
        check_version(version)
        owner_key = decode_public_key(owner_public_key)
        salts = salts or {}
        if set(salts) - set(values):
            raise ValueError(
                f"salts for fields not in the record: {sorted(set(salts) - set(values))}"
            )
        sealed: dict[str, SealedField] = {}
        for name, text in values.items():
            name_to_bytes32(name)
            value = (
                FieldValue(text, salts[name]) if name in salts else FieldValue.with_fresh_salt(text)
            )
            key = new_field_key()
            nonce, ciphertext = encrypt_field(
                key, value, resident=resident, field=name, version=version
            )
            wrapped = wrap_key(key, owner_key, recipient=resident, field=name, version=version)
            sealed[name] = SealedField(
                name, version, value, key, FieldEnvelope(ciphertext, nonce, wrapped)
            )
        return cls(resident=resident, version=version, fields=sealed, owner_public_key=owner_key)

    @classmethod
    def open(
        cls,
        envelopes: Mapping[str, FieldEnvelope | Mapping[str, Any]],
        identity: Identity,
        *,
        resident: str,
        version: int,
        root: bytes | str | None = None,
    ) -> RecordVersion:
        """Rebuild from stored envelopes and the owner's keys; :class:`InvalidRecord` on failure.

        With ``root`` (the one committed on chain) the envelopes must also hash to it.
        """
        try:
            resident = checksum_address(resident)
            check_version(version)
        except ValueError:
            raise InvalidRecord() from None
        if not envelopes:
            raise InvalidRecord()
        parsed = {name: FieldEnvelope.from_json(env) for name, env in envelopes.items()}
        sealed: dict[str, SealedField] = {}
        for name, env in parsed.items():
            key = identity.unwrap_key(env.owner_wrapped_key, field=name, version=version)
            value = decrypt_field(
                key,
                nonce=env.nonce,
                ciphertext=env.ciphertext,
                resident=resident,
                field=name,
                version=version,
            )
            sealed[name] = SealedField(name, version, value, key, env)
        # Public keys only: the private ones may be in an agent (wallets.agent).
        owner_key = decode_public_key(identity.encryption_public_key)
        hybrid = identity.hybrid_public_key
        first = next(iter(parsed.values()))
        if hybrid is not None and len(first.owner_wrapped_key) == HYBRID_WRAPPED_LENGTH:
            owner_key = decode_public_key(hybrid)
        record = cls(resident=resident, version=version, fields=sealed, owner_public_key=owner_key)
        if root is not None:
            try:
                expected = from_hex(root, length=32)
            except ValueError:
                raise InvalidRecord() from None
            if record.root != expected:
                raise InvalidRecord()
        return record

    # -- views ----------------------------------------------------------------------

    @property
    def resident(self) -> str:
        return self._resident

    @property
    def version(self) -> int:
        return self._version

    @property
    def owner_public_key(self) -> RecipientPublicKey:
        return self._owner_public_key

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self._fields)

    @property
    def fields(self) -> Mapping[str, SealedField]:
        return dict(self._fields)

    def field(self, name: str) -> SealedField:
        try:
            return self._fields[name]
        except KeyError:
            raise KeyError(f"field {name!r} is not in version {self._version}") from None

    def values(self) -> dict[str, FieldValue]:
        return {name: f.value for name, f in self._fields.items()}

    def field_key(self, name: str) -> bytes:
        return self.field(name).key

    def envelopes(self) -> dict[str, dict[str, str]]:
        """``{field name: envelope}`` ready for ``PUT /residents/{address}/record``."""
        return {name: f.envelope.to_json() for name, f in self._fields.items()}

    @property
    def tree(self) -> StandardMerkleTree:
        return self._tree

    @property
    def root(self) -> bytes:
        return self._tree.root

    def proof(self, name: str) -> list[bytes]:
        """The single-field proof for ``name``'s ciphertext under :attr:`root`."""
        return self._tree.get_proof(field_leaf(name, self.field(name).envelope.ciphertext))

    def commit_message(self, *, nonce: int, deadline: int) -> dict[str, Any]:
        """The ``CommitRecord`` message for this version."""
        return {
            "resident": self._resident,
            "version": self._version,
            "root": self.root,
            "nonce": nonce,
            "deadline": deadline,
        }

    def __repr__(self) -> str:
        return (
            f"RecordVersion(resident={self._resident}, version={self._version},"
            f" fields={list(self._fields)}, root={to_hex(self.root)})"
        )


def restore(
    envelopes: Mapping[str, FieldEnvelope | Mapping[str, Any]],
    identity: Identity,
    resident: str,
    version: int,
    *,
    root: bytes | str | None = None,
) -> dict[str, FieldValue]:
    """Values and salts from stored envelopes and the keystore alone."""
    return RecordVersion.open(
        envelopes, identity, resident=resident, version=version, root=root
    ).values()
