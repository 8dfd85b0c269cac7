"""Shapes of an actor's feed (:mod:`api.routers.notifications`): DESIGN's notification,
ids and names only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

NotificationKind = Literal[
    "access_requested",
    "consent_granted",
    "consent_revoked",
    "request_declined",
    "access_logged",
    "access_denied",
]


class NotificationOut(BaseModel):
    #: The event's chain position, ``"<block>-<log index>"``: the SSE ``id:`` and
    #: ``Last-Event-ID``, and an idempotency key for whoever receives it twice.
    id: str
    kind: NotificationKind
    #: The block's timestamp (chain time), in seconds.
    created_at: int
    block_number: int
    tx_hash: str
    resident: str | None
    department: str | None
    consent_id: int | None
    request_id: str | None = None
    #: Field, purpose and reason by schema name (0x-hex for a ``bytes32`` that is not one).
    fields: list[str] | None = None
    purpose: str | None = None
    reason: str | None = None


class NotificationList(BaseModel):
    data: list[NotificationOut]
    #: ``None``: the last page for now; ``/notifications/stream`` delivers what follows.
    next_cursor: str | None
