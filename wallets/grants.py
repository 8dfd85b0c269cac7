"""Both ends of a grant: wrapping field keys for a department, and opening what it receives.

Resident side (flow 5): :func:`wrap_keys_for_department` wraps the data keys of the
granted fields for the department's HPKE public key (recipient = the department's
address), giving the ``wrapped_keys`` member of ``POST /consents``.

Department side (flow 6): :func:`open_granted_fields` takes the ``fields`` member
of a ``POST /queries`` answer (``{name: {"ciphertext", "nonce", "wrapped_key",
"version", ...}}``), the resident's address, the department's :class:`Identity`
and the root(s) read from the chain — never the root the API reports — and
returns values and salts. Each field must

1. hash into the committed root: by the field's Merkle proof (``proof`` in the
   entry, or ``proofs[name]``), or else by recomputing the root from ``leaves``
   (every ``(fieldId, ciphertextHash)`` of the record) or, failing that, from the
   entries given, which then must be the whole record;
2. unwrap with the department's key under ``(department, field, version)``;
3. decrypt under the AAD ``(resident, field, version)``.

Any failure is the one opaque :class:`~wallets.errors.InvalidRecord`.

NOTE: DESIGN's query answer carries no proofs. Unless every field of the record
is granted, the department needs ``proof`` per field (or the list of leaves) from
the API to perform check 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger.codec import from_hex, to_hex
from wallets.errors import InvalidProof, InvalidRecord
from wallets.field_cipher import NONCE_LENGTH, FieldValue, decrypt_field
from wallets.identity import Identity
from wallets.key_wrap import RecipientPublicKey, check_version, wrap_key
from wallets.merkle import ProofLike, make_merkle_tree, standard_leaf_hash, verify_proof
from wallets.record import LEAF_ENCODING, RecordVersion, field_leaf_hash

RootLike = bytes | str


def wrap_keys_for_department(
    record: RecordVersion,
    fields: Iterable[str],
    *,
    department: str,
    department_public_key: RecipientPublicKey | bytes,
) -> dict[str, str]:
    """``{field name: "0x…"}`` — each granted field's key wrapped for the department."""
    wrapped: dict[str, str] = {}
    for name in fields:
        sealed = record.field(name)
        wrapped[name] = to_hex(
            wrap_key(
                sealed.key,
                department_public_key,
                recipient=department,
                field=name,
                version=sealed.version,
            )
        )
    if not wrapped:
        raise ValueError("a grant covers at least one field")
    return wrapped


def open_granted_fields(
    entries: Mapping[str, Mapping[str, Any]],
    *,
    resident: str,
    identity: Identity,
    root: RootLike | Mapping[int, RootLike],
    proofs: Mapping[str, ProofLike] | None = None,
    leaves: Sequence[Sequence[RootLike]] | None = None,
) -> dict[str, FieldValue]:
    """Unwrap, decrypt and check each field against the committed root (see module doc).

    ``root`` is the record root committed on chain, or ``{version: root}`` when the
    department holds roots of several versions (each entry is checked against the
    root of its own ``version``).
    """
    if not entries:
        raise InvalidRecord()
    parsed = {name: _parse_entry(entry) for name, entry in entries.items()}
    roots = _roots(root)
    out: dict[str, FieldValue] = {}
    for name, (ciphertext, nonce, wrapped, version) in parsed.items():
        expected_root = roots.get(version) if isinstance(roots, dict) else roots
        if expected_root is None:
            raise InvalidRecord()
        proof = (proofs or {}).get(name, entries[name].get("proof"))
        same_version = {n: ct for n, (ct, _, _, v) in parsed.items() if v == version}
        if not _under_root(name, ciphertext, expected_root, proof, leaves, same_version):
            raise InvalidRecord()
        key = identity.unwrap_key(wrapped, field=name, version=version)
        out[name] = decrypt_field(
            key,
            nonce=nonce,
            ciphertext=ciphertext,
            resident=resident,
            field=name,
            version=version,
        )
    return out


def _parse_entry(entry: Mapping[str, Any]) -> tuple[bytes, bytes, bytes, int]:
    try:
        return (
            from_hex(entry["ciphertext"]),
            from_hex(entry["nonce"], length=NONCE_LENGTH),
            from_hex(entry["wrapped_key"]),
            check_version(entry["version"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidRecord() from None


def _roots(root: RootLike | Mapping[int, RootLike]) -> bytes | dict[int, bytes]:
    try:
        if isinstance(root, Mapping):
            return {check_version(v): from_hex(r, length=32) for v, r in root.items()}
        return from_hex(root, length=32)
    except ValueError as exc:
        raise ValueError(f"root must be 32 bytes (or 0x-hex), per version: {exc}") from exc


def _under_root(
    name: str,
    ciphertext: bytes,
    root: bytes,
    proof: ProofLike | None,
    leaves: Sequence[Sequence[RootLike]] | None,
    ciphertexts: Mapping[str, bytes],
) -> bool:
    try:
        leaf_hash = field_leaf_hash(name, ciphertext)
        if proof is not None:
            return verify_proof(root, leaf_hash, proof)
        if leaves is not None:
            hashes = [standard_leaf_hash(LEAF_ENCODING, leaf) for leaf in leaves]
        else:
            hashes = [field_leaf_hash(n, ct) for n, ct in ciphertexts.items()]
        if leaf_hash not in hashes:
            return False
        return make_merkle_tree(sorted(hashes))[0] == root
    except (InvalidProof, ValueError, TypeError):
        return False
