"""Supervision: the admin sets anomaly thresholds, auditors review the anomalies.

Thresholds are an API setting (not a chain write), so an admin's bearer token suffices;
anomalies themselves are judged from indexed chain events (:mod:`api.anomalies`)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.anomalies import (
    DEFAULT_KEY,
    Thresholds,
    anomaly_rows,
    close,
    default_thresholds,
    set_thresholds,
    threshold_rows,
)
from api.deps import Actor, CurrentAuditor, NodeDep, require_roles
from api.errors import NotFound
from api.feed_ids import format_id, parse_id
from api.node import Node
from api.notifications import settle
from api.pagination import CursorQuery, LimitQuery, clamp_limit, decode_cursor, encode_cursor
from api.schemas.anomalies import (
    AnomalyList,
    AnomalyOut,
    CloseAnomalyIn,
    ThresholdsIn,
    ThresholdsList,
    ThresholdsOut,
)
from api.views import department_names, department_registration
from ledger.codec import checksum_address

router = APIRouter(tags=["supervision"])

CurrentAdmin = Annotated[Actor, Depends(require_roles("admin"))]
AdminOrAuditor = Annotated[Actor, Depends(require_roles("admin", "auditor"))]
AnomalyId = Annotated[str, Path(pattern=r"^\d{1,19}-a\d{1,9}$")]


def _threshold_out(row: Mapping[Any, Any], names: Mapping[str, str]) -> ThresholdsOut:
    department = None if row["department"] == DEFAULT_KEY else row["department"]
    return ThresholdsOut(
        department=department,
        department_name=None if department is None else names.get(department),
        accesses_per_hour=row["accesses_per_hour"],
        refusals_per_hour=row["refusals_per_hour"],
        set_by=row["set_by"],
        set_at=row["set_at"],
    )


@router.put("/admin/anomaly-thresholds", response_model=ThresholdsOut)
def put_thresholds(body: ThresholdsIn, node: NodeDep, actor: CurrentAdmin) -> ThresholdsOut:
    """Set a department's anomaly thresholds (``department`` null: the default for all
    without their own), from what is judged next on; anomalies opened stay."""
    department = None if body.department is None else checksum_address(body.department.lower())
    with node.store.begin() as c:
        if department is not None and department_registration(c, department)[0] is None:
            raise NotFound(f"{department} is not a registered department")
        thresholds = Thresholds(body.accesses_per_hour, body.refusals_per_hour)
        set_thresholds(c, department, thresholds, actor.address, int(time.time()))
        key = DEFAULT_KEY if department is None else department
        row = next(r for r in threshold_rows(c) if r["department"] == key)
        return _threshold_out(row, department_names(c))


@router.get("/admin/anomaly-thresholds", response_model=ThresholdsList)
def get_thresholds(node: NodeDep, actor: AdminOrAuditor) -> ThresholdsList:
    """The thresholds in force: the default and each department's own."""
    defaults = default_thresholds(node.settings)
    with node.store.connect() as c:
        names = department_names(c)
        rows = [_threshold_out(r, names) for r in threshold_rows(c)]
    default = next((r for r in rows if r.department is None), None)
    if default is None:
        default = ThresholdsOut(
            department=None,
            accesses_per_hour=defaults.accesses_per_hour,
            refusals_per_hour=defaults.refusals_per_hour,
            set_by=None,
            set_at=None,
        )
    return ThresholdsList(default=default, departments=[r for r in rows if r.department])


def _anomaly_out(row: Mapping[Any, Any], names: Mapping[str, str]) -> AnomalyOut:
    event_ids = json.loads(row["event_ids"])
    return AnomalyOut(
        id=format_id(row["block_number"], row["position"]),
        rule=row["rule"],
        status=row["status"],
        department=row["department"],
        department_name=names.get(row["department"] or ""),
        resident=row["resident"],
        consent_id=row["consent_id"],
        threshold=row["threshold"],
        count=len(event_ids),
        window_start=row["window_start"],
        window_end=row["window_end"],
        event_ids=event_ids,
        block_number=row["block_number"],
        tx_hash=row["tx_hash"],
        created_at=row["created_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        note=row["note"],
    )


def _settled(node: Node) -> int:
    return settle(node.store, default_thresholds(node.settings))


@router.get("/audit/anomalies", response_model=AnomalyList)
def list_anomalies(
    node: NodeDep,
    actor: CurrentAuditor,
    status: Annotated[Literal["open", "closed"], Query()] = "open",
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AnomalyList:
    """Anomalies of ``status`` (default ``open``), oldest first, cursor-paginated."""
    through = _settled(node)
    size = clamp_limit(limit)
    position = decode_cursor(cursor, 2)
    after = None if position is None else (position[0], position[1])
    with node.store.connect() as c:
        rows = anomaly_rows(c, status, after, through, size + 1)
        names = department_names(c)
    page = rows[:size]
    more = len(rows) > size
    last = page[-1] if page else None
    next_cursor = encode_cursor([last["block_number"], last["position"]]) if more and last else None
    return AnomalyList(data=[_anomaly_out(r, names) for r in page], next_cursor=next_cursor)


@router.post("/audit/anomalies/{anomaly_id}/close", response_model=AnomalyOut)
def close_anomaly(
    anomaly_id: AnomalyId, body: CloseAnomalyIn, node: NodeDep, actor: CurrentAuditor
) -> AnomalyOut:
    """Close an open anomaly with the auditor's note. 404 for an unknown id, 409 for
    one closed already."""
    position = parse_id(anomaly_id)
    with node.store.begin() as c:
        row = close(c, position, actor.address, body.note, int(time.time()))
        return _anomaly_out(row, department_names(c))
