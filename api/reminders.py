"""Expiry reminders: a consent expiring in 7 days and in 1 day, told to both its sides.

Derived from indexed chain data, in chain time. A consent's ``ConsentGranted`` schedules a
reminder per lead (:data:`LEADS`) whose time ``validUntil - lead`` is after the grant's
block (a window shorter than 7 days has no 7-day reminder). Once the indexer has reached a
block stamped at or after that time, the reminder is *placed* at the first such block
the node indexed (a block with events, or one the indexer stopped at), after that
block's events, with id ``"<block>-r<n>"`` (:mod:`api.feed_ids`). It is *skipped*
instead when, by that block, the consent was revoked or its uses spent, or chain time
has passed the next reminder's time too (a 7-day reminder overtaken by the 1-day one,
a 1-day one by expiry): a reminder is never sent for something that no longer holds.

Placement runs once per newly indexed range (:func:`api.notifications.settle`), inside the
transaction that moves the feed's watermark, so every reminder of a block is placed in
the same pass and none lands behind a cursor. Placed rows are kept, so an id is the same
after any restart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from api.feed_ids import MAX_ORDINAL, REMINDER_BASE, Position, format_id
from api.schemas.notifications import NotificationOut
from api.tables import expiry_reminders
from ledger.store import consents, events, indexed_blocks

DAY = 86_400
#: Seconds before ``validUntil`` → the reminder's name, longest lead first.
LEADS: Mapping[int, Literal["7d", "1d"]] = {7 * DAY: "7d", DAY: "1d"}


def schedule(c: Connection, after: int, through: int) -> int:
    """Schedule the reminders of consents granted in blocks ``(after, through]``."""
    granted = c.execute(
        select(
            consents.c.consent_id,
            consents.c.resident,
            consents.c.department,
            consents.c.valid_until,
            consents.c.granted_at,
        )
        .select_from(events.join(consents, consents.c.consent_id == events.c.consent_id))
        .where(
            events.c.name == "ConsentGranted",
            events.c.block_number > after,
            events.c.block_number <= through,
        )
    ).all()
    rows = [
        {
            "consent_id": consent_id,
            "lead": lead,
            "resident": resident,
            "department": department,
            "valid_until": valid_until,
            "due_at": valid_until - lead,
            "state": "pending",
        }
        for consent_id, resident, department, valid_until, granted_at in granted
        for lead in LEADS
        if valid_until - lead > granted_at
    ]
    if rows:
        c.execute(expiry_reminders.insert(), rows)
    return len(rows)


def place(c: Connection, after: int, through: int) -> int:
    """Place (or skip) every reminder due by block ``through``'s time; each lands in
    ``(after, through]``. Returns how many were placed."""
    head_time = c.execute(
        select(indexed_blocks.c.timestamp).where(indexed_blocks.c.number == through)
    ).scalar_one()
    due = (
        c.execute(
            select(expiry_reminders).where(
                expiry_reminders.c.state == "pending", expiry_reminders.c.due_at <= head_time
            )
        )
        .mappings()
        .all()
    )
    by_block: dict[int, list[RowMapping]] = defaultdict(list)
    stamps: dict[int, int] = {}
    for reminder in due:
        block, stamp = _first_block(c, reminder["due_at"], after, through)
        if _still_holds(c, reminder, block, stamp):
            by_block[block].append(reminder)
            stamps[block] = stamp
        else:
            _set(c, reminder, state="skipped")
    for block, placed in by_block.items():
        placed.sort(key=lambda r: (r["consent_id"], -r["lead"]))
        if len(placed) > MAX_ORDINAL + 1:
            raise RuntimeError(f"block {block} would hold {len(placed)} reminders")
        for n, reminder in enumerate(placed):
            _set(
                c,
                reminder,
                state="placed",
                block_number=block,
                position=REMINDER_BASE + n,
                block_timestamp=stamps[block],
            )
    return sum(len(p) for p in by_block.values())


def _set(c: Connection, reminder: RowMapping, **values: Any) -> None:
    c.execute(
        update(expiry_reminders)
        .where(
            expiry_reminders.c.consent_id == reminder["consent_id"],
            expiry_reminders.c.lead == reminder["lead"],
        )
        .values(**values)
    )


def _first_block(c: Connection, due: int, after: int, through: int) -> tuple[int, int]:
    """The first block in ``(after, through]`` stamped at or after ``due`` that the node
    indexed: one with events, or one the indexer stopped at (``through`` is one)."""
    found = []
    for number, stamp in (
        (events.c.block_number, events.c.block_timestamp),
        (indexed_blocks.c.number, indexed_blocks.c.timestamp),
    ):
        row = c.execute(
            select(number, stamp)
            .where(stamp >= due, number > after, number <= through)
            .order_by(number)
            .limit(1)
        ).first()
        if row is not None:
            found.append((int(row[0]), int(row[1])))
    return min(found)  # never empty: ``through`` is indexed and stamped at or after ``due``


def _still_holds(c: Connection, reminder: RowMapping, block: int, stamp: int) -> bool:
    """Whether the reminder is still true at ``block``: not overtaken, revoked or used up."""
    shorter = [lead for lead in LEADS if lead < reminder["lead"]]
    if stamp >= reminder["valid_until"] - max(shorter, default=0):
        return False
    consent = (
        c.execute(select(consents).where(consents.c.consent_id == reminder["consent_id"]))
        .mappings()
        .one()
    )
    mine = and_(
        events.c.resident == consent["resident"],
        events.c.consent_id == consent["consent_id"],
        events.c.block_number <= block,
    )
    if consent["revoked"]:
        revoked = c.execute(
            select(func.count()).where(mine, events.c.name == "ConsentRevoked")
        ).scalar_one()
        if revoked:
            return False
    if consent["max_uses"] and consent["uses"] >= consent["max_uses"]:
        used = c.execute(select(func.count()).where(mine, events.c.name == "AccessLogged"))
        if used.scalar_one() >= consent["max_uses"]:
            return False
    return True


def feed(
    c: Connection, address: str, after: Position | None, through: int, limit: int
) -> list[NotificationOut]:
    """Up to ``limit`` placed reminders for ``address`` (either side) after ``after``,
    up to block ``through``, in feed order."""
    r = expiry_reminders
    query = (
        select(r, consents.c.fields, consents.c.purpose)
        .join(consents, consents.c.consent_id == r.c.consent_id)
        .where(
            r.c.state == "placed",
            or_(r.c.resident == address, r.c.department == address),
            r.c.block_number <= through,
        )
    )
    if after is not None:
        block, index = after
        query = query.where(
            or_(r.c.block_number > block, and_(r.c.block_number == block, r.c.position > index))
        )
    rows = c.execute(query.order_by(r.c.block_number, r.c.position).limit(limit)).mappings()
    return [reminder_out(row) for row in rows]


def reminder_out(row: Mapping[Any, Any]) -> NotificationOut:
    return NotificationOut(
        id=format_id(row["block_number"], row["position"]),
        kind="consent_expiring",
        created_at=row["block_timestamp"],
        block_number=row["block_number"],
        tx_hash=None,
        resident=row["resident"],
        department=row["department"],
        consent_id=row["consent_id"],
        fields=json.loads(row["fields"]),
        purpose=row["purpose"],
        valid_until=row["valid_until"],
        expires_in=LEADS[row["lead"]],
    )
