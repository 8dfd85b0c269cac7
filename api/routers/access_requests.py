"""Departments file access requests and may withdraw them; residents see them with their
status and decline them with a reason code."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, CurrentDepartment, NodeDep
from api.errors import BadRequest
from api.pagination import CursorQuery, LimitQuery
from api.schemas.access_requests import (
    AccessRequestBody,
    AccessRequestList,
    DeclineRequestBody,
    RequestAnswered,
    RequestFiled,
    WithdrawRequestBody,
)
from api.signed import receipt_out, settled, signed_intent
from api.views import list_requests
from ledger.codec import from_hex, to_hex
from ledger.types import SignedIntent
from ledger.vocabulary import bytes32_label

router = APIRouter(prefix="/access-requests", tags=["departments"])


@router.post("", response_model=RequestFiled, status_code=201)
def file_request(body: AccessRequestBody, node: NodeDep, actor: CurrentActor) -> RequestFiled:
    """File a request (signed `AccessRequest`); `request_id` is what a `Grant` names."""
    outcome = node.relayer.submit(signed_intent(body), expected_signer=actor.address)
    args = settled(outcome)
    return RequestFiled(request_id=to_hex(args["requestId"]), receipt=receipt_out(outcome.receipt))


@router.get("", response_model=AccessRequestList)
def own_requests(
    node: NodeDep, actor: CurrentDepartment, cursor: CursorQuery = None, limit: LimitQuery = None
) -> AccessRequestList:
    """The calling department's own requests, newest first, each with its status."""
    with node.store.connect() as c:
        return list_requests(
            c, node.chain.next_timestamp(), cursor, limit, department=actor.address
        )


def _for_path(intent: SignedIntent, request_id: str) -> None:
    """422 unless the message names the path's request: one resource, one meaning."""
    try:
        wanted = from_hex(request_id, length=32, what="request id")
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if intent.message["requestId"] != wanted:
        raise BadRequest("message.requestId differs from the path")


@router.post("/{request_id}/decline", response_model=RequestAnswered)
def decline_request(
    request_id: str, body: DeclineRequestBody, node: NodeDep, actor: CurrentActor
) -> RequestAnswered:
    """Decline a pending request filed for your data (signed `DeclineRequest`, by its
    resident) with a reason code: `NOT_NEEDED`, `TOO_MANY_FIELDS`, `TOO_LONG`,
    `UNKNOWN_DEPARTMENT` or `OTHER`. No grant can name it afterwards; answering it twice
    is 409."""
    intent = signed_intent(body)
    _for_path(intent, request_id)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return RequestAnswered(
        request_id=to_hex(args["requestId"]),
        status="declined",
        reason=bytes32_label(args["reason"]),
        receipt=receipt_out(outcome.receipt),
    )


@router.post("/{request_id}/withdraw", response_model=RequestAnswered)
def withdraw_request(
    request_id: str, body: WithdrawRequestBody, node: NodeDep, actor: CurrentDepartment
) -> RequestAnswered:
    """Withdraw a pending request your department filed (signed `WithdrawRequest`). No
    grant can name it afterwards; another department's request is 403, an answered one 409."""
    intent = signed_intent(body)
    _for_path(intent, request_id)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return RequestAnswered(
        request_id=to_hex(args["requestId"]),
        status="withdrawn",
        receipt=receipt_out(outcome.receipt),
    )
