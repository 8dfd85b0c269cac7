"""Auditors list, export and verify the consent and access log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from api.deps import CurrentAuditor, NodeDep
from api.export_marker import CSV_COLUMNS, end_line, end_row
from api.pagination import MAX_POSITION
from api.schemas.audit import AuditProblemOut, EventList, VerifyOut
from api.views import event_out, list_events, service_names
from ledger.audit import verify
from ledger.codec import checksum_address

router = APIRouter(prefix="/audit", tags=["auditors"])

#: An address to filter by, in any case; the events store it checksummed.
AddressFilter = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")]


def _checksummed(address: str | None) -> str | None:
    # Any case: a mixed-case filter is not held to its checksum, only normalised.
    return None if address is None else checksum_address(address.lower())


_EXPORT_PAGE = 1000

#: An event name as the contracts spell them (``ConsentGranted``): a ``type`` filter that
#: cannot be one is a 422; a well-formed name no contract logs matches nothing.
EventName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{0,63}$")]
_CSV_COLUMNS = CSV_COLUMNS


@router.get("/events", response_model=EventList)
def audit_events(
    node: NodeDep,
    actor: CurrentAuditor,
    resident: AddressFilter = None,
    department: AddressFilter = None,
    type: Annotated[list[EventName] | None, Query()] = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    until: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> EventList:
    """Every event of the ledger in chain order, filtered; cursor-paginated. Events of a
    bundle (and of its consents) name it and its service (`bundle_id`, `service`,
    `service_name`)."""
    with node.store.connect() as c:
        rows, next_cursor = list_events(
            c,
            resident=_checksummed(resident),
            department=_checksummed(department),
            types=type,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        names = service_names(c, rows)
    return EventList(data=[event_out(r, names) for r in rows], next_cursor=next_cursor)


@router.get(
    "/export",
    responses={
        200: {
            "description": (
                "JSON lines, one event each, then the end line"
                ' `{"end":true,"events":N}`; or CSV with a header row, one row per'
                " event, then the end row: `end` in the first column and N in the second."
                " A stream that does not finish with its end marker is incomplete."
            ),
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
def audit_export(
    node: NodeDep,
    actor: CurrentAuditor,
    format: Literal["csv", "jsonl"] = "jsonl",
    resident: AddressFilter = None,
    department: AddressFilter = None,
    type: Annotated[list[EventName] | None, Query()] = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    until: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> StreamingResponse:
    """The same events streamed page by page, so memory stays flat for any size.

    The parameters are bounded and the first page read before the answer starts, so a
    bad request is a problem response, not a 200 cut short. The stream ends with an end
    marker carrying the event count; an error later on breaks the stream before it, so a
    cut export never looks complete."""

    def page(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        with node.store.connect() as c:
            rows, after = list_events(
                c,
                resident=_checksummed(resident),
                department=_checksummed(department),
                types=type,
                since=since,
                until=until,
                cursor=cursor,
                limit=_EXPORT_PAGE,
            )
            names = service_names(c, rows)
        return [event_out(r, names).model_dump() for r in rows], after

    first = page(None)

    def pages() -> Iterator[list[dict[str, Any]]]:
        events, cursor = first
        yield events
        while cursor is not None:
            events, cursor = page(cursor)
            yield events

    def jsonl() -> Iterator[str]:
        count = 0
        for events in pages():
            count += len(events)
            yield "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
        yield end_line(count)

    def as_csv() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_CSV_COLUMNS)
        count = 0
        for events in pages():
            count += len(events)
            for e in events:
                writer.writerow(
                    [
                        e[c] if c != "args" else json.dumps(e["args"], separators=(",", ":"))
                        for c in _CSV_COLUMNS
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        writer.writerow(end_row(count))
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
        unacknowledged=report.unacknowledged,
    )
