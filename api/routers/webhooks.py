"""Departments and auditors subscribe a URL to their feed (Standard Webhooks)."""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, RowMapping

from api.deps import Actor, NodeDep, require_roles
from api.errors import Conflict, NotFound
from api.notifications import head_position
from api.schemas.webhooks import DeliveryOut, WebhookCreated, WebhookIn, WebhookList, WebhookOut
from api.tables import webhook_deliveries, webhooks
from api.webhooks import last_delivery, new_id, new_secret

router = APIRouter(prefix="/webhooks", tags=["notifications"])

Subscriber = Annotated[Actor, Depends(require_roles("department", "auditor"))]
WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{24}$")]
#: Subscriptions one address may hold.
MAX_WEBHOOKS = 20


def _out(c: Connection, row: RowMapping) -> WebhookOut:
    counts: dict[str, int] = dict(
        c.execute(
            select(webhook_deliveries.c.status, func.count())
            .where(webhook_deliveries.c.webhook_id == row["id"])
            .group_by(webhook_deliveries.c.status)
        ).all()
    )
    last = last_delivery(c, row["id"])
    return WebhookOut(
        id=row["id"],
        url=row["url"],
        events=json.loads(row["events"]),
        created_at=row["created_at"],
        delivered=int(counts.get("delivered", 0)),
        failed=int(counts.get("failed", 0)),
        last_delivery=None
        if last is None
        else DeliveryOut.model_validate({k: last[k] for k in DeliveryOut.model_fields}),
    )


@router.post("", status_code=201, response_model=WebhookCreated)
def add_webhook(body: WebhookIn, node: NodeDep, actor: Subscriber) -> WebhookCreated:
    """Subscribe ``url`` to the caller's notifications from now on (``events``: the
    kinds, empty for all). The answer holds the signing secret, shown only here."""
    with node.store.connect() as c, c.begin():
        held = c.execute(
            select(func.count()).select_from(webhooks).where(webhooks.c.owner == actor.address)
        ).scalar_one()
        if held >= MAX_WEBHOOKS:
            raise Conflict(f"an address may hold at most {MAX_WEBHOOKS} webhooks")
        block, index = head_position(c)
        secret = new_secret()
        row: dict[str, object] = {
            "id": new_id(),
            "owner": actor.address,
            "url": body.url,
            "events": json.dumps(sorted(set(body.events))),
            "secret": secret,
            "created_at": time.time(),
            "cursor_block": block,
            "cursor_index": index,
            "next_attempt_at": None,
        }
        c.execute(webhooks.insert().values(**row))
        out = _out(c, row)  # type: ignore[arg-type]
    return WebhookCreated(**out.model_dump(), secret=secret)


@router.get("", response_model=WebhookList)
def list_webhooks(node: NodeDep, actor: Subscriber) -> WebhookList:
    """The caller's webhooks, each with its delivery counts and last attempt."""
    with node.store.connect() as c:
        mine = select(webhooks).where(webhooks.c.owner == actor.address)
        rows = c.execute(mine.order_by(webhooks.c.created_at)).mappings().all()
        return WebhookList(data=[_out(c, r) for r in rows])


@router.delete("/{webhook_id}", status_code=204)
def remove_webhook(webhook_id: WebhookId, node: NodeDep, actor: Subscriber) -> Response:
    """End a subscription of the caller's (nothing more is sent to it)."""
    with node.store.connect() as c, c.begin():
        gone = c.execute(
            delete(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.owner == actor.address)
        ).rowcount
        if not gone:
            raise NotFound(f"no webhook {webhook_id} of yours")
        c.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
    return Response(status_code=204)
