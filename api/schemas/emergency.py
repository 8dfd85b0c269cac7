"""Shapes of :mod:`api.routers.emergency`: a resident's emergency directive with its
keys, an emergency department's access (answered as a query is), an auditor's review
and the review queue."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import ReceiptOut, SignedBody
from api.schemas.consents import WrappedKeys
from api.schemas.queries import QueriedField, RecordRef
from ledger.store import UINT64_MAX

#: ``GET /emergency-directives/{resident}``'s ``status``: in force (as of the next
#: block), past its ``valid_until``, or withdrawn by its resident.
DirectiveStatus = Literal["active", "expired", "withdrawn"]
#: The review queue's statuses, in chain time: not reviewed and its deadline not passed;
#: not reviewed and past it, or reviewed after it (``late``); reviewed in time.
ReviewStatus = Literal["pending", "overdue", "reviewed"]


class EmergencyDirectiveBody(SignedBody):
    intent = "EmergencyDirective"
    #: The directive's fields' keys, each wrapped by the resident's wallet for the
    #: directive's department (HPKE, as a grant's); exactly the directive's fields, so
    #: none for a withdrawal (empty ``fields``).
    wrapped_keys: WrappedKeys = Field(default_factory=dict)
    #: The record version whose keys ``wrapped_keys`` holds (default: the newest).
    version: Annotated[
        int | None,
        Field(
            ge=1,
            le=UINT64_MAX,
            description="the record version the wrapped keys open (default: the newest;"
            " send it, since a rotation may land between wrapping and sending)",
        ),
    ] = None


class DirectiveOut(BaseModel):
    resident: str
    status: DirectiveStatus
    #: ``None`` once withdrawn.
    department: str | None
    department_name: str | None
    fields: list[str]
    valid_until: int | None
    #: Who signed it: the resident, or a delegate with the grant power.
    signer: str
    #: The record versions whose keys the service holds for the directive, by field.
    key_versions: dict[str, list[int]]
    #: Where the chain recorded the directive (or its withdrawal).
    receipt: ReceiptOut


class DirectiveList(BaseModel):
    #: The directive as it stands, or nothing when the resident never left one.
    data: list[DirectiveOut]


class DirectiveRewrapBody(BaseModel):
    version: Annotated[int, Field(ge=1, le=UINT64_MAX)]
    wrapped_keys: WrappedKeys


class DirectiveRewrapped(BaseModel):
    resident: str
    version: int
    fields: list[str]


class EmergencyAccessBody(SignedBody):
    intent = "EmergencyAccess"


class EmergencyAnswer(BaseModel):
    """``POST /queries``'s answer for an emergency: the same ``receipt``, ``record`` and
    ``fields``, with the access's id and review deadline instead of a consent id."""

    access_id: int
    #: Chain time by which an auditor must review this access.
    review_due: int
    resident: str
    department: str
    reason: str
    justification_hash: str
    receipt: ReceiptOut
    record: RecordRef
    fields: dict[str, QueriedField]


class ReviewEmergencyBody(SignedBody):
    intent = "ReviewEmergency"


class Reviewed(BaseModel):
    access_id: int
    outcome: str
    #: Reviewed after the access's deadline (the chain's judgement at the review's block).
    late: bool
    reviewer: str
    notes_hash: str
    receipt: ReceiptOut


class EmergencyReceipts(BaseModel):
    access: ReceiptOut
    #: ``None`` until reviewed.
    review: ReceiptOut | None


class EmergencyAccessOut(BaseModel):
    access_id: int
    status: ReviewStatus
    resident: str
    department: str
    department_name: str | None
    fields: list[str]
    reason: str
    justification_hash: str
    accessed_at: int
    review_due: int
    #: ``justified`` or ``unjustified`` once reviewed, else ``None`` (so are the rest).
    outcome: str | None
    reviewer: str | None
    reviewed_at: int | None
    late: bool | None
    notes_hash: str | None
    receipts: EmergencyReceipts


class EmergencyAccessList(BaseModel):
    data: list[EmergencyAccessOut]
    next_cursor: str | None
    #: The chain time the statuses are judged at: the latest block's.
    as_of: int
