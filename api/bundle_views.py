"""Services and bundles as the read model holds them, shaped for their readers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, select

from api.errors import NotFound
from api.schemas.common import ReceiptOut
from api.schemas.services import BundleOut, ServiceItemOut, ServiceOut
from api.views import consent_out, department_names
from ledger.store import bundles, consents, services

#: Bundle ids are uint256 on chain; the read model stores them as signed 64-bit.
_MAX_STORED_ID = 2**63 - 1


def service_out(row: Mapping[str, Any] | RowMapping, names: Mapping[str, str]) -> ServiceOut:
    return ServiceOut(
        service=row["service"],
        name=row["name"],
        items=[
            ServiceItemOut(
                department=item["department"],
                department_name=names.get(item["department"]),
                fields=item["fields"],
                purpose=item["purpose"],
                duration=item["duration"],
                max_uses=item["max_uses"],
            )
            for item in json.loads(row["items"])
        ],
        defined_at=row["defined_at"],
        receipt=ReceiptOut(
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            log_index=None,
            block_timestamp=row["defined_at"],
        ),
    )


def list_services(c: Connection) -> list[ServiceOut]:
    """Every service as last defined, by id."""
    names = department_names(c)
    rows = c.execute(select(services).order_by(services.c.service)).mappings().all()
    return [service_out(row, names) for row in rows]


def bundle_row(c: Connection, bundle_id: int) -> RowMapping:
    """The bundle, or 404."""
    row = None
    if 0 <= bundle_id <= _MAX_STORED_ID:
        query = select(bundles).where(bundles.c.bundle_id == bundle_id)
        row = c.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no bundle {bundle_id}")
    return row


def bundle_consents(c: Connection, row: Mapping[str, Any] | RowMapping) -> list[RowMapping]:
    """The bundle's consents, in its items' order."""
    first = int(row["first_consent_id"])
    query = select(consents).where(
        and_(consents.c.consent_id >= first, consents.c.consent_id < first + int(row["count"]))
    )
    return list(c.execute(query.order_by(consents.c.consent_id)).mappings().all())


def bundle_out(c: Connection, row: Mapping[str, Any] | RowMapping, now: int) -> BundleOut:
    names = department_names(c)
    members = [consent_out(r, now, names) for r in bundle_consents(c, row)]
    service = c.execute(
        select(services.c.name).where(services.c.service == row["service"])
    ).scalar()
    if row["revoked"]:
        status = "revoked"
    elif any(m.status in ("active", "not_yet_valid") for m in members):
        status = "active"
    else:
        status = "ended"
    return BundleOut(
        bundle_id=row["bundle_id"],
        resident=row["resident"],
        service=row["service"],
        service_name=service,
        status=status,
        granted_at=row["granted_at"],
        revoked_at=row["revoked_at"],
        receipt=ReceiptOut(
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            log_index=None,
            block_timestamp=row["granted_at"],
        ),
        consents=[m.model_copy(update={"bundle_id": row["bundle_id"]}) for m in members],
    )
