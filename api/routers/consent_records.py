"""A consent as an ISO/IEC TS 27560-style consent record (JSON).

ISO/IEC TS 27560 ("Privacy technologies — Consent record information structure") names
what a record of consent holds: who the PII principal is, who the controllers and
recipients are, for which purposes, which PII categories, on which legal basis, how it
is processed, for how long, and the events of its life (given, used, withdrawn). This
renders one consent of the ledger in that shape, with the chain as the evidence: every
event carries its on-chain receipt, and ``chain`` names where to check it.

Only the consent's resident, its department and auditors may read it (the same rule as
``GET /consents/{consent_id}``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection, select

from api.deps import CurrentActor, NodeDep
from api.signed import ReceiptOut
from api.views import consent_status, ensure_consent_reader, require_consent
from ledger.intents import hex32_label, label_to_bytes32
from ledger.store import events

router = APIRouter(prefix="/consents", tags=["consents"])

SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
_CONSENT_EVENTS = ("ConsentGranted", "AccessLogged", "AccessDenied", "ConsentRevoked")
#: Ledger event → TS 27560 event type.
_EVENT_TYPES = {
    "ConsentGranted": "consent_given",
    "AccessLogged": "pii_accessed",
    "AccessDenied": "access_refused",
    "ConsentRevoked": "consent_withdrawn",
}


class Party(BaseModel):
    """A PII controller or recipient: a registered department."""

    name: str | None
    code: str | None
    address: str
    role: str


class PiiCategory(BaseModel):
    """A field of the resident's record: its schema name and its on-chain ``bytes32`` id."""

    pii_category: str
    field_id: str


class Purpose(BaseModel):
    purpose_id: str
    purpose: str
    lawful_basis: str
    pii_information: list[PiiCategory]
    processing: list[str]
    pii_controllers: list[str]


class Validity(BaseModel):
    """The window (ISO 8601 UTC and Unix seconds; ``valid_until`` exclusive) and the use
    limit (``max_uses`` 0: unlimited) with the uses served so far."""

    valid_from: str
    valid_until: str
    valid_from_unix: int
    valid_until_unix: int
    max_uses: int
    uses: int


class RecordEvent(BaseModel):
    event_type: str
    event_time: str
    event_by: str | None
    pii_categories: list[str]
    reason: str | None
    use: int | None
    receipt: ReceiptOut


class ChainReference(BaseModel):
    chain_id: int
    contract: str
    contract_address: str
    consent_id: int
    grant_tx: str
    grant_block: int
    grant_log_index: int
    request_id: str | None


class ConsentRecord(BaseModel):
    schema_version: str
    record_id: str
    pii_principal_id: str
    consent_status: str
    consent_type: str
    language: str
    pii_controllers: list[Party]
    recipients: list[Party]
    purposes: list[Purpose]
    validity: Validity
    events: list[RecordEvent]
    withdrawal_method: str
    chain: ChainReference


def iso_utc(timestamp: int) -> str:
    """Unix seconds as ISO 8601 UTC, e.g. ``2025-01-31T08:00:00Z``; past year 9999 (a
    window may end at any uint64) in ISO 8601's expanded form, ``+292277026596-12-04…``,
    which ``datetime`` cannot represent."""
    if timestamp < _YEAR_10000:
        return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
    days, seconds = divmod(timestamp, 86400)
    year, month, day = _civil_from_days(days)
    hour, rest = divmod(seconds, 3600)
    return f"+{year}-{month:02d}-{day:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


_YEAR_10000 = 253402300800  # 10000-01-01T00:00:00Z


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, for any
    non-negative count (H. Hinnant's ``civil_from_days``)."""
    shifted = days + 719468
    era, day_of_era = divmod(shifted, 146097)
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def _department(c: Connection, address: str) -> tuple[str | None, str | None]:
    args = c.execute(
        select(events.c.args)
        .where(events.c.name == "DepartmentRegistered", events.c.department == address)
        .order_by(events.c.block_number, events.c.log_index)
        .limit(1)
    ).scalar()
    if args is None:
        return None, None
    registered = json.loads(args)
    return registered.get("name"), registered.get("code")


def _events(c: Connection, consent_id: int) -> list[RecordEvent]:
    rows = c.execute(
        select(events)
        .where(events.c.consent_id == consent_id, events.c.name.in_(_CONSENT_EVENTS))
        .order_by(events.c.block_number, events.c.log_index)
    ).mappings()
    result = []
    for row in rows:
        args: dict[str, Any] = json.loads(row["args"])
        name = row["name"]
        by = row["resident"] if name in ("ConsentGranted", "ConsentRevoked") else row["department"]
        reason = args.get("reason")
        result.append(
            RecordEvent(
                event_type=_EVENT_TYPES[name],
                event_time=iso_utc(row["block_timestamp"]),
                event_by=by,
                pii_categories=[hex32_label(f) for f in args.get("fields", [])],
                reason=hex32_label(reason) if reason else None,
                use=args.get("use"),
                receipt=ReceiptOut(
                    tx_hash=row["tx_hash"],
                    block_number=row["block_number"],
                    log_index=row["log_index"],
                    block_timestamp=row["block_timestamp"],
                ),
            )
        )
    return result


@router.get("/{consent_id}/record", response_model=ConsentRecord)
def consent_record(consent_id: int, node: NodeDep, actor: CurrentActor) -> ConsentRecord:
    """The consent as an ISO/IEC TS 27560-style record: principal, controller, purpose,
    PII categories, legal basis, validity, and every event with its on-chain receipt."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        row = require_consent(c, consent_id)
        ensure_consent_reader(actor, row)
        name, code = _department(c, row["department"])
        history = _events(c, consent_id)
    department = Party(name=name, code=code, address=row["department"], role="controller")
    fields = json.loads(row["fields"])
    ledger = node.deployment.ledger
    return ConsentRecord(
        schema_version=SCHEMA_VERSION,
        record_id=f"urn:consent-ledger:{node.chain.chain_id}:{ledger}:{consent_id}",
        pii_principal_id=row["resident"],
        consent_status=consent_status(row, now),
        consent_type="explicit",
        language="en",
        pii_controllers=[department],
        recipients=[department.model_copy(update={"role": "recipient"})],
        purposes=[
            Purpose(
                purpose_id=row["purpose"],
                purpose=row["purpose"],
                lawful_basis="consent",
                pii_information=[
                    PiiCategory(pii_category=f, field_id="0x" + label_to_bytes32(f).hex())
                    for f in fields
                ],
                processing=["access"],
                pii_controllers=[row["department"]],
            )
        ],
        validity=Validity(
            valid_from=iso_utc(row["valid_from"]),
            valid_until=iso_utc(row["valid_until"]),
            valid_from_unix=row["valid_from"],
            valid_until_unix=row["valid_until"],
            max_uses=row["max_uses"],
            uses=row["uses"],
        ),
        events=history,
        withdrawal_method=f"POST /consents/{consent_id}/revoke with a signed Revoke intent",
        chain=ChainReference(
            chain_id=node.chain.chain_id,
            contract="ConsentLedger",
            contract_address=ledger,
            consent_id=consent_id,
            grant_tx=row["tx_hash"],
            grant_block=row["block_number"],
            grant_log_index=row["log_index"],
            request_id=row["request_id"],
        ),
    )
