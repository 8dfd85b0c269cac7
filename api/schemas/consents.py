"""Shapes of :mod:`api.routers.consents`: signed grants and revocations, re-wrapped keys,
and consents as their parties read them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.http_bounds import MAX_FIELDS, WrappedKey
from api.schemas.common import ReceiptOut, SignedBody, SignedIntentOut
from ledger.store import UINT64_MAX

#: A field's wrapped keys, one per granted field (HPKE: 80 or 1168 bytes each).
WrappedKeys = Annotated[dict[str, WrappedKey], Field(max_length=MAX_FIELDS)]


class GrantBody(SignedBody):
    intent = "Grant"
    wrapped_keys: WrappedKeys
    #: The record version whose keys ``wrapped_keys`` holds. Send it: without it the
    #: newest version is assumed, which is wrong if the record moved on (a rotation)
    #: between wrapping and sending, and the department could never open the field.
    version: Annotated[
        int | None,
        Field(
            ge=1,
            le=UINT64_MAX,
            description="the record version the wrapped keys open (default: the newest;"
            " send it, since a rotation may land between wrapping and sending)",
        ),
    ] = None


class RevokeBody(SignedBody):
    intent = "Revoke"


class Granted(BaseModel):
    consent_id: int
    tx_hash: str
    block_number: int
    receipt: ReceiptOut


class Revoked(BaseModel):
    consent_id: int
    status: str
    receipt: ReceiptOut


class RewrapBody(BaseModel):
    version: Annotated[int, Field(ge=0, le=UINT64_MAX)]  # a uint64 record version
    wrapped_keys: WrappedKeys


class Rewrapped(BaseModel):
    consent_id: int
    version: int
    fields: list[str]


class ConsentOut(BaseModel):
    consent_id: int
    resident: str
    department: str
    department_name: str | None
    fields: list[str]
    purpose: str
    valid_from: int
    valid_until: int
    max_uses: int
    uses: int
    request_id: str | None
    status: str
    granted_at: int
    revoked_at: int | None
    receipt: ReceiptOut
    #: The bundle this consent was granted in, if any (``GET /bundles/{id}``).
    bundle_id: int | None = None
    #: The resident's signed ``Grant``, from the calldata of the transaction that
    #: recorded it (``GET /consents/{id}`` and the resident's own list): a wallet checks
    #: these terms against it.
    grant: SignedIntentOut | None = None


class ConsentList(BaseModel):
    data: list[ConsentOut]
    next_cursor: str | None
