"""Each actor's feed: the indexed chain events that concern it, as notifications, and
what is derived from them in chain time.

The feed is a projection of the ``events`` table: a notification exists exactly when its
event was mined and indexed, its id is the event's chain position (``"<block>-<log
index>"``), and a restart can neither lose nor invent one. Who sees what is one table
(:data:`KINDS`): a resident learns of requests filed and of every access served or
refused; a department of consents granted or revoked and of requests declined.
Derived from the same events, after the events of the block they belong to: expiry
reminders for both sides of a consent (:mod:`api.reminders`, ``"<block>-r<n>"``) and,
for auditors, anomalies (:mod:`api.anomalies`, ``"<block>-a<n>"``); see
:mod:`api.feed_ids` for the id grammar. Notifications carry ids and names, never a field
value, key or ciphertext (the events hold none).

:func:`settle` derives reminders and anomalies for each newly indexed range, once, and
moves the watermark (``feed_watermark``) in the same transaction; a feed shows nothing
past the watermark, so a derived notification never lands behind a reader's cursor.
Readers settle before they read, and :class:`FeedSettler` (a thread of the app) keeps
settling for the webhook deliverer.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.engine import Connection

from api import anomalies, reminders
from api.anomalies import Thresholds
from api.feed_ids import BLOCK_END, Position, format_id, parse_id
from api.pagination import clamp_limit, decode_cursor, encode_cursor
from api.schemas.notifications import NotificationKind, NotificationOut
from api.tables import feed_watermark
from ledger.store import Store, events, indexed_blocks
from ledger.vocabulary import hex32_label

log = logging.getLogger("consent.notifications")


@dataclass(frozen=True)
class Kind:
    """What an event is called in a feed, and whose feeds it joins: the event's
    ``resident``, its ``department``, the ``delegate`` it names, every ``auditor``."""

    kind: NotificationKind
    audiences: tuple[str, ...]


KINDS: Mapping[str, Kind] = {
    "AccessRequested": Kind("access_requested", ("resident",)),
    "AccessLogged": Kind("access_logged", ("resident",)),
    "AccessDenied": Kind("access_denied", ("resident",)),
    "ConsentGranted": Kind("consent_granted", ("department",)),
    "ConsentRevoked": Kind("consent_revoked", ("department",)),
    "RequestDeclined": Kind("request_declined", ("department",)),
    "DelegateAppointed": Kind("delegate_appointed", ("resident", "delegate")),
    "DelegateRemoved": Kind("delegate_removed", ("resident", "delegate")),
    "EmergencyAccessed": Kind("emergency_access", ("resident", "auditor")),
    # A refused emergency access is an access refused, on the resident's record.
    "EmergencyDenied": Kind("access_denied", ("resident", "auditor")),
    "EmergencyReviewed": Kind("emergency_reviewed", ("auditor",)),
}


def notification_id(row: Mapping[Any, Any]) -> str:
    return format_id(row["block_number"], row["log_index"])


def parse_notification_id(value: str) -> Position:
    """The chain position a notification id names (``Last-Event-ID``); 422 otherwise."""
    return parse_id(value)


def position_of(notification: NotificationOut) -> Position:
    return parse_id(notification.id)


def _audience(address: str, kinds: frozenset[str] | None, auditor: bool) -> Any:
    by_side: dict[str, list[str]] = {
        "resident": [],
        "department": [],
        "delegate": [],
        "auditor": [],
    }
    for name, kind in KINDS.items():
        if kinds is None or kind.kind in kinds:
            for side in kind.audiences:
                by_side[side].append(name)
    return or_(
        and_(events.c.resident == address, events.c.name.in_(by_side["resident"])),
        and_(events.c.department == address, events.c.name.in_(by_side["department"])),
        # The canonical JSON of the args (ledger.codec.dumps) names the delegate so.
        and_(
            events.c.name.in_(by_side["delegate"]),
            events.c.args.contains(f'"delegate":"{address}"', autoescape=True),
        ),
        events.c.name.in_(by_side["auditor"] if auditor else []),
    )


def judged_through(c: Connection) -> int:
    """The block through which the feed is settled (-1 before the first settling)."""
    block = c.execute(
        select(feed_watermark.c.block_number).where(feed_watermark.c.id == 1)
    ).scalar()
    return -1 if block is None else int(block)


def feed_after(
    c: Connection,
    address: str,
    after: Position | None,
    limit: int,
    kinds: frozenset[str] | None = None,
    *,
    auditor: bool = False,
) -> list[NotificationOut]:
    """Up to ``limit`` notifications of ``address``'s feed after position ``after`` (only
    of ``kinds``, if given), up to the settled block; anomalies only for an ``auditor``."""
    through = judged_through(c)
    query = select(events).where(
        _audience(address, kinds, auditor), events.c.block_number <= through
    )
    if after is not None:
        block, index = after
        query = query.where(
            or_(
                events.c.block_number > block,
                and_(events.c.block_number == block, events.c.log_index > index),
            )
        )
    query = query.order_by(events.c.block_number, events.c.log_index).limit(limit)
    found = [notification_out(row) for row in c.execute(query).mappings()]
    if kinds is None or "consent_expiring" in kinds:
        found += reminders.feed(c, address, after, through, limit)
    if auditor and (kinds is None or "anomaly" in kinds):
        found += anomalies.feed(c, after, through, limit)
    found.sort(key=position_of)
    return found[:limit]


def head_position(c: Connection) -> Position:
    """A position after everything indexed so far (``(-1, …)`` before any block): a
    stream opened without ``Last-Event-ID``, or a new webhook, starts after it."""
    block = c.execute(select(func.max(indexed_blocks.c.number))).scalar()
    return (-1 if block is None else int(block)), BLOCK_END


def list_notifications(
    c: Connection, address: str, cursor: str | None, limit: int | None, *, auditor: bool = False
) -> tuple[list[NotificationOut], str | None]:
    """A page of the feed, oldest first, with the cursor of the next (``None``: the end
    for now; new notifications come after the last one)."""
    size = clamp_limit(limit)
    position = decode_cursor(cursor, 2)
    after = None if position is None else (position[0], position[1])
    page = feed_after(c, address, after, size + 1, auditor=auditor)
    more = len(page) > size
    page = page[:size]
    next_cursor = encode_cursor(list(position_of(page[-1]))) if more else None
    return page, next_cursor


def _label(value: Any) -> str | None:
    return hex32_label(value) if isinstance(value, str) and value.startswith("0x") else None


def notification_out(row: Mapping[Any, Any]) -> NotificationOut:
    """The notification of an indexed event (a row of ``events`` that :data:`KINDS` names)."""
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
        reason=_label(args.get("refusal") or args.get("reason")),
        delegate=args.get("delegate"),
        powers=args.get("powers"),
        signed_by=row.get("signed_by"),
        access_id=args.get("accessId"),
        review_due=args.get("reviewDue"),
        outcome=_label(args.get("outcome")),
    )


def sse_message(notification: NotificationOut) -> str:
    """One Server-Sent Event: ``id:`` for ``Last-Event-ID``, ``event:`` the kind."""
    data = notification.model_dump_json()
    return f"id: {notification.id}\nevent: {notification.kind}\ndata: {data}\n\n"


# ------------------------------------------------------------------ settling

_LOCKS: weakref.WeakKeyDictionary[Store, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_PG_LOCK_KEY = 0x66656564  # any constant: one advisory lock for settling the feed


def _store_lock(store: Store) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(store, threading.Lock())


def _indexed_head(c: Connection) -> int:
    block = c.execute(select(func.max(indexed_blocks.c.number))).scalar()
    return -1 if block is None else int(block)


def settle(store: Store, defaults: Thresholds) -> int:
    """Derive reminders and anomalies up to the indexed head, once per range; the block
    the feed is settled through. Cheap when nothing new was indexed (two reads)."""
    with store.connect() as c:
        mark, head = judged_through(c), _indexed_head(c)
    if head <= mark:
        return mark
    with _store_lock(store), store.begin() as c:
        if c.dialect.name == "postgresql":  # another process settling waits, then sees it done
            c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        # A write first: SQLite takes its write lock now, before this transaction reads.
        c.execute(store.upsert_ignore(feed_watermark).values(id=1, block_number=-1))
        mark, head = judged_through(c), _indexed_head(c)
        if head <= mark:
            return mark
        reminders.schedule(c, mark, head)
        reminders.place(c, mark, head)
        anomalies.judge(c, mark, head, defaults)
        c.execute(update(feed_watermark).where(feed_watermark.c.id == 1).values(block_number=head))
        return head


class FeedSettler:
    """Settles the feed as the indexer moves, so webhooks get reminders and anomalies
    without any reader asking first (readers settle too, for what they read now)."""

    def __init__(self, store: Store, defaults: Thresholds, period: float = 0.25) -> None:
        self.store = store
        self.defaults = defaults
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="feed-settler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                settle(self.store, self.defaults)
            except Exception:  # a database away: the next tick tries again
                log.exception("settling the feed failed")
