"""Read-model queries of emergency access: a resident's directive and the review queue.

Both come from the indexed events of ``ConsentEmergency`` (``EmergencyDirectiveSet`` and
``…Withdrawn``, ``EmergencyAccessed``, ``EmergencyReviewed``), so what is shown is what
the chain recorded and nothing else; the directive's keys are the vault's
(:mod:`api.vault`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, or_, select

from api.pagination import clamp_limit, decode_cursor, encode_cursor
from api.schemas.emergency import (
    DirectiveOut,
    EmergencyAccessOut,
    EmergencyReceipts,
    ReviewStatus,
)
from api.vault import directive_key_versions
from api.views import event_receipt
from ledger.store import events
from ledger.vocabulary import hex32_label

_DIRECTIVE_EVENTS = ("EmergencyDirectiveSet", "EmergencyDirectiveWithdrawn")


def latest_directive(c: Connection, resident: str) -> RowMapping | None:
    """The event of the resident's directive as it stands (set or withdrawn), if any."""
    return (
        c.execute(
            select(events)
            .where(events.c.resident == resident, events.c.name.in_(_DIRECTIVE_EVENTS))
            .order_by(events.c.block_number.desc(), events.c.log_index.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def directive_out(
    c: Connection, row: RowMapping, names: Mapping[str, str], now: int
) -> DirectiveOut:
    """A directive event as ``GET /emergency-directives/{resident}`` shows it; ``now``: the
    chain time an access sent now is judged at (the contract serves while ``now <=
    validUntil``)."""
    args = json.loads(row["args"])
    resident = str(row["resident"])
    if row["name"] == "EmergencyDirectiveWithdrawn":
        return DirectiveOut(
            resident=resident,
            status="withdrawn",
            department=None,
            department_name=None,
            fields=[],
            valid_until=None,
            signer=args["signer"],
            key_versions={},
            receipt=event_receipt(row),
        )
    valid_until = int(args["validUntil"])
    return DirectiveOut(
        resident=resident,
        status="active" if now <= valid_until else "expired",
        department=args["department"],
        department_name=names.get(args["department"]),
        fields=[hex32_label(f) for f in args["fields"]],
        valid_until=valid_until,
        signer=args["signer"],
        key_versions=directive_key_versions(c, resident),
        receipt=event_receipt(row),
    )


def review_status(review_due: int, review: Mapping[str, Any] | None, now: int) -> ReviewStatus:
    """``pending`` (not reviewed, deadline not passed at chain time ``now``), ``overdue``
    (not reviewed and past it, or reviewed late), ``reviewed`` (in time). Late is the
    contract's rule: a block time after the deadline."""
    if review is not None:
        return "overdue" if review["late"] else "reviewed"
    return "overdue" if now > review_due else "pending"


def _reviews(c: Connection) -> dict[int, tuple[RowMapping, dict[str, Any]]]:
    """Every review on chain, by access id (the contract takes one per access)."""
    rows = c.execute(select(events).where(events.c.name == "EmergencyReviewed")).mappings()
    found: dict[int, tuple[RowMapping, dict[str, Any]]] = {}
    for row in rows:
        args = json.loads(row["args"])
        found.setdefault(int(args["accessId"]), (row, args))
    return found


def emergency_access_out(
    row: RowMapping,
    review: tuple[RowMapping, dict[str, Any]] | None,
    names: Mapping[str, str],
    now: int,
) -> EmergencyAccessOut:
    args = json.loads(row["args"])
    review_row, review_args = review if review is not None else (None, None)
    due = int(args["reviewDue"])
    return EmergencyAccessOut(
        access_id=int(args["accessId"]),
        status=review_status(due, review_args, now),
        resident=args["resident"],
        department=args["department"],
        department_name=names.get(args["department"]),
        fields=[hex32_label(f) for f in args["fields"]],
        reason=hex32_label(args["reason"]),
        justification_hash=args["justificationHash"],
        accessed_at=int(row["block_timestamp"]),
        review_due=due,
        outcome=None if review_args is None else hex32_label(review_args["outcome"]),
        reviewer=None if review_args is None else review_args["auditor"],
        reviewed_at=None if review_row is None else int(review_row["block_timestamp"]),
        late=None if review_args is None else bool(review_args["late"]),
        notes_hash=None if review_args is None else review_args["notesHash"],
        receipts=EmergencyReceipts(
            access=event_receipt(row),
            review=None if review_row is None else event_receipt(review_row),
        ),
    )


def list_emergency_accesses(
    c: Connection,
    names: Mapping[str, str],
    *,
    now: int,
    status: ReviewStatus | None,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[EmergencyAccessOut], str | None]:
    """Served emergency accesses, oldest first (the nearest deadlines first), with their
    review and status at chain time ``now``, filtered by ``status``; cursor-paginated by
    the access's chain position.

    Statuses are derived, so the filter reads the accesses after the cursor until a page
    is full: every review is read once per call (there is at most one per access)."""
    size = clamp_limit(limit)
    reviews = _reviews(c)
    query = select(events).where(events.c.name == "EmergencyAccessed")
    position = decode_cursor(cursor, 2)
    if position is not None:
        block, index = position
        query = query.where(
            or_(
                events.c.block_number > block,
                and_(events.c.block_number == block, events.c.log_index > index),
            )
        )
    query = query.order_by(events.c.block_number, events.c.log_index)
    page: list[tuple[RowMapping, EmergencyAccessOut]] = []
    for row in c.execute(query).mappings():
        access_id = int(json.loads(row["args"])["accessId"])
        item = emergency_access_out(row, reviews.get(access_id), names, now)
        if status is None or item.status == status:
            page.append((row, item))
            if len(page) > size:
                break
    next_cursor = None
    if len(page) > size:
        page = page[:size]
        last = page[-1][0]
        next_cursor = encode_cursor([last["block_number"], last["log_index"]])
    return [item for _, item in page], next_cursor
