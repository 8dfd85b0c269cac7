"""Shapes of :mod:`api.routers.residents`: enrolment, record versions and their
envelopes, and the resident's access log."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.http_bounds import MAX_FIELDS, Ciphertext, Nonce, WrappedKey
from api.schemas.common import ReceiptOut, SignedBody, SignedIntentOut
from api.schemas.consents import WrappedKeys

#: The most delegates one record version's body may carry keys for.
MAX_DELEGATES = 16


class EnrollResidentBody(SignedBody):
    intent = "EnrollResident"


class Enrolled(BaseModel):
    resident: str
    receipt: ReceiptOut


class EnvelopeIn(BaseModel):
    """A field envelope within the bounds of :mod:`api.http_bounds`: an empty or absurd
    member (a wrapped key no HPKE suite makes) is a record its owner could never open."""

    ciphertext: Ciphertext
    nonce: Nonce
    owner_wrapped_key: WrappedKey


class RecordBody(SignedBody):
    intent = "CommitRecord"
    fields: dict[str, EnvelopeIn] = Field(max_length=MAX_FIELDS)
    #: The new version's field keys wrapped for the resident's delegates (each named
    #: delegate's appointment in force), stored with the commitment: ``{delegate:
    #: {field: key}}``.
    delegate_keys: dict[str, WrappedKeys] = Field(
        default_factory=dict,
        max_length=MAX_DELEGATES,
        description="the new version's field keys wrapped for the resident's delegates in"
        " force, by delegate address and field",
    )


class RecordCommitted(BaseModel):
    version: int
    root: str
    receipt: ReceiptOut


class RecordOut(BaseModel):
    resident: str
    version: int
    root: str
    fields: dict[str, dict[str, str]]
    #: The signed ``CommitRecord`` of this version, from the chain's calldata: the owner's
    #: wallet checks the envelopes' root against its own signature (``api.provenance``).
    commit: SignedIntentOut | None = None
    #: For a delegate reading it: this version's field keys wrapped for the delegate.
    wrapped_keys: dict[str, str] | None = None


class AccessLogEntry(BaseModel):
    type: str
    department: str | None
    department_name: str | None
    fields: list[str]
    purpose: str | None
    consent_id: int | None
    reason: str | None
    use: int | None
    block_timestamp: int
    receipt: ReceiptOut
    #: Under a bundle's consent: the bundle, and its service by id and by the name it had
    #: then (as :class:`api.schemas.audit.EventOut` names them).
    bundle_id: int | None = None
    service: str | None = None
    service_name: str | None = None
    #: Who signed: the department for an access, the delegate or guardian for an act in
    #: the resident's name (``ConsentGranted``, ``ConsentRevoked``, … it signed).
    signed_by: str | None = None
    #: ``EmergencyAccessed`` / ``EmergencyDenied``: break-the-glass, marked as such, with
    #: the access's id and review deadline when served.
    emergency: bool = False
    access_id: int | None = None
    review_due: int | None = None


class AccessLog(BaseModel):
    data: list[AccessLogEntry]
    next_cursor: str | None
