"""Issuer attestations: a signed, salted commitment to one field value (DESIGN principle 4).

``commitment = keccak256(abi.encode(bytes32 fieldId, string value, bytes32 salt))``.
The issuer signs an ``Attest`` intent over it (EIP-712 domain of the
``ConsentDirectory``, whose address the caller passes in); the attestation travels
as ``{"message": {...}, "signature": "0x…"}``.

A department that received a field checks, without trusting the API:
value + salt → commitment → the issuer's signature → the issuer is trusted for
the field on chain (``is_trusted(issuer, field_id, at_timestamp)``, supplied by the
ledger client) → ``issuedAt <= now < expiresAt`` with ``now`` injected.

Trust is asked twice: at ``now`` (an issuer removed from the trust list stops
counting, whatever it signed before) and at ``issuedAt`` (an issuer cannot date an
attestation to before it was trusted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from ledger.intents import name_to_bytes32
from wallets.encoding import checksum_address, from_hex, to_hex
from wallets.errors import InvalidAttestation, InvalidIntent, InvalidSignature
from wallets.field_cipher import SALT_LENGTH
from wallets.identity import Identity
from wallets.signing import (
    PrivateKeyLike,
    address_of,
    message_to_json,
    normalize_message,
    recover_intent_signer,
    sign_intent,
)

ATTEST = "Attest"

IsTrusted = Callable[[str, bytes, int], bool]


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
    now: int,
) -> str:
    """Check value ↔ salt ↔ commitment ↔ signature ↔ trust list ↔ time; returns the issuer.

    Raises :class:`InvalidAttestation` whose ``reason`` is one of ``malformed``,
    ``bad_signature``, ``wrong_resident``, ``wrong_field``, ``commitment_mismatch``,
    ``not_yet_valid``, ``expired``, ``untrusted_issuer``. Whatever ``is_trusted``
    raises (e.g. the chain is unavailable) propagates unchanged: "cannot tell" is not
    "untrusted".
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
    for moment in (issued_at, now):
        if not is_trusted(issuer, field_id, moment):
            raise InvalidAttestation(
                "untrusted_issuer", f"{issuer} is not trusted for this field at {moment}"
            )
    return issuer
