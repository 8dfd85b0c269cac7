"""Shapes of :mod:`api.routers.audit`: the event log and the audit's verdict."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


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
    #: The bundle the event is about: ``BundleGranted``/``BundleRevoked``'s own, or the
    #: bundle of the consent a consent's event names (``None``: a consent of its own).
    bundle_id: int | None = None
    #: The service by its id's name (``NEWBORN_REGISTRATION``): ``ServiceDefined``'s and
    #: ``BundleGranted``'s own, or the service of the event's bundle.
    service: str | None = None
    #: That service's name as the last ``ServiceDefined`` up to this event gave it.
    service_name: str | None = None


class EventList(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


class AuditProblemOut(BaseModel):
    kind: str
    detail: str
    receipt: dict[str, Any] | None
    #: An acknowledged intent the chain does not hold: its acceptance's data (journal id,
    #: intent digest, chain id, time accepted, relayer), its journal state and transaction.
    acceptance: dict[str, Any] | None = None


class VerifyOut(BaseModel):
    ok: bool
    events: int
    signatures_verified: int
    problems: list[AuditProblemOut]
    to_block: int
    #: Journal entries never recorded on chain that no answer acknowledged as recorded (a
    #: crash cut the request off, or it was refused with a 503 before being sent).
    unacknowledged: list[dict[str, Any]] = []
