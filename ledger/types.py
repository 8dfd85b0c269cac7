"""The ledger's value types: a signed intent, the terms of a consent, what a submitted
intent came to, and what the contracts' views answer.

:class:`ConsentTerms` is the one type for a consent's terms wherever they come from:
the ``ConsentGranted`` event or the calldata of ``revoke``/``access`` (same names,
:meth:`~ConsentTerms.from_event`), the API's vault row (:meth:`~ConsentTerms.from_row`)
and the relayer's journal (:meth:`~ConsentTerms.from_json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import RowMapping

from ledger.abi import abi_value
from ledger.codec import ZERO32, ZERO_ADDRESS, as_bytes, checksum, dumps, to_hex
from ledger.errors import ContractError, TransactionFailed
from ledger.intents import INTENTS
from ledger.vocabulary import label_to_bytes32


@dataclass(frozen=True)
class ConsentTerms:
    """A consent's terms as its ``ConsentGranted`` event carries them; ``access`` and
    ``revoke`` take them as calldata (storage keeps only their digest)."""

    resident: str
    department: str
    fields: tuple[bytes, ...]
    purpose: bytes
    valid_from: int
    valid_until: int
    max_uses: int

    @classmethod
    def empty(cls) -> ConsentTerms:
        """Placeholder terms for a consent id the chain does not know."""
        return cls(ZERO_ADDRESS, ZERO_ADDRESS, (), ZERO32, 0, 0, 0)

    @classmethod
    def from_event(cls, args: Mapping[str, Any]) -> ConsentTerms:
        """From ``ConsentGranted``'s arguments or a decoded ``Terms`` struct (same names)."""
        return cls(
            resident=checksum(args["resident"]),
            department=checksum(args["department"]),
            fields=tuple(bytes(f) for f in args["fields"]),
            purpose=bytes(args["purpose"]),
            valid_from=int(args["validFrom"]),
            valid_until=int(args["validUntil"]),
            max_uses=int(args["maxUses"]),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | RowMapping) -> ConsentTerms:
        """From the read model's ``consents`` row (field and purpose labels)."""
        return cls(
            resident=row["resident"],
            department=row["department"],
            fields=tuple(sorted(label_to_bytes32(f) for f in json.loads(row["fields"]))),
            purpose=label_to_bytes32(row["purpose"]),
            valid_from=row["valid_from"],
            valid_until=row["valid_until"],
            max_uses=row["max_uses"],
        )

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ConsentTerms:
        return cls(
            resident=document["resident"],
            department=document["department"],
            fields=tuple(as_bytes(f) for f in document["fields"]),
            purpose=as_bytes(document["purpose"]),
            valid_from=int(document["valid_from"]),
            valid_until=int(document["valid_until"]),
            max_uses=int(document["max_uses"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "resident": self.resident,
            "department": self.department,
            "fields": [to_hex(f) for f in self.fields],
            "purpose": to_hex(self.purpose),
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "max_uses": self.max_uses,
        }

    def as_abi(self) -> tuple[Any, ...]:
        return (
            checksum(self.resident),
            checksum(self.department),
            list(self.fields),
            self.purpose,
            self.valid_from,
            self.valid_until,
            self.max_uses,
        )


@dataclass(frozen=True)
class SignedIntent:
    """An EIP-712 message of type ``name`` and its 65-byte signature."""

    name: str
    message: Mapping[str, Any]
    signature: bytes
    #: The terms the call carries beside it: a consent's (``Revoke``, ``Access``), or a
    #: bundle's consents' in order (``RevokeBundle``).
    terms: ConsentTerms | tuple[ConsentTerms, ...] | None = None

    def __post_init__(self) -> None:
        spec = INTENTS.get(self.name)
        if spec is None:
            raise ValueError(f"{self.name!r} is not an on-chain intent")
        if spec.with_terms == "one" and not isinstance(self.terms, ConsentTerms):
            raise ValueError(f"a {self.name} intent needs the consent's terms")
        if spec.with_terms == "many" and not isinstance(self.terms, tuple):
            raise ValueError(f"a {self.name} intent needs its consents' terms")

    def as_abi(self) -> tuple[Any, ...]:
        spec = INTENTS[self.name]
        structs = dict(spec.structs)
        return tuple(_abi(t, self.message[n], structs) for n, t in spec.fields)

    def terms_abi(self) -> Any:
        """The terms argument of its contract call."""
        if isinstance(self.terms, tuple):
            return [t.as_abi() for t in self.terms]
        assert self.terms is not None
        return self.terms.as_abi()

    @property
    def terms_fields(self) -> int:
        """How many fields the terms it carries name, all told (what checking them costs)."""
        if isinstance(self.terms, tuple):
            return sum(len(t.fields) for t in self.terms)
        return len(self.terms.fields) if self.terms is not None else 0

    def gas(self) -> int:
        """Its budget in a batch (:attr:`ledger.intents.IntentType.gas`)."""
        return INTENTS[self.name].gas(self.message, self.terms_fields)

    def to_json(self) -> dict[str, Any]:
        """As the relayer's journal keeps it."""
        terms: Any = None
        if isinstance(self.terms, tuple):
            terms = [t.to_json() for t in self.terms]
        elif self.terms is not None:
            terms = self.terms.to_json()
        return {
            "name": self.name,
            "message": json.loads(dumps(self.message)),
            "signature": to_hex(self.signature),
            "terms": terms,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SignedIntent:
        terms = document.get("terms")
        parsed: ConsentTerms | tuple[ConsentTerms, ...] | None = None
        if isinstance(terms, list):
            parsed = tuple(ConsentTerms.from_json(t) for t in terms)
        elif terms:
            parsed = ConsentTerms.from_json(terms)
        return cls(document["name"], document["message"], as_bytes(document["signature"]), parsed)


def _abi(kind: str, value: Any, structs: Mapping[str, Any]) -> Any:
    """A message value as the ABI encoder takes it; structs as tuples of their members."""
    if kind.endswith("[]") and kind[:-2] in structs:
        return [_abi(kind[:-2], v, structs) for v in value]
    if kind in structs:
        return tuple(_abi(t, value[n], structs) for n, t in structs[kind])
    return abi_value(kind, value)


@dataclass(frozen=True)
class BatchTx:
    """A signed batch transaction about to be sent: its hash, intent type, intent indexes."""

    tx_hash: str
    name: str
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class Receipt:
    """Where an intent's effect is recorded: transaction, block, time, log."""

    tx_hash: str
    block_number: int
    block_timestamp: int
    log_index: int | None


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    address: str
    log_index: int


@dataclass(frozen=True)
class Outcome:
    intent: SignedIntent
    receipt: Receipt
    event: Event | None = None
    error: ContractError | TransactionFailed | None = None
    extra_events: tuple[Event, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Event:
        """The primary event, or raise the decoded error."""
        if self.error is not None:
            raise self.error
        assert self.event is not None
        return self.event


@dataclass(frozen=True)
class DepartmentInfo:
    address: str
    name: str
    code: str
    encryption_key: bytes
    registered: bool
    active: bool


@dataclass(frozen=True)
class ResidentInfo:
    address: str
    id_commitment: bytes
    root: bytes
    version: int

    @property
    def enrolled(self) -> bool:
        return self.id_commitment != b"\0" * 32


@dataclass(frozen=True)
class ConsentState:
    terms_hash: bytes
    uses: int
    revoked: bool

    @property
    def exists(self) -> bool:
        return self.terms_hash != b"\0" * 24
