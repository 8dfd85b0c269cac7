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
from sqlalchemy import RowMapping

from api.deps import CurrentActor, NodeDep
from api.schemas.consent_records import (
    ChainReference,
    ConsentRecord,
    Party,
    PiiCategory,
    Purpose,
    RecordEvent,
    Validity,
)
from api.views import (
    consent_events,
    consent_status,
    department_registration,
    ensure_consent_reader,
    event_receipt,
    require_consent,
)
from ledger.codec import to_hex
from ledger.vocabulary import hex32_label, label_to_bytes32

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


def _record_event(row: RowMapping) -> RecordEvent:
    args: dict[str, Any] = json.loads(row["args"])
    name = row["name"]
    by = row["resident"] if name in ("ConsentGranted", "ConsentRevoked") else row["department"]
    reason = args.get("reason")
    return RecordEvent(
        event_type=_EVENT_TYPES[name],
        event_time=iso_utc(row["block_timestamp"]),
        event_by=by,
        pii_categories=[hex32_label(f) for f in args.get("fields", [])],
        reason=hex32_label(reason) if reason else None,
        use=args.get("use"),
        receipt=event_receipt(row),
    )


@router.get("/{consent_id}/record", response_model=ConsentRecord)
def consent_record(consent_id: int, node: NodeDep, actor: CurrentActor) -> ConsentRecord:
    """The consent as an ISO/IEC TS 27560-style record: principal, controller, purpose,
    PII categories, legal basis, validity, and every event with its on-chain receipt."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        row = require_consent(c, consent_id)
        ensure_consent_reader(node, actor, row)
        name, code = department_registration(c, row["department"])
        history = [_record_event(e) for e in consent_events(c, consent_id, _CONSENT_EVENTS)]
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
                    PiiCategory(pii_category=f, field_id=to_hex(label_to_bytes32(f)))
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
