"""Supervision alerts for auditors: the proposal's 数据铁笼, a data cage around officials'
use of data.

Judged from indexed chain events, never from rows the API writes, so an operator cannot
hide one by not writing it. Three rules:

- ``accesses``: a department's served accesses (``AccessLogged``) within an hour of chain
  time exceed its threshold;
- ``refusals``: its refused queries (``AccessDenied``) within an hour exceed its
  threshold: probing for consents it does not have;
- every event named in :data:`ALWAYS_ANOMALOUS` (an emergency access) is one by itself.

One burst, one anomaly: at each event the department's events of the rule in the hour
of chain time up to it (``(t - 3600, t]``) are counted; when they first exceed the
threshold, an anomaly opens at that event and lists them, and no other opens for that
department and rule until an hour after it. A sliding hour cannot be dodged by
straddling a clock hour, and two anomalies' windows never overlap.

Thresholds are the admin's (per department, or one for all) else the settings'; a
threshold applies to what is judged after it is set, and an anomaly once opened stays,
with the threshold it broke. Judging runs once per newly indexed range, in the
transaction that moves the feed's watermark (:func:`api.notifications.settle`); an
anomaly sits in the auditors' feed after the events of its block, id ``"<block>-a<n>"``
(:mod:`api.feed_ids`), which is also its id here. An auditor closes it with a note.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.engine import Connection, RowMapping

from api.errors import Conflict, NotFound
from api.feed_ids import ANOMALY_BASE, MAX_ORDINAL, Position, format_id
from api.schemas.notifications import NotificationOut
from api.settings import Settings
from api.tables import anomalies, anomaly_thresholds
from ledger.codec import to_hex
from ledger.store import events
from ledger.vocabulary import role_id

HOUR = 3600
#: Rule → the event it counts and the threshold attribute that bounds it per hour.
RULES: Mapping[str, tuple[str, str]] = {
    "accesses": ("AccessLogged", "accesses_per_hour"),
    "refusals": ("AccessDenied", "refusals_per_hour"),
}
#: Events that are an anomaly each, whatever the count → the rule they are reported as.
ALWAYS_ANOMALOUS: Mapping[str, str] = {
    "EmergencyAccessed": "emergency_access",
}
#: The threshold key of the default row of :data:`api.tables.anomaly_thresholds`.
DEFAULT_KEY = "*"


@dataclass(frozen=True)
class Thresholds:
    accesses_per_hour: int
    refusals_per_hour: int


def default_thresholds(settings: Settings) -> Thresholds:
    """The thresholds for departments the admin set none for (nor a default)."""
    return Thresholds(settings.anomaly_accesses_per_hour, settings.anomaly_refusals_per_hour)


def thresholds_in_force(
    c: Connection, defaults: Thresholds
) -> tuple[Thresholds, dict[str, Thresholds]]:
    """The default (the admin's, else ``defaults``) and each department's own."""
    rows = c.execute(select(anomaly_thresholds)).mappings().all()
    own = {
        r["department"]: Thresholds(r["accesses_per_hour"], r["refusals_per_hour"]) for r in rows
    }
    return own.pop(DEFAULT_KEY, defaults), own


def set_thresholds(
    c: Connection, department: str | None, thresholds: Thresholds, by: str, now: int
) -> None:
    """Set one department's thresholds (``None``: the default), replacing what was set."""
    key = DEFAULT_KEY if department is None else department
    c.execute(anomaly_thresholds.delete().where(anomaly_thresholds.c.department == key))
    c.execute(
        anomaly_thresholds.insert().values(
            department=key,
            accesses_per_hour=thresholds.accesses_per_hour,
            refusals_per_hour=thresholds.refusals_per_hour,
            set_by=by,
            set_at=now,
        )
    )


def threshold_rows(c: Connection) -> list[RowMapping]:
    return list(
        c.execute(select(anomaly_thresholds).order_by(anomaly_thresholds.c.department)).mappings()
    )


# ------------------------------------------------------------------ judging


def judge(c: Connection, after: int, through: int, defaults: Thresholds) -> int:
    """Open the anomalies raised by events in blocks ``(after, through]``; how many."""
    default, own = thresholds_in_force(c, defaults)
    found: list[dict[str, Any]] = []
    for rule, (name, attribute) in RULES.items():
        active = c.execute(
            select(events.c.department, func.min(events.c.block_timestamp))
            .where(
                events.c.name == name,
                events.c.block_number > after,
                events.c.block_number <= through,
                events.c.department.is_not(None),
            )
            .group_by(events.c.department)
        ).all()
        for department, first_new in active:
            limit = getattr(own.get(department, default), attribute)
            found += _bursts(c, rule, name, department, limit, int(first_new), after, through)
    always = c.execute(
        select(events).where(
            events.c.name.in_(list(ALWAYS_ANOMALOUS)),
            events.c.block_number > after,
            events.c.block_number <= through,
        )
    ).mappings()
    for event in always:
        found.append(
            _anomaly(ALWAYS_ANOMALOUS[event["name"]], event, [event], None)
            | {"resident": event["resident"], "consent_id": event["consent_id"]}
        )
    by_block: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for anomaly in found:
        by_block[anomaly["block_number"]].append(anomaly)
    rows = []
    for block, opened in by_block.items():
        if len(opened) > MAX_ORDINAL + 1:
            raise RuntimeError(f"block {block} would hold {len(opened)} anomalies")
        opened.sort(key=lambda a: (a["_log_index"], a["rule"], a["department"] or ""))
        for n, anomaly in enumerate(opened):
            del anomaly["_log_index"]
            rows.append(anomaly | {"position": ANOMALY_BASE + n})
    if rows:
        c.execute(anomalies.insert(), rows)
    return len(rows)


def _bursts(
    c: Connection,
    rule: str,
    name: str,
    department: str,
    limit: int,
    first_new: int,
    after: int,
    through: int,
) -> list[dict[str, Any]]:
    """The anomalies ``department``'s events of ``rule`` open among the new blocks."""
    last = c.execute(
        select(func.max(anomalies.c.created_at)).where(
            anomalies.c.department == department, anomalies.c.rule == rule
        )
    ).scalar()
    since = first_new - HOUR
    start = c.execute(
        select(func.min(events.c.block_number)).where(events.c.block_timestamp > since)
    ).scalar_one()
    rows = c.execute(
        select(
            events.c.block_number,
            events.c.log_index,
            events.c.block_timestamp,
            events.c.tx_hash,
            events.c.department,
        )
        .where(
            events.c.department == department,
            events.c.name == name,
            events.c.block_number >= start,
            events.c.block_number <= through,
            events.c.block_timestamp > since,
        )
        .order_by(events.c.block_number, events.c.log_index)
    ).mappings()
    window: deque[RowMapping] = deque()
    opened = []
    for row in rows:
        window.append(row)
        while window[0]["block_timestamp"] <= row["block_timestamp"] - HOUR:
            window.popleft()
        if row["block_number"] <= after or len(window) <= limit:
            continue
        if last is not None and row["block_timestamp"] < last + HOUR:
            continue
        opened.append(_anomaly(rule, row, list(window), limit))
        last = row["block_timestamp"]
    return opened


def _anomaly(
    rule: str, at: Mapping[Any, Any], behind: list[Any], threshold: int | None
) -> dict[str, Any]:
    stamp = int(at["block_timestamp"])
    return {
        "block_number": at["block_number"],
        "_log_index": at["log_index"],
        "rule": rule,
        "department": at["department"],
        "resident": None,
        "consent_id": None,
        "threshold": threshold,
        "window_start": stamp - HOUR if threshold is not None else stamp,
        "window_end": stamp,
        "event_ids": json.dumps([format_id(e["block_number"], e["log_index"]) for e in behind]),
        "tx_hash": at["tx_hash"],
        "created_at": stamp,
        "status": "open",
    }


# ------------------------------------------------------------------ reading


def _after(position: Position | None) -> Any:
    if position is None:
        return true()
    block, index = position
    return or_(
        anomalies.c.block_number > block,
        and_(anomalies.c.block_number == block, anomalies.c.position > index),
    )


def anomaly_rows(
    c: Connection, status: str | None, after: Position | None, through: int, limit: int
) -> list[RowMapping]:
    """Up to ``limit`` anomalies after ``after`` up to block ``through``, oldest first
    (only those of ``status``, if given)."""
    query = select(anomalies).where(_after(after), anomalies.c.block_number <= through)
    if status is not None:
        query = query.where(anomalies.c.status == status)
    query = query.order_by(anomalies.c.block_number, anomalies.c.position).limit(limit)
    return list(c.execute(query).mappings())


def anomaly_at(c: Connection, position: Position) -> RowMapping:
    row = (
        c.execute(
            select(anomalies).where(
                anomalies.c.block_number == position[0], anomalies.c.position == position[1]
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no anomaly {format_id(*position)}")
    return row


def close(c: Connection, position: Position, by: str, note: str, now: int) -> RowMapping:
    """Close an open anomaly with the auditor's note; 404 unknown, 409 closed already."""
    row = anomaly_at(c, position)
    if row["status"] != "open":
        raise Conflict(f"anomaly {format_id(*position)} was closed already")
    c.execute(
        update(anomalies)
        .where(anomalies.c.block_number == position[0], anomalies.c.position == position[1])
        .values(status="closed", closed_by=by, closed_at=now, note=note)
    )
    return anomaly_at(c, position)


def feed(c: Connection, after: Position | None, through: int, limit: int) -> list[NotificationOut]:
    """An auditor's anomaly notifications (every anomaly, open or closed since)."""
    return [anomaly_notification(r) for r in anomaly_rows(c, None, after, through, limit)]


def anomaly_notification(row: Mapping[Any, Any]) -> NotificationOut:
    return NotificationOut(
        id=format_id(row["block_number"], row["position"]),
        kind="anomaly",
        created_at=row["created_at"],
        block_number=row["block_number"],
        tx_hash=row["tx_hash"],
        resident=row["resident"],
        department=row["department"],
        consent_id=row["consent_id"],
        rule=row["rule"],
        threshold=row["threshold"],
        window_start=row["window_start"],
        window_end=row["window_end"],
        event_ids=json.loads(row["event_ids"]),
    )


_AUDITOR = to_hex(role_id("auditor"))


def holds_auditor_role(c: Connection, address: str) -> bool:
    """Whether the indexed chain has ``address`` an auditor now (its last auditor-role
    ``RoleGranted``/``RoleRevoked``): for readers with a store and no chain, the
    webhook deliverer."""
    rows = c.execute(
        select(events.c.name, events.c.args)
        .where(events.c.name.in_(("RoleGranted", "RoleRevoked")), events.c.args.contains(address))
        .order_by(events.c.block_number, events.c.log_index)
    ).all()
    held = False
    for name, raw in rows:
        args = json.loads(raw)
        if args.get("account") == address and args.get("role") == _AUDITOR:
            held = name == "RoleGranted"
    return held
