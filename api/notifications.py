"""Each actor's feed: the indexed chain events that concern it, as notifications.

The feed is a projection of the ``events`` table, not a table of its own: a notification
exists exactly when its event was mined and indexed, its id is the event's chain
position (``"<block>-<log index>"``), and a restart can neither lose nor invent one. Who
sees what is one table (:data:`KINDS`): a resident learns of requests filed and of every
access served or refused; a department of consents granted or revoked and of requests
declined. Notifications carry ids and names, never a field value, key or ciphertext (the
events hold none).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, RowMapping

from api.errors import BadRequest
from api.pagination import MAX_POSITION, clamp_limit, decode_cursor, encode_cursor
from api.schemas.notifications import NotificationKind, NotificationOut
from ledger.store import events
from ledger.vocabulary import hex32_label


@dataclass(frozen=True)
class Kind:
    """What an event is called in a feed, and whose feed it joins: the event's
    ``resident`` or its ``department``."""

    kind: NotificationKind
    audience: str


KINDS: Mapping[str, Kind] = {
    "AccessRequested": Kind("access_requested", "resident"),
    "AccessLogged": Kind("access_logged", "resident"),
    "AccessDenied": Kind("access_denied", "resident"),
    "ConsentGranted": Kind("consent_granted", "department"),
    "ConsentRevoked": Kind("consent_revoked", "department"),
    "RequestDeclined": Kind("request_declined", "department"),
}

_EVENT_ID = re.compile(r"^(\d{1,19})-(\d{1,10})$")


def notification_id(row: Mapping[Any, Any]) -> str:
    return f"{row['block_number']}-{row['log_index']}"


def parse_notification_id(value: str) -> tuple[int, int]:
    """The chain position a notification id names (``Last-Event-ID``); 422 otherwise."""
    match = _EVENT_ID.fullmatch(value.strip())
    if match is None or int(match[1]) > MAX_POSITION or int(match[2]) > MAX_POSITION:
        raise BadRequest(f"{value!r} is not a notification id (block-logindex, e.g. 12-0)")
    return int(match[1]), int(match[2])


def _audience(address: str, kinds: frozenset[str] | None) -> Any:
    by_side: dict[str, list[str]] = {"resident": [], "department": []}
    for name, kind in KINDS.items():
        if kinds is None or kind.kind in kinds:
            by_side[kind.audience].append(name)
    return or_(
        and_(events.c.resident == address, events.c.name.in_(by_side["resident"])),
        and_(events.c.department == address, events.c.name.in_(by_side["department"])),
    )


def feed_after(
    c: Connection,
    address: str,
    after: tuple[int, int] | None,
    limit: int,
    kinds: frozenset[str] | None = None,
) -> list[RowMapping]:
    """Up to ``limit`` events of ``address``'s feed after chain position ``after``
    (only of ``kinds``, if given)."""
    query = select(events).where(_audience(address, kinds))
    if after is not None:
        block, index = after
        query = query.where(
            or_(
                events.c.block_number > block,
                and_(events.c.block_number == block, events.c.log_index > index),
            )
        )
    query = query.order_by(events.c.block_number, events.c.log_index).limit(limit)
    return list(c.execute(query).mappings().all())


def head_position(c: Connection) -> tuple[int, int]:
    """The chain position of the last indexed event (``(-1, 0)`` before any): a stream
    opened without ``Last-Event-ID`` starts after it."""
    block = c.execute(select(func.max(events.c.block_number))).scalar()
    if block is None:
        return (-1, 0)
    index = c.execute(
        select(func.max(events.c.log_index)).where(events.c.block_number == block)
    ).scalar_one()
    return int(block), int(index)


def list_notifications(
    c: Connection, address: str, cursor: str | None, limit: int | None
) -> tuple[list[NotificationOut], str | None]:
    """A page of the feed, oldest first, with the cursor of the next (``None``: the end
    for now; new events come after the last one)."""
    size = clamp_limit(limit)
    position = decode_cursor(cursor, 2)
    after = None if position is None else (position[0], position[1])
    rows = feed_after(c, address, after, size + 1)
    page = rows[:size]
    more = len(rows) > size
    next_cursor = encode_cursor([page[-1]["block_number"], page[-1]["log_index"]]) if more else None
    return [notification_out(r) for r in page], next_cursor


def _label(value: Any) -> str | None:
    return hex32_label(value) if isinstance(value, str) and value.startswith("0x") else None


def notification_out(row: Mapping[Any, Any]) -> NotificationOut:
    args = json.loads(row["args"])
    fields = args.get("fields")
    request_id = args.get("requestId")
    if request_id is not None and int(request_id, 16) == 0:
        request_id = None
    return NotificationOut(
        id=notification_id(row),
        kind=KINDS[row["name"]].kind,
        created_at=row["block_timestamp"],
        block_number=row["block_number"],
        tx_hash=row["tx_hash"],
        resident=row["resident"],
        department=row["department"],
        consent_id=row["consent_id"],
        request_id=request_id,
        fields=None if fields is None else [hex32_label(f) for f in fields],
        purpose=_label(args.get("purpose")),
        reason=_label(args.get("reason")),
    )


def sse_message(notification: NotificationOut) -> str:
    """One Server-Sent Event: ``id:`` for ``Last-Event-ID``, ``event:`` the kind."""
    data = notification.model_dump_json()
    return f"id: {notification.id}\nevent: {notification.kind}\ndata: {data}\n\n"
