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
    "consent_expiring",
    "anomaly",
    "emergency_access",
    "emergency_reviewed",
    "delegate_appointed",
    "delegate_removed",
]


class NotificationOut(BaseModel):
    #: The notification's chain position (:mod:`api.feed_ids`): ``"<block>-<log index>"``
    #: for an event, ``"<block>-r<n>"`` for an expiry reminder, ``"<block>-a<n>"`` for an
    #: anomaly. The SSE ``id:`` and ``Last-Event-ID``, and an idempotency key for whoever
    #: receives it twice.
    id: str
    kind: NotificationKind
    #: The block's timestamp (chain time), in seconds.
    created_at: int
    block_number: int
    #: The event's transaction (an anomaly's: the event that raised it; a reminder: none).
    tx_hash: str | None
    resident: str | None
    department: str | None
    consent_id: int | None
    request_id: str | None = None
    #: Field, purpose and reason by schema name (0x-hex for a ``bytes32`` that is not one).
    fields: list[str] | None = None
    purpose: str | None = None
    reason: str | None = None
    #: ``delegate_*``: the delegate and its powers (bits: 1 grant, 2 revoke, 4 commit
    #: record, 8 read); on any event a delegate signed in the resident's name, who.
    delegate: str | None = None
    powers: int | None = None
    signed_by: str | None = None
    #: ``emergency_*``: the emergency access, its review deadline and (reviewed) outcome.
    access_id: int | None = None
    review_due: int | None = None
    outcome: str | None = None
    #: ``consent_expiring``: when the consent ends, and which reminder this is.
    valid_until: int | None = None
    expires_in: Literal["7d", "1d"] | None = None
    #: ``anomaly``: the rule broken (``accesses``, ``refusals`` or an always-anomalous
    #: event such as ``emergency_access``), the threshold exceeded, the hour of chain time
    #: judged and the ids of the events behind it; the id is the anomaly's id.
    rule: str | None = None
    threshold: int | None = None
    window_start: int | None = None
    window_end: int | None = None
    event_ids: list[str] | None = None


class NotificationList(BaseModel):
    data: list[NotificationOut]
    #: ``None``: the last page for now; ``/notifications/stream`` delivers what follows.
    next_cursor: str | None
