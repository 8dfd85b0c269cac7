"""Read-model queries shared by the routers, and the JSON shapes they answer with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, RowMapping, and_, desc, or_, select

from api.deps import Actor
from api.errors import Forbidden, NotFound
from api.pagination import clamp_limit, decode_cursor, encode_cursor
from api.provenance import SignedIntentOut
from api.signed import ReceiptOut
from ledger.client import ConsentTerms
from ledger.intents import label_to_bytes32
from ledger.store import access_requests, consents, events, record_versions


class ConsentOut(BaseModel):
    consent_id: int
    resident: str
    department: str
    department_name: str | None
    fields: list[str]
    purpose: str
    valid_from: int
    valid_until: int
    max_uses: int
    uses: int
    request_id: str | None
    status: str
    granted_at: int
    revoked_at: int | None
    receipt: ReceiptOut
    #: The resident's signed ``Grant``, from the calldata of the transaction that
    #: recorded it (``GET /consents/{id}`` and the resident's own list): a wallet checks
    #: these terms against it.
    grant: SignedIntentOut | None = None


class ConsentList(BaseModel):
    data: list[ConsentOut]
    next_cursor: str | None


class EventOut(BaseModel):
    type: str
    block_number: int
    log_index: int
    tx_hash: str
    block_timestamp: int
    contract: str
    resident: str | None
    department: str | None
    consent_id: int | None
    args: dict[str, Any]


class EventList(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


def consent_status(row: Mapping[str, Any] | RowMapping, now: int) -> str:
    if row["revoked"]:
        return "revoked"
    if now >= row["valid_until"]:
        return "expired"
    if row["max_uses"] and row["uses"] >= row["max_uses"]:
        return "exhausted"
    if now < row["valid_from"]:
        return "not_yet_valid"
    return "active"


def department_names(c: Connection) -> dict[str, str]:
    rows = c.execute(
        select(events.c.department, events.c.args).where(events.c.name == "DepartmentRegistered")
    ).all()
    return {department: json.loads(args)["name"] for department, args in rows}


def consent_out(row: RowMapping, now: int, names: Mapping[str, str]) -> ConsentOut:
    return ConsentOut(
        consent_id=row["consent_id"],
        resident=row["resident"],
        department=row["department"],
        department_name=names.get(row["department"]),
        fields=json.loads(row["fields"]),
        purpose=row["purpose"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        request_id=row["request_id"],
        status=consent_status(row, now),
        granted_at=row["granted_at"],
        revoked_at=row["revoked_at"],
        receipt=ReceiptOut(
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            log_index=row["log_index"],
            block_timestamp=row["granted_at"],
        ),
    )


#: Consent ids are uint256 on chain; the read model stores them as signed 64-bit.
MAX_STORED_ID = 2**63 - 1


def consent_row(c: Connection, consent_id: int) -> RowMapping | None:
    if not 0 <= consent_id <= MAX_STORED_ID:
        return None  # never granted: the chain numbers consents from 1 upwards
    return c.execute(select(consents).where(consents.c.consent_id == consent_id)).mappings().first()


def require_consent(c: Connection, consent_id: int) -> RowMapping:
    row = consent_row(c, consent_id)
    if row is None:
        raise NotFound(f"no consent {consent_id}")
    return row


def ensure_consent_reader(actor: Actor, row: RowMapping) -> None:
    """A consent is read by its resident, its department and auditors; 403 for others."""
    if actor.address in (row["resident"], row["department"]) or actor.has("auditor"):
        return
    raise Forbidden("only the consent's resident, its department and auditors read it")


def consent_terms(row: RowMapping) -> ConsentTerms:
    return ConsentTerms(
        resident=row["resident"],
        department=row["department"],
        fields=tuple(sorted(label_to_bytes32(f) for f in json.loads(row["fields"]))),
        purpose=label_to_bytes32(row["purpose"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        max_uses=row["max_uses"],
    )


def list_consents(
    c: Connection,
    now: int,
    *,
    resident: str | None = None,
    department: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> ConsentList:
    """Newest first, by consent id."""
    size = clamp_limit(limit)
    query = select(consents)
    if resident:
        query = query.where(consents.c.resident == resident)
    if department:
        query = query.where(consents.c.department == department)
    position = decode_cursor(cursor, 1)
    if position is not None:
        query = query.where(consents.c.consent_id < position[0])
    rows = c.execute(query.order_by(desc(consents.c.consent_id)).limit(size + 1)).mappings().all()
    names = department_names(c)
    data = [consent_out(r, now, names) for r in rows[:size]]
    more = len(rows) > size
    return ConsentList(
        data=data, next_cursor=encode_cursor([data[-1].consent_id]) if more else None
    )


def latest_version(c: Connection, resident: str) -> RowMapping | None:
    return (
        c.execute(
            select(record_versions)
            .where(record_versions.c.resident == resident)
            .order_by(desc(record_versions.c.version))
            .limit(1)
        )
        .mappings()
        .first()
    )


def record_version(c: Connection, resident: str, version: int | None) -> RowMapping | None:
    """A committed version of the resident's record; ``None``: the latest."""
    if version is None:
        return latest_version(c, resident)
    query = select(record_versions).where(
        and_(record_versions.c.resident == resident, record_versions.c.version == version)
    )
    return c.execute(query).mappings().first()


def event_out(row: RowMapping) -> EventOut:
    return EventOut(
        type=row["name"],
        block_number=row["block_number"],
        log_index=row["log_index"],
        tx_hash=row["tx_hash"],
        block_timestamp=row["block_timestamp"],
        contract=row["contract"],
        resident=row["resident"],
        department=row["department"],
        consent_id=row["consent_id"],
        args=json.loads(row["args"]),
    )


def list_events(
    c: Connection,
    *,
    resident: str | None = None,
    department: str | None = None,
    types: list[str] | None = None,
    since: int | None = None,
    until: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> tuple[list[RowMapping], str | None]:
    """Events in a stable (block, log index) order with a cursor for the next page."""
    size = clamp_limit(limit)
    query = select(events)
    if resident:
        query = query.where(events.c.resident == resident)
    if department:
        query = query.where(events.c.department == department)
    if types:
        query = query.where(events.c.name.in_(types))
    if since is not None:
        query = query.where(events.c.block_timestamp >= since)
    if until is not None:
        query = query.where(events.c.block_timestamp < until)
    position = decode_cursor(cursor, 2)
    if position is not None:
        block, index = position
        if newest_first:
            query = query.where(
                or_(
                    events.c.block_number < block,
                    and_(events.c.block_number == block, events.c.log_index < index),
                )
            )
        else:
            query = query.where(
                or_(
                    events.c.block_number > block,
                    and_(events.c.block_number == block, events.c.log_index > index),
                )
            )
    if newest_first:
        query = query.order_by(desc(events.c.block_number), desc(events.c.log_index))
    else:
        query = query.order_by(events.c.block_number, events.c.log_index)
    rows = c.execute(query.limit(size + 1)).mappings().all()
    page = list(rows[:size])
    next_cursor = None
    if len(rows) > size:
        next_cursor = encode_cursor([page[-1]["block_number"], page[-1]["log_index"]])
    return page, next_cursor


def request_rows(c: Connection, **where: str) -> list[RowMapping]:
    query = select(access_requests)
    for column, value in where.items():
        query = query.where(access_requests.c[column] == value)
    return list(c.execute(query.order_by(desc(access_requests.c.block_number))).mappings().all())
