"""Shapes of :mod:`api.routers.public`: health, the EIP-712 types, the schema, the
department directory, nonces."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from api.schemas.common import SignedIntentOut

DepartmentStatus = Literal["active", "suspended", "revoked"]


class Health(BaseModel):
    status: str
    chain_id: int
    block_number: int
    block_timestamp: int
    #: The time the next block will carry (the head's time stands still while nothing is
    #: mined): consent windows and deadlines start here.
    next_block_timestamp: int
    contracts: dict[str, str]
    relayer_queue_depth: int
    indexer_block: int
    indexer_lag: int
    #: Why the read model cannot advance (``None`` while it can); ``status`` is not ok then.
    indexer_failure: str | None = None
    #: The relayer's account: it sends every batch and signs every acceptance.
    relayer: str | None = None


class PurposePolicyOut(BaseModel):
    #: The fields the purpose may cover, by schema name; empty: any field.
    fields: list[str]
    #: The longest a consent or request for it may last, in seconds; 0: no limit.
    max_duration: int


class Schema(BaseModel):
    fields: dict[str, str]
    purposes: dict[str, str]
    roles: dict[str, str]
    #: Each purpose's policy (``SetPurposePolicy``), purpose name → its limits.
    policies: dict[str, PurposePolicyOut] = {}


class DepartmentOut(BaseModel):
    address: str
    name: str
    code: str
    #: The current key (the last ``RotateDepartmentKey``'s, else the registration's).
    encryption_key: str
    active: bool
    #: ``active``; ``suspended`` (the admin may reinstate it); ``revoked`` (its role was
    #: revoked: it stays off).
    status: DepartmentStatus
    #: The admin's signed intent that set ``encryption_key`` (``RegisterDepartment`` or
    #: ``RotateDepartmentKey``), from the calldata of the transaction that recorded it:
    #: a wallet wraps keys only for a key the admin it trusts signed (``None`` while the
    #: read model has not seen it, or the chain cannot be read).
    key_intent: SignedIntentOut | None = None
    #: The fields it may read under a resident's emergency directive, while it holds the
    #: ``emergency`` role the admin granted with them (empty: no such role), so a wallet
    #: offers a directive only to a department that can use it.
    emergency_fields: list[str] = []


class DepartmentList(BaseModel):
    data: list[DepartmentOut]
    next_cursor: str | None = None


class Eip712(BaseModel):
    intents: dict[str, dict[str, Any]]
    #: What the types cannot say and the contracts enforce, by field kind.
    rules: dict[str, str] = {}


class Nonces(BaseModel):
    ConsentDirectory: int
    ConsentLedger: int
    #: ``AppointDelegate``, ``RemoveDelegate``: the delegates contract keeps its own.
    ConsentDelegates: int
    ConsentEmergency: int
