"""Issuer attestations: a signed, salted commitment to one field value (DESIGN principle 4).

``commitment = keccak256(abi.encode(bytes32 fieldId, string value, bytes32 salt))``.
The issuer signs an ``Attest`` intent over it (EIP-712 domain of the
``ConsentDirectory``, whose address the caller passes in); the attestation travels
as ``{"message": {...}, "signature": "0x…"}``, and the directory records it on chain
under its EIP-712 digest at the time of the recording block.

A department that received a field checks, without trusting the API:
value + salt → commitment → the issuer's signature → the chain recorded it
(``recorded_at(digest)``, non-zero) → the issuer was trusted for the field then and is
now (``is_trusted(issuer, field_id, at)``) → ``issuedAt <= now < expiresAt`` with
``now`` injected. Both readers are the caller's, from a chain node it chooses.

Trust is judged at the chain's time, never at the issuer's own ``issuedAt``: a key
distrusted since could write any ``issuedAt`` it likes, but the chain dates the record
(and refuses one whose ``issuedAt`` lies far from it). And any trusted issuer can attest
any resident, so an answer may carry several attestations of one field, some of them
for other values: :func:`pick_attestation` keeps the one this value and salt open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from ledger.codec import checksum_address, from_hex, to_hex
from ledger.vocabulary import name_to_bytes32
from wallets.errors import InvalidAttestation, InvalidIntent, InvalidSignature
from wallets.field_cipher import SALT_LENGTH
from wallets.identity import Identity
from wallets.signing import (
    PrivateKeyLike,
    address_of,
    intent_digest,
    message_to_json,
    normalize_message,
    recover_intent_signer,
    sign_intent,
)

ATTEST = "Attest"

#: ``is_trusted(issuer, field_id, at)``: the directory's ``isTrustedIssuer``.
IsTrusted = Callable[[str, bytes, int], bool]
#: ``recorded_at(digest)``: the directory's ``attestationRecordedAt`` (0: never recorded).
RecordedAt = Callable[[bytes], int]
#: Failures that say the attestation is not about this value at all (another value,
#: field or resident, or not a valid signature): :func:`pick_attestation` reports any
#: other failure first, since that one concerned the value in hand.
_NOT_THIS_VALUE = frozenset(
    {"malformed", "bad_signature", "wrong_resident", "wrong_field", "commitment_mismatch"}
)


def commitment(field_id: bytes, value: str, salt: bytes) -> bytes:
    """``keccak256(abi.encode(bytes32 fieldId, string value, bytes32 salt))``."""
    if not isinstance(field_id, bytes) or len(field_id) != 32:
        raise ValueError("field_id must be 32 bytes")
    if not isinstance(salt, bytes) or len(salt) != SALT_LENGTH:
        raise ValueError("salt must be 32 bytes")
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    return bytes(keccak(encode(["bytes32", "string", "bytes32"], [field_id, value, salt])))


def field_id_of(field: str | bytes) -> bytes:
    """A schema name (``"income"``) or an already padded ``bytes32`` id."""
    if isinstance(field, str):
        return name_to_bytes32(field)
    if isinstance(field, bytes) and len(field) == 32:
        return field
    raise ValueError("field must be a schema name or a 32-byte id")


@dataclass(frozen=True)
class Attestation:
    """A signed ``Attest`` message."""

    message: Mapping[str, Any]
    signature: bytes

    @property
    def issuer(self) -> str:
        return str(self.message["issuer"])

    def digest(self, *, chain_id: int, directory: str) -> bytes:
        """The EIP-712 digest the directory records this attestation under."""
        return intent_digest(ATTEST, self.message, chain_id=chain_id, verifying_contract=directory)

    def to_json(self) -> dict[str, Any]:
        return {
            "message": message_to_json(ATTEST, self.message),
            "signature": to_hex(self.signature),
        }

    @classmethod
    def from_json(cls, data: Attestation | Mapping[str, Any]) -> Attestation:
        if isinstance(data, Attestation):
            return data
        try:
            message = normalize_message(ATTEST, data["message"])
            signature = from_hex(data["signature"], length=65, what="signature")
        except (InvalidIntent, KeyError, TypeError, ValueError) as exc:
            raise InvalidAttestation("malformed", str(exc)) from exc
        return cls(message, signature)


def attest(
    issuer: PrivateKeyLike | Identity,
    *,
    resident: str,
    field: str | bytes,
    value: str,
    salt: bytes,
    issued_at: int,
    expires_at: int,
    chain_id: int,
    directory: str,
) -> Attestation:
    """Sign an ``Attest`` over the commitment to ``value`` with ``salt``."""
    if not issued_at < expires_at:
        raise ValueError("an attestation must expire after it is issued")
    field_id = field_id_of(field)
    message = normalize_message(
        ATTEST,
        {
            "issuer": issuer.address if isinstance(issuer, Identity) else address_of(issuer),
            "resident": resident,
            "field": field_id,
            "commitment": commitment(field_id, value, salt),
            "issuedAt": issued_at,
            "expiresAt": expires_at,
        },
    )
    if isinstance(issuer, Identity):  # its key may be in an agent (wallets.agent)
        signature = issuer.sign_intent(
            ATTEST, message, chain_id=chain_id, verifying_contract=directory
        )
    else:
        signature = sign_intent(
            issuer, ATTEST, message, chain_id=chain_id, verifying_contract=directory
        )
    return Attestation(message, signature)


def verify_attestation(
    attestation: Attestation | Mapping[str, Any],
    *,
    resident: str,
    field: str | bytes,
    value: str,
    salt: bytes,
    chain_id: int,
    directory: str,
    is_trusted: IsTrusted,
    recorded_at: RecordedAt,
    now: int,
) -> str:
    """Check value ↔ salt ↔ commitment ↔ signature ↔ the chain's record ↔ trust list ↔
    time; returns the issuer.

    Raises :class:`InvalidAttestation` whose ``reason`` is one of ``malformed``,
    ``bad_signature``, ``wrong_resident``, ``wrong_field``, ``commitment_mismatch``,
    ``not_yet_valid``, ``expired``, ``not_recorded``, ``untrusted_issuer``. Whatever
    ``is_trusted`` or ``recorded_at`` raises (e.g. the chain is unavailable) propagates
    unchanged: "cannot tell" is not "untrusted".
    """
    parsed = Attestation.from_json(attestation)
    message = parsed.message
    try:
        signer = recover_intent_signer(
            ATTEST, message, parsed.signature, chain_id=chain_id, verifying_contract=directory
        )
    except InvalidSignature as exc:
        raise InvalidAttestation("bad_signature", str(exc)) from exc
    issuer = parsed.issuer
    if signer != issuer:
        raise InvalidAttestation("bad_signature", f"signed by {signer}, not by issuer {issuer}")
    if message["resident"] != checksum_address(resident):
        raise InvalidAttestation("wrong_resident", f"attests {message['resident']}")
    field_id = field_id_of(field)
    if message["field"] != field_id:
        raise InvalidAttestation("wrong_field", f"attests field {to_hex(message['field'])}")
    try:
        expected = commitment(field_id, value, salt)
    except ValueError as exc:
        raise InvalidAttestation("commitment_mismatch", str(exc)) from exc
    if message["commitment"] != expected:
        raise InvalidAttestation("commitment_mismatch", "value and salt do not open the commitment")
    issued_at, expires_at = message["issuedAt"], message["expiresAt"]
    if now < issued_at:
        raise InvalidAttestation("not_yet_valid", f"issued at {issued_at}, now {now}")
    if now >= expires_at:
        raise InvalidAttestation("expired", f"expired at {expires_at}, now {now}")
    at = recorded_at(parsed.digest(chain_id=chain_id, directory=directory))
    if not at:
        raise InvalidAttestation("not_recorded", "the chain holds no record of it")
    for moment in (at, now):
        if not is_trusted(issuer, field_id, moment):
            raise InvalidAttestation(
                "untrusted_issuer", f"{issuer} is not trusted for this field at {moment}"
            )
    return issuer


def pick_attestation(
    candidates: Iterable[Attestation | Mapping[str, Any]],
    *,
    resident: str,
    field: str | bytes,
    value: str,
    salt: bytes,
    chain_id: int,
    directory: str,
    is_trusted: IsTrusted,
    recorded_at: RecordedAt,
    now: int,
) -> tuple[Attestation, str]:
    """The first of ``candidates`` that :func:`verify_attestation` accepts for this value,
    and its issuer. Others (e.g. a commitment to another value by another issuer) are
    passed over; if none holds, raises the failure of the one that came closest: one
    whose commitment this value opened, else the first.

    Raises :class:`InvalidAttestation` (reason ``absent`` for no candidates at all).
    """
    failures: list[InvalidAttestation] = []
    for candidate in candidates:
        try:
            issuer = verify_attestation(
                candidate,
                resident=resident,
                field=field,
                value=value,
                salt=salt,
                chain_id=chain_id,
                directory=directory,
                is_trusted=is_trusted,
                recorded_at=recorded_at,
                now=now,
            )
        except InvalidAttestation as exc:
            failures.append(exc)
            continue
        return Attestation.from_json(candidate), issuer
    if not failures:
        raise InvalidAttestation("absent", "no attestation of this field")
    raise next((f for f in failures if f.reason not in _NOT_THIS_VALUE), failures[0])
