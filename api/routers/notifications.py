"""Every signed-in actor's feed: JSON pages, and the same feed live as Server-Sent
Events (``id:`` per notification, resumed from ``Last-Event-ID``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from api.anomalies import default_thresholds
from api.deps import CurrentActor, NodeDep
from api.node import Node
from api.notifications import (
    feed_after,
    head_position,
    list_notifications,
    parse_notification_id,
    position_of,
    settle,
    sse_message,
)
from api.pagination import CursorQuery, LimitQuery
from api.schemas.notifications import NotificationList, NotificationOut

router = APIRouter(tags=["notifications"])

#: How often an open stream looks for new indexed events, and how long it stays silent
#: before a comment keeps proxies from closing it.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
_BATCH = 200


@router.get("/notifications", response_model=NotificationList)
def notifications(
    node: NodeDep, actor: CurrentActor, cursor: CursorQuery = None, limit: LimitQuery = None
) -> NotificationList:
    """The caller's notifications, oldest first, cursor-paginated: requests filed for a
    resident and every access to its record served or refused; consents granted or
    revoked and requests declined for a department; consents expiring in 7 days and in
    1 day for both; anomalies for an auditor. Ids are chain positions."""
    _settle(node)
    auditor = actor.has("auditor")
    with node.store.connect() as c:
        data, next_cursor = list_notifications(c, actor.address, cursor, limit, auditor=auditor)
    return NotificationList(data=data, next_cursor=next_cursor)


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def notification_stream(
    request: Request,
    node: NodeDep,
    actor: CurrentActor,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """The caller's feed as Server-Sent Events: each notification once, in chain order,
    with ``id:`` its chain position and ``event:`` its kind. Without ``Last-Event-ID``
    the stream starts with what is indexed next; with it, right after that
    notification (what a reconnecting ``EventSource`` sends), so nothing is missed
    across a dropped connection or a server restart."""
    if last_event_id is not None and last_event_id.strip():
        after: tuple[int, int] | None = parse_notification_id(last_event_id)
    else:
        after = await to_thread.run_sync(_head, node)
    address = actor.address
    auditor = await to_thread.run_sync(actor.has, "auditor")

    async def events() -> AsyncIterator[str]:
        position = after
        silent = 0.0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            found = await to_thread.run_sync(_read, node, address, position, auditor)
            for notification in found:
                yield sse_message(notification)
                position = position_of(notification)
            if found:
                silent = 0.0
                continue
            await asyncio.sleep(POLL_SECONDS)
            silent += POLL_SECONDS
            if silent >= KEEPALIVE_SECONDS:
                silent = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _settle(node: Node) -> None:
    settle(node.store, default_thresholds(node.settings))


def _read(
    node: Node, address: str, after: tuple[int, int] | None, auditor: bool
) -> list[NotificationOut]:
    _settle(node)
    with node.store.connect() as c:
        return feed_after(c, address, after, _BATCH, auditor=auditor)


def _head(node: Node) -> tuple[int, int]:
    with node.store.connect() as c:
        return head_position(c)
