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
:func:`acceptance_typed_data` gives the document for eth-account or ethers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_canonical_address

from ledger.intents import DOMAIN_NAME, DOMAIN_VERSION
from wallets.encoding import checksum_address, from_hex, to_hex
from wallets.errors import WalletError

PRIMARY_TYPE = "Acceptance"
ACCEPTANCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("intent", "bytes32"),
    ("journalId", "uint256"),
    ("acceptedAt", "uint64"),
    ("relayer", "address"),
)
DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
)


class InvalidAcceptance(WalletError):
    """An acceptance that is malformed, not signed by the relayer it names, or not about
    the intent (or chain) the caller sent."""


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
        try:
            return cls(
                intent=from_hex(document["intent"], length=32, what="acceptance intent"),
                chain_id=_uint(document["chain_id"], 256),
                journal_id=_uint(document["journal_id"], 256),
                accepted_at=_uint(document["accepted_at"], 64),
                relayer=checksum_address(document["relayer"]),
                signature=from_hex(document["signature"], length=65, what="acceptance signature"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAcceptance(f"not an acceptance: {exc}") from exc


def _uint(value: Any, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{value!r} is not a uint{bits}")
    return value


def _type_string(name: str, fields: tuple[tuple[str, str], ...]) -> str:
    return f"{name}({','.join(f'{t} {n}' for n, t in fields)})"


@functools.lru_cache(maxsize=16)
def _domain_separator(chain_id: int) -> bytes:
    return keccak(
        keccak(text=_type_string("EIP712Domain", DOMAIN_FIELDS))
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
    )


_TYPE_HASH = keccak(text=_type_string(PRIMARY_TYPE, ACCEPTANCE_FIELDS))


def acceptance_digest(
    *, intent: bytes, chain_id: int, journal_id: int, accepted_at: int, relayer: str
) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || hashStruct(acceptance))``."""
    struct = keccak(
        _TYPE_HASH
        + bytes(intent)
        + journal_id.to_bytes(32, "big")
        + accepted_at.to_bytes(32, "big")
        + bytes(12)
        + to_canonical_address(relayer)
    )
    return keccak(b"\x19\x01" + _domain_separator(chain_id) + struct)


def acceptance_typed_data(acceptance: Acceptance | Mapping[str, Any]) -> dict[str, Any]:
    """The full EIP-712 document, for ``encode_typed_data(full_message=…)`` or ethers."""
    a = acceptance if isinstance(acceptance, Acceptance) else Acceptance.from_json(acceptance)
    return {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_FIELDS],
            PRIMARY_TYPE: [{"name": n, "type": t} for n, t in ACCEPTANCE_FIELDS],
        },
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": a.chain_id},
        "message": {
            "intent": a.intent,
            "journalId": a.journal_id,
            "acceptedAt": a.accepted_at,
            "relayer": a.relayer,
        },
    }


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
    relayer = relayer or str(Account.from_key(private_key).address)
    digest = acceptance_digest(
        intent=intent,
        chain_id=chain_id,
        journal_id=journal_id,
        accepted_at=accepted_at,
        relayer=relayer,
    )
    signed = Account.unsafe_sign_hash(digest, private_key)
    return Acceptance(intent, chain_id, journal_id, accepted_at, relayer, bytes(signed.signature))


def verify_acceptance(
    document: Acceptance | Mapping[str, Any],
    *,
    intent: bytes | None = None,
    chain_id: int | None = None,
    relayer: str | None = None,
) -> Acceptance:
    """The acceptance, once its signature recovers to the relayer it names and it is about
    ``intent`` on ``chain_id`` (and by ``relayer``) where given; else
    :class:`InvalidAcceptance`."""
    a = document if isinstance(document, Acceptance) else Acceptance.from_json(document)
    digest = acceptance_digest(
        intent=a.intent,
        chain_id=a.chain_id,
        journal_id=a.journal_id,
        accepted_at=a.accepted_at,
        relayer=a.relayer,
    )
    try:
        signer = str(Account._recover_hash(digest, signature=a.signature))
    except Exception as exc:  # eth_keys: no point on the curve, bad v
        raise InvalidAcceptance(f"the acceptance's signature does not recover: {exc}") from exc
    if signer != a.relayer:
        raise InvalidAcceptance(f"the acceptance names relayer {a.relayer} but {signer} signed it")
    if intent is not None and a.intent != bytes(intent):
        raise InvalidAcceptance(
            f"the acceptance is for intent {to_hex(a.intent)}, not the one sent ({to_hex(intent)})"
        )
    if chain_id is not None and a.chain_id != chain_id:
        raise InvalidAcceptance(f"the acceptance is for chain {a.chain_id}, not {chain_id}")
    if relayer is not None and a.relayer != checksum_address(relayer):
        raise InvalidAcceptance(f"the acceptance is by {a.relayer}, not the relayer {relayer}")
    return a
