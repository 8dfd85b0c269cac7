"""Shapes of :mod:`api.routers.access_requests`: a department's signed request and the
requests as residents and departments list them."""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas.common import ReceiptOut, SignedBody


class AccessRequestBody(SignedBody):
    intent = "AccessRequest"


class DeclineRequestBody(SignedBody):
    intent = "DeclineRequest"


class WithdrawRequestBody(SignedBody):
    intent = "WithdrawRequest"


class RequestAnswered(BaseModel):
    request_id: str
    #: ``declined`` or ``withdrawn``.
    status: str
    #: The decline's reason code (``DECLINE_REASONS``); None for a withdrawal.
    reason: str | None = None
    receipt: ReceiptOut


class RequestFiled(BaseModel):
    request_id: str
    receipt: ReceiptOut


class AccessRequestOut(BaseModel):
    request_id: str
    department: str
    department_name: str | None
    resident: str
    fields: list[str]
    purpose: str
    duration: int
    requested_at: int
    #: ``pending``, ``granted`` (``consent_id`` names the consent), ``declined`` (with
    #: ``reason``), ``withdrawn``, or ``expired`` (unanswered 30 days after filing).
    status: str
    consent_id: int | None
    #: The decline's reason code; None unless declined.
    reason: str | None = None
    #: When the request was declined or withdrawn (a grant's time is the consent's).
    answered_at: int | None = None


class AccessRequestList(BaseModel):
    data: list[AccessRequestOut]
    next_cursor: str | None = None
