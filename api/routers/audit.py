"""Auditors list, export and verify the consent and access log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.deps import CurrentAuditor, NodeDep
from api.pagination import MAX_POSITION
from api.views import EventList, event_out, list_events
from ledger.audit import verify

router = APIRouter(prefix="/audit", tags=["auditors"])

_EXPORT_PAGE = 1000
_CSV_COLUMNS = (
    "block_number",
    "log_index",
    "tx_hash",
    "block_timestamp",
    "contract",
    "type",
    "resident",
    "department",
    "consent_id",
    "args",
)


@router.get("/events", response_model=EventList)
def audit_events(
    node: NodeDep,
    actor: CurrentAuditor,
    resident: str | None = None,
    department: str | None = None,
    type: Annotated[list[str] | None, Query()] = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    until: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> EventList:
    """Every event of the ledger in chain order, filtered; cursor-paginated."""
    with node.store.connect() as c:
        rows, next_cursor = list_events(
            c,
            resident=resident,
            department=department,
            types=type,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
    return EventList(data=[event_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/export")
def audit_export(
    node: NodeDep,
    actor: CurrentAuditor,
    format: Literal["csv", "jsonl"] = "jsonl",
    resident: str | None = None,
    department: str | None = None,
    type: Annotated[list[str] | None, Query()] = None,
    since: int | None = None,
    until: int | None = None,
) -> StreamingResponse:
    """The same events streamed page by page, so memory stays flat for any size."""

    def pages() -> Iterator[list[dict[str, object]]]:
        cursor = None
        while True:
            with node.store.connect() as c:
                rows, cursor = list_events(
                    c,
                    resident=resident,
                    department=department,
                    types=type,
                    since=since,
                    until=until,
                    cursor=cursor,
                    limit=_EXPORT_PAGE,
                )
            yield [event_out(r).model_dump() for r in rows]
            if cursor is None:
                return

    def jsonl() -> Iterator[str]:
        for page in pages():
            yield "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in page)

    def as_csv() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_CSV_COLUMNS)
        for page in pages():
            for e in page:
                writer.writerow(
                    [
                        e[c] if c != "args" else json.dumps(e["args"], separators=(",", ":"))
                        for c in _CSV_COLUMNS
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    if format == "csv":
        return StreamingResponse(
            as_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="consent-ledger-events.csv"'},
        )
    return StreamingResponse(
        jsonl(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="consent-ledger-events.jsonl"'},
    )


class AuditProblemOut(BaseModel):
    kind: str
    detail: str
    receipt: dict[str, Any] | None


class VerifyOut(BaseModel):
    ok: bool
    events: int
    signatures_verified: int
    problems: list[AuditProblemOut]
    to_block: int


@router.get("/verify", response_model=VerifyOut)
def audit_verify(node: NodeDep, actor: CurrentAuditor) -> VerifyOut:
    """Re-derive every event from the chain; check the read model, every signature
    against the role it needed, and every served access against its consent."""
    to_block = node.indexer.catch_up()
    report = verify(node.client, node.store, to_block=to_block)
    return VerifyOut(
        ok=report.ok,
        events=report.events,
        signatures_verified=report.signatures_verified,
        problems=[AuditProblemOut(**p.as_json()) for p in report.problems],
        to_block=to_block,
    )
