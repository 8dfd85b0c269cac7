"""Shapes of :mod:`api.routers.delegates`: appointing and removing a resident's delegates
(and a registrar's guardians), the list of them, and a resident's published key."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import ReceiptOut, SignedBody, SignedIntentOut
from api.schemas.consents import WrappedKeys
from ledger.store import UINT64_MAX

#: An appointment as the chain judges it at its latest block.
DelegateStatus = Literal["active", "expired", "removed"]


class AppointDelegateBody(SignedBody):
    """A signed ``AppointDelegate`` and the record's field keys wrapped for the delegate's
    own HPKE key (recipient = the delegate): the fields whose keys it needs, of the
    record ``version`` named. Empty when it needs none (a revoke-only delegate) or the
    signer holds none (a registrar appointing a guardian, a resident with no record)."""

    intent = "AppointDelegate"
    wrapped_keys: WrappedKeys = Field(default_factory=dict)
    version: Annotated[
        int | None,
        Field(
            ge=1,
            le=UINT64_MAX,
            description="the record version the wrapped keys open (default: the newest)",
        ),
    ] = None


class RemoveDelegateBody(SignedBody):
    intent = "RemoveDelegate"


class DelegationEventOut(BaseModel):
    """One appointment or removal, as the chain logged it."""

    type: Literal["DelegateAppointed", "DelegateRemoved"]
    #: Who signed it: the resident, or a registrar.
    by: str
    #: An appointment's terms (``None`` for a removal).
    powers: list[str] | None = None
    power_bits: int | None = None
    valid_until: int | None = None
    guardian: bool | None = None
    receipt: ReceiptOut
    #: The signed ``AppointDelegate``/``RemoveDelegate`` itself, from the chain's calldata.
    intent: SignedIntentOut | None = None


class DelegateOut(BaseModel):
    """One delegate of a resident, current or past: its latest appointment's terms
    (powers by name, in bit order, and as the ``uint8`` the chain holds), whether a
    registrar appointed it (a guardian), whether it was removed and by whom, its status
    at the chain's latest block, every appointment and removal with its receipt, and the
    key its wallet receives wrapped field keys for."""

    resident: str
    delegate: str
    powers: list[str]
    power_bits: int
    valid_until: int
    guardian: bool
    appointed_by: str
    removed: bool
    removed_by: str | None
    status: DelegateStatus
    #: The delegate's HPKE public key, as its enrolment (``ResidentEnrolled``) published it.
    encryption_key: str | None
    #: The record versions whose field keys are held for it.
    key_versions: list[int]
    #: The latest ``DelegateAppointed`` (and the ``DelegateRemoved`` that ended it, if any).
    receipt: ReceiptOut | None
    removal_receipt: ReceiptOut | None = None
    history: list[DelegationEventOut]


class DelegateList(BaseModel):
    data: list[DelegateOut]
    next_cursor: str | None = None


class DelegateAppointed(BaseModel):
    resident: str
    delegate: str
    powers: list[str]
    power_bits: int
    valid_until: int
    guardian: bool
    appointed_by: str
    #: The fields whose keys were stored for the delegate, and their record version.
    wrapped_fields: list[str]
    version: int | None
    receipt: ReceiptOut


class DelegateRemoved(BaseModel):
    resident: str
    delegate: str
    removed_by: str
    status: Literal["removed"] = "removed"
    receipt: ReceiptOut


class ResidentKeyOut(BaseModel):
    """A resident's HPKE public key as its enrolment published it, with the registrar's
    signed ``EnrollResident`` (from the chain's calldata) and the admin's signed
    ``GrantRole`` that made that registrar one, so a wallet checks the key against the
    admin it pinned rather than this answer."""

    resident: str
    encryption_key: str
    registrar: str
    key_intent: SignedIntentOut | None
    registrar_intent: SignedIntentOut | None
    receipt: ReceiptOut
