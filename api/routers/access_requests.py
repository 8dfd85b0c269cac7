"""Departments file access requests; residents see them pending or answered."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, CurrentDepartment, NodeDep
from api.pagination import CursorQuery, LimitQuery
from api.routers.residents import AccessRequestList, list_requests
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent

router = APIRouter(prefix="/access-requests", tags=["departments"])


class RequestFiled(BaseModel):
    request_id: str
    receipt: ReceiptOut


class AccessRequestBody(SignedBody):
    intent = "AccessRequest"


@router.post("", response_model=RequestFiled, status_code=201)
def file_request(body: AccessRequestBody, node: NodeDep, actor: CurrentActor) -> RequestFiled:
    """File a request (signed `AccessRequest`); `request_id` is what a `Grant` names."""
    outcome = node.relayer.submit(signed_intent(body), expected_signer=actor.address)
    args = settled(outcome)
    return RequestFiled(
        request_id="0x" + bytes(args["requestId"]).hex(), receipt=receipt_out(outcome.receipt)
    )


@router.get("", response_model=AccessRequestList)
def own_requests(
    node: NodeDep, actor: CurrentDepartment, cursor: CursorQuery = None, limit: LimitQuery = None
) -> AccessRequestList:
    """The calling department's own requests, newest first."""
    with node.store.connect() as c:
        return list_requests(c, cursor, limit, department=actor.address)
