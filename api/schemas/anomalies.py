"""Shapes of supervision (:mod:`api.routers.anomalies`): the admin's thresholds and the
auditors' anomalies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: The highest threshold the admin may set: an anomaly lists its events, at most this many
#: and one.
MAX_THRESHOLD = 10_000
Threshold = Annotated[int, Field(strict=True, ge=0, le=MAX_THRESHOLD)]


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The department these are for (a registered department's address); ``null``: the
    #: default for every department without its own.
    department: Annotated[str | None, Field(pattern=r"^0x[0-9a-fA-F]{40}$")] = None
    #: Served accesses (``AccessLogged``) within one hour of chain time beyond which
    #: auditors are alerted.
    accesses_per_hour: Threshold
    #: Refused queries (``AccessDenied``) within one hour beyond which they are alerted.
    refusals_per_hour: Threshold


class ThresholdsOut(BaseModel):
    department: str | None
    department_name: str | None = None
    accesses_per_hour: int
    refusals_per_hour: int
    #: The admin who set them and when (wall clock, seconds); ``null``: the settings'
    #: defaults (``CONSENT_ANOMALY_*``).
    set_by: str | None
    set_at: int | None


class ThresholdsList(BaseModel):
    #: What applies to a department without its own.
    default: ThresholdsOut
    departments: list[ThresholdsOut]


class AnomalyOut(BaseModel):
    #: Its feed id, ``"<block>-a<n>"`` (the ``anomaly`` notification's id).
    id: str
    #: ``accesses``, ``refusals``, or an always-anomalous event's (``emergency_access``).
    rule: str
    #: ``open`` until an auditor closes it.
    status: str
    department: str | None
    department_name: str | None
    resident: str | None
    consent_id: int | None
    #: The threshold exceeded (``null`` for an always-anomalous event) and by how many.
    threshold: int | None
    count: int
    #: The hour of chain time judged, ``(window_start, window_end]``; ``window_end`` is
    #: the time of the event that broke the threshold.
    window_start: int
    window_end: int
    #: The ids of the events behind it (``"<block>-<log index>"``, as ``/audit/events``
    #: and the feed name them).
    event_ids: list[str]
    block_number: int
    tx_hash: str
    created_at: int
    closed_by: str | None
    #: Wall clock, seconds.
    closed_at: int | None
    note: str | None


class AnomalyList(BaseModel):
    data: list[AnomalyOut]
    next_cursor: str | None


class CloseAnomalyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: What the auditor found (kept with the anomaly).
    note: Annotated[str, Field(min_length=1, max_length=2000)]
