"""Departments file access requests; residents see them pending or answered."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, CurrentDepartment, NodeDep
from api.routers.residents import AccessRequestList, request_out
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from api.views import department_names, request_rows

router = APIRouter(prefix="/access-requests", tags=["departments"])


class RequestFiled(BaseModel):
    request_id: str
    receipt: ReceiptOut


@router.post("", response_model=RequestFiled, status_code=201)
def file_request(body: SignedBody, node: NodeDep, actor: CurrentActor) -> RequestFiled:
    """File a request (signed `AccessRequest`); `request_id` is what a `Grant` names."""
    outcome = node.relayer.submit(
        signed_intent("AccessRequest", body), expected_signer=actor.address
    )
    args = settled(outcome)
    return RequestFiled(
        request_id="0x" + bytes(args["requestId"]).hex(), receipt=receipt_out(outcome.receipt)
    )


@router.get("", response_model=AccessRequestList)
def own_requests(node: NodeDep, actor: CurrentDepartment) -> AccessRequestList:
    """The calling department's own requests."""
    with node.store.connect() as c:
        names = department_names(c)
        rows = request_rows(c, department=actor.address)
    return AccessRequestList(data=[request_out(r, names) for r in rows])
