"""The relayer's acceptance: a receipt it signs for every intent it answers as recorded.

A relayer can only delay or drop what residents and departments sign, never forge it
(principle 2 of DESIGN), so a drop must leave evidence in the signer's hands: each
answer to a signed write whose transaction was mined carries an ``acceptance``,

    {"intent": "0x…32 bytes", "chain_id": 31337, "journal_id": 42,
     "accepted_at": 1767225600, "relayer": "0x…", "signature": "0x…65 bytes"}

``intent`` is the intent's EIP-712 digest (what its signer signed: it names the chain,
the contract, the type and every field), ``accepted_at`` the Unix time the relayer
journalled it, ``journal_id`` that journal entry (``GET /audit/verify`` reports by it),
``relayer`` the account that sends the batches (the ``from`` of their transactions).

The signature is EIP-712 too, so any wallet library checks it offline: primary type
``Acceptance(bytes32 intent,uint256 journalId,uint64 acceptedAt,address relayer)`` in
the domain ``{name: "ResidentConsentLedger", version: "1", chainId}`` — no verifying
contract (no contract checks it), which also keeps it apart from every intent's domain.
Wallets check it with :func:`wallets.acceptance.verify_acceptance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger import eip712
from ledger.codec import checksum_address, from_hex, to_hex

PRIMARY_TYPE = "Acceptance"
ACCEPTANCE_FIELDS: eip712.Fields = (
    ("intent", "bytes32"),
    ("journalId", "uint256"),
    ("acceptedAt", "uint64"),
    ("relayer", "address"),
)


@dataclass(frozen=True)
class Acceptance:
    intent: bytes
    chain_id: int
    journal_id: int
    accepted_at: int
    relayer: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": to_hex(self.intent),
            "chain_id": self.chain_id,
            "journal_id": self.journal_id,
            "accepted_at": self.accepted_at,
            "relayer": self.relayer,
            "signature": to_hex(self.signature),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Acceptance:
        """ValueError (or KeyError, TypeError) for a document that is not one."""
        return cls(
            intent=from_hex(document["intent"], length=32, what="acceptance intent"),
            chain_id=_uint(document["chain_id"], 256),
            journal_id=_uint(document["journal_id"], 256),
            accepted_at=_uint(document["accepted_at"], 64),
            relayer=checksum_address(document["relayer"]),
            signature=from_hex(document["signature"], length=65, what="acceptance signature"),
        )

    def message(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "journalId": self.journal_id,
            "acceptedAt": self.accepted_at,
            "relayer": self.relayer,
        }

    def digest(self) -> bytes:
        return acceptance_digest(
            intent=self.intent,
            chain_id=self.chain_id,
            journal_id=self.journal_id,
            accepted_at=self.accepted_at,
            relayer=self.relayer,
        )


def _uint(value: Any, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{value!r} is not a uint{bits}")
    return value


def acceptance_digest(
    *, intent: bytes, chain_id: int, journal_id: int, accepted_at: int, relayer: str
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(acceptance))``."""
    message = {
        "intent": intent,
        "journalId": journal_id,
        "acceptedAt": accepted_at,
        "relayer": relayer,
    }
    return eip712.digest(PRIMARY_TYPE, ACCEPTANCE_FIELDS, message, chain_id=chain_id)


def acceptance_typed_data(acceptance: Acceptance) -> dict[str, Any]:
    """The full EIP-712 document, for ``encode_typed_data(full_message=…)`` or ethers."""
    return eip712.typed_data(
        PRIMARY_TYPE, ACCEPTANCE_FIELDS, acceptance.message(), chain_id=acceptance.chain_id
    )


def sign_acceptance(
    private_key: bytes,
    *,
    intent: bytes,
    chain_id: int,
    journal_id: int,
    accepted_at: int,
    relayer: str | None = None,
) -> Acceptance:
    """The relayer's acceptance of ``intent`` (its EIP-712 digest), signed by its key
    (``relayer``: the key's address, if the caller knows it, saves deriving it)."""
    relayer = relayer or eip712.address_of(private_key)
    digest = acceptance_digest(
        intent=intent,
        chain_id=chain_id,
        journal_id=journal_id,
        accepted_at=accepted_at,
        relayer=relayer,
    )
    signature = eip712.sign(digest, private_key)
    return Acceptance(intent, chain_id, journal_id, accepted_at, relayer, signature)
