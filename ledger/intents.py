"""The EIP-712 intents: the one source of truth for their types.

Wallets sign with these definitions, the relayer encodes calls with them, the API
publishes them at ``GET /eip712`` and a test checks that every contract's
``*_TYPEHASH`` is the hash of :func:`encode_type` — so a type changed here and
not in Solidity (or the reverse) fails loudly instead of producing signatures
that recover to a stranger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "ResidentConsentLedger"
DOMAIN_VERSION = "1"

EIP712_DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


@dataclass(frozen=True)
class IntentType:
    """One EIP-712 primary type: its fields, who signs it, which contract verifies it."""

    name: str
    fields: tuple[tuple[str, str], ...]
    signer_field: str
    contract: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)


def _intent(name: str, signer: str, contract: str, spec: str) -> IntentType:
    fields = tuple(
        (part.split()[1], part.split()[0]) for part in (p.strip() for p in spec.split(","))
    )
    return IntentType(name=name, fields=fields, signer_field=signer, contract=contract)


DIRECTORY = "ConsentDirectory"
LEDGER = "ConsentLedger"

#: The furthest ahead of chain time an intent's ``deadline`` may lie: the contracts
#: refuse more (``SignedIntentDeadlineTooFar``, their ``MAX_DEADLINE_AHEAD``), so a
#: signature cannot stay valid forever. A test holds the two equal.
MAX_DEADLINE_AHEAD = 30 * 86_400
#: How far an ``Attest``'s ``issuedAt`` may lie from the time of the block that records
#: it (``ConsentDirectoryAttestationTime``, the directory's ``ATTEST_TIME_WINDOW``):
#: the chain, not the issuer, dates an attestation.
ATTEST_TIME_WINDOW = 300

#: Every intent of DESIGN's "Intents" table, and the admin's intents that cut an actor
#: off (``SetDepartmentActive``, ``RevokeRole``, ``DistrustIssuer``) or replace a
#: department's key (``RotateDepartmentKey``). ``signer_field`` names the message
#: field whose address must sign; ``None``-free so the relayer can check it
#: before queueing. The admin's intents and ``EnrollResident`` are signed by whoever
#: holds the role, which no message field names: their signer field is ``""``.
INTENTS: Mapping[str, IntentType] = {
    t.name: t
    for t in (
        _intent(
            "RegisterDepartment",
            "",
            DIRECTORY,
            "address department, string name, string code, bytes encryptionKey,"
            " uint256 nonce, uint256 deadline",
        ),
        _intent(
            "GrantRole",
            "",
            DIRECTORY,
            "bytes32 role, address account, bytes32[] fields, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "SetDepartmentActive",
            "",
            DIRECTORY,
            "address department, bool active, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "RevokeRole",
            "",
            DIRECTORY,
            "bytes32 role, address account, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "DistrustIssuer",
            "",
            DIRECTORY,
            "address issuer, bytes32[] fields, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "RotateDepartmentKey",
            "",
            DIRECTORY,
            "address department, bytes encryptionKey, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "EnrollResident",
            "",
            LEDGER,
            "address resident, bytes32 idCommitment, bytes encryptionKey,"
            " uint256 nonce, uint256 deadline",
        ),
        _intent(
            "CommitRecord",
            "resident",
            LEDGER,
            "address resident, uint64 version, bytes32 root, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "Attest",
            "issuer",
            DIRECTORY,
            "address issuer, address resident, bytes32 field, bytes32 commitment,"
            " uint64 issuedAt, uint64 expiresAt",
        ),
        _intent(
            "AccessRequest",
            "department",
            LEDGER,
            "address department, address resident, bytes32[] fields, bytes32 purpose,"
            " uint64 duration, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "Grant",
            "resident",
            LEDGER,
            "address resident, address department, bytes32[] fields, bytes32 purpose,"
            " uint64 validFrom, uint64 validUntil, uint32 maxUses, bytes32 requestId,"
            " uint256 nonce, uint256 deadline",
        ),
        _intent(
            "Revoke",
            "resident",
            LEDGER,
            "address resident, uint256 consentId, uint256 nonce, uint256 deadline",
        ),
        _intent(
            "Access",
            "department",
            LEDGER,
            "address department, address resident, uint256 consentId, bytes32[] fields,"
            " uint256 nonce, uint256 deadline",
        ),
    )
}


def encode_type(name: str) -> str:
    """``Grant(address resident,...)`` — the string whose keccak is the type hash."""
    intent = INTENTS[name]
    return f"{name}({','.join(f'{t} {n}' for n, t in intent.fields)})"


def type_hash(name: str) -> bytes:
    return keccak(text=encode_type(name))


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def eip712_types(name: str) -> dict[str, list[dict[str, str]]]:
    """The ``types`` member for one intent, with ``EIP712Domain`` as wallets expect it."""
    return {
        "EIP712Domain": [{"name": n, "type": t} for n, t in EIP712_DOMAIN_FIELDS],
        name: [{"name": n, "type": t} for n, t in INTENTS[name].fields],
    }


def typed_data(
    name: str, message: Mapping[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """A full EIP-712 document, usable as-is with ``encode_typed_data(full_message=...)``."""
    missing = set(INTENTS[name].field_names) - set(message)
    extra = set(message) - set(INTENTS[name].field_names)
    if missing or extra:
        raise ValueError(
            f"{name} message fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return {
        "types": eip712_types(name),
        "primaryType": name,
        "domain": domain(chain_id, verifying_contract),
        "message": dict(message),
    }


def name_to_bytes32(name: str) -> bytes:
    """Field ids and purpose codes: short ASCII names right-padded into ``bytes32``."""
    raw = name.encode("ascii")
    if not raw or len(raw) > 32 or not all(0x21 <= b <= 0x7E for b in raw):
        raise ValueError(f"not a schema name (1-32 printable ASCII, no spaces): {name!r}")
    return raw.ljust(32, b"\0")


def bytes32_to_name(value: bytes) -> str:
    if len(value) != 32:
        raise ValueError("expected 32 bytes")
    return value.rstrip(b"\0").decode("ascii")


def bytes32_label(value: bytes) -> str:
    """How the read side shows a field id, purpose code or reason: its name when the bytes
    are one (what :func:`name_to_bytes32` makes), else ``0x``-hex. Never raises for 32
    bytes: the directory only defines names, but a query may name any ``bytes32`` and its
    refusal records it. The hex form is 66 characters, so it is never taken for a name."""
    if len(value) != 32:
        raise ValueError("expected 32 bytes")
    raw = value.rstrip(b"\0")
    if raw and all(0x21 <= b <= 0x7E for b in raw):
        return raw.decode("ascii")
    return "0x" + value.hex()


def hex32_label(value: str) -> str:
    """:func:`bytes32_label` of a ``0x``-hex ``bytes32`` as the event args store it."""
    return bytes32_label(bytes.fromhex(value.removeprefix("0x")))


def label_to_bytes32(label: str) -> bytes:
    """The inverse of :func:`bytes32_label`."""
    if len(label) == 66 and label.startswith("0x"):
        return bytes.fromhex(label[2:])
    return name_to_bytes32(label)


def role_id(name: str) -> bytes:
    """OpenZeppelin's convention: ``keccak256("REGISTRAR_ROLE")``; admin is ``bytes32(0)``."""
    if name == "admin":
        return b"\0" * 32
    return keccak(text=f"{name.upper()}_ROLE")


ROLE_NAMES: tuple[str, ...] = ("admin", "registrar", "department", "issuer", "auditor", "relayer")

SEED_FIELDS: tuple[str, ...] = (
    "name",
    "id_number",
    "birth_date",
    "household_registration",
    "address",
    "phone",
    "marital_status",
    "income",
    "social_insurance",
    "health_summary",
    "vehicle",
    "property",
)

SEED_PURPOSES: tuple[str, ...] = (
    "HOUSING",
    "SOCIAL_ASSISTANCE",
    "HEALTHCARE",
    "EDUCATION",
    "EMPLOYMENT",
    "PUBLIC_SECURITY",
    "TAXATION",
    "EMERGENCY",
)

#: Denial reasons, as ``AccessDenied`` carries them (``bytes32`` ASCII) and the API names them.
DENIAL_REASONS: tuple[str, ...] = (
    "unknown_consent",
    "not_granted",
    "revoked",
    "not_yet_valid",
    "expired",
    "uses_exhausted",
    "field_not_in_scope",
)
