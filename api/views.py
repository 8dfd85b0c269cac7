"""Read-model queries for the routers, and the shaping of their rows into answers.

The routes name what they need (``list_consents``, ``consent_events``, ``list_requests``)
and never spell SQL themselves; the vault's rows (envelopes, wrapped keys,
attestations) are read and written in :mod:`api.vault`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, desc, or_, select

from api.deps import Actor, ensure_self_delegate_or_role
from api.errors import NotFound
from api.node import Node
from api.pagination import clamp_limit, decode_cursor, encode_cursor
from api.schemas.access_requests import AccessRequestList, AccessRequestOut
from api.schemas.audit import EventOut
from api.schemas.common import ReceiptOut
from api.schemas.consents import ConsentList, ConsentOut
from ledger.intents import POWER_READ
from ledger.store import (
    access_requests,
    bundles,
    consents,
    events,
    record_versions,
    request_answers,
)
from ledger.vocabulary import hex32_label, request_status


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


_CONSENT = select(consents).where(consents.c.consent_id == bindparam("consent_id"))


def consent_row(c: Connection, consent_id: int) -> RowMapping | None:
    if not 0 <= consent_id <= MAX_STORED_ID:
        return None  # never granted: the chain numbers consents from 1 upwards
    return c.execute(_CONSENT, {"consent_id": consent_id}).mappings().first()


def require_consent(c: Connection, consent_id: int) -> RowMapping:
    row = consent_row(c, consent_id)
    if row is None:
        raise NotFound(f"no consent {consent_id}")
    return row


def ensure_consent_reader(node: Node, actor: Actor, row: RowMapping) -> None:
    """A consent is read by its resident, its department, auditors, and the resident's
    delegate holding the read power (who lists it among the resident's consents too);
    403 for others."""
    if actor.address == row["department"]:
        return
    ensure_self_delegate_or_role(
        node,
        actor,
        row["resident"],
        POWER_READ,
        "auditor",
        detail="only the consent's resident (or its delegate holding the read power), its"
        " department and auditors read it",
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
    linked = bundles_of(c, (d.consent_id for d in data))
    data = [d.model_copy(update={"bundle_id": linked.get(d.consent_id)}) for d in data]
    more = len(rows) > size
    return ConsentList(
        data=data, next_cursor=encode_cursor([data[-1].consent_id]) if more else None
    )


def bundles_of(c: Connection, consent_ids: Iterable[int]) -> dict[int, int]:
    """The bundle of each of these consents that belongs to one."""
    ids = sorted(set(consent_ids))
    if not ids:
        return {}
    rows = c.execute(
        select(bundles.c.bundle_id, bundles.c.first_consent_id, bundles.c.count).where(
            and_(
                bundles.c.first_consent_id <= ids[-1],
                bundles.c.first_consent_id + bundles.c.count > ids[0],
            )
        )
    ).all()
    found: dict[int, int] = {}
    for bundle_id, first, count in rows:
        for consent_id in ids:
            if first <= consent_id < first + count:
                found[consent_id] = int(bundle_id)
    return found


# The statements every grant and query asks are built once, at import: SQLAlchemy's
# statement construction cost more than the query itself (its compiled form is cached
# either way).
_LATEST_VERSION = (
    select(record_versions)
    .where(record_versions.c.resident == bindparam("resident"))
    .order_by(desc(record_versions.c.version))
    .limit(1)
)


def latest_version(c: Connection, resident: str) -> RowMapping | None:
    return c.execute(_LATEST_VERSION, {"resident": resident}).mappings().first()


def record_version(c: Connection, resident: str, version: int | None) -> RowMapping | None:
    """A committed version of the resident's record; ``None``: the latest."""
    if version is None:
        return latest_version(c, resident)
    query = select(record_versions).where(
        and_(record_versions.c.resident == resident, record_versions.c.version == version)
    )
    return c.execute(query).mappings().first()


_BUNDLE_EVENTS = ("BundleGranted", "BundleRevoked")


@dataclass(frozen=True)
class ServiceNames:
    """What a page of events needs to name bundles and services: each consent's bundle,
    each bundle's service, and each service's names in the order it was (re)defined."""

    consent_bundles: Mapping[int, int]
    bundle_services: Mapping[int, str]
    #: Per service, ``((block, log index), name)`` of each ``ServiceDefined``, in order.
    definitions: Mapping[str, Sequence[tuple[tuple[int, int], str]]]

    def bundle_of(self, row: Mapping[Any, Any], args: Mapping[str, Any]) -> int | None:
        if row["name"] in _BUNDLE_EVENTS:
            return int(args["bundleId"])
        consent_id = row["consent_id"]
        return None if consent_id is None else self.consent_bundles.get(consent_id)

    def name_at(self, service: str, position: tuple[int, int]) -> str | None:
        """The service's name as last defined up to ``position`` (its first name for an
        earlier position, which only a tampered read model has)."""
        defined = self.definitions.get(service, ())
        named = [name for at, name in defined if at <= position]
        return named[-1] if named else (defined[0][1] if defined else None)

    def of(
        self, row: Mapping[Any, Any], args: Mapping[str, Any]
    ) -> tuple[int | None, str | None, str | None]:
        """The event's bundle, service and the service's name then."""
        bundle_id = self.bundle_of(row, args)
        if row["name"] == "ServiceDefined":
            return None, hex32_label(args["service"]), str(args["name"])
        if row["name"] == "BundleGranted":
            service: str | None = hex32_label(args["service"])
        else:
            service = None if bundle_id is None else self.bundle_services.get(bundle_id)
        if service is None:
            return bundle_id, None, None
        return bundle_id, service, self.name_at(service, (row["block_number"], row["log_index"]))


def service_names(c: Connection, rows: Sequence[Mapping[Any, Any]]) -> ServiceNames:
    """The :class:`ServiceNames` of the events ``rows``, in three small queries."""
    consent_bundles = bundles_of(c, (r["consent_id"] for r in rows if r["consent_id"] is not None))
    wanted = set(consent_bundles.values()) | {
        int(json.loads(r["args"])["bundleId"]) for r in rows if r["name"] in _BUNDLE_EVENTS
    }
    bundle_services: dict[int, str] = {}
    if wanted:
        found = c.execute(
            select(bundles.c.bundle_id, bundles.c.service).where(
                bundles.c.bundle_id.in_(sorted(wanted))
            )
        ).all()
        bundle_services = {int(bundle_id): service for bundle_id, service in found}
    definitions: dict[str, list[tuple[tuple[int, int], str]]] = {}
    if wanted or any(r["name"] == "ServiceDefined" for r in rows):
        defined = c.execute(
            select(events.c.block_number, events.c.log_index, events.c.args)
            .where(events.c.name == "ServiceDefined")
            .order_by(events.c.block_number, events.c.log_index)
        ).all()
        for block, index, raw in defined:
            args = json.loads(raw)
            definitions.setdefault(hex32_label(args["service"]), []).append(
                ((block, index), str(args["name"]))
            )
    return ServiceNames(consent_bundles, bundle_services, definitions)


def event_out(row: RowMapping, names: ServiceNames | None = None) -> EventOut:
    """An event as the auditors read it; with ``names``, its bundle and service named."""
    args = json.loads(row["args"])
    bundle_id, service, service_name = (None, None, None) if names is None else names.of(row, args)
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
        args=args,
        bundle_id=bundle_id,
        service=service,
        service_name=service_name,
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
    delegated_types: list[str] | None = None,
) -> tuple[list[RowMapping], str | None]:
    """Events in a stable (block, log index) order with a cursor for the next page;
    with ``delegated_types``, also those of these types a delegate signed."""
    size = clamp_limit(limit)
    query = select(events)
    if resident:
        query = query.where(events.c.resident == resident)
    if department:
        query = query.where(events.c.department == department)
    if types and delegated_types:
        query = query.where(
            or_(
                events.c.name.in_(types),
                and_(events.c.name.in_(delegated_types), events.c.signed_by.is_not(None)),
            )
        )
    elif types:
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


def event_receipt(row: RowMapping) -> ReceiptOut:
    """Where the chain logged an event of the read model."""
    return ReceiptOut(
        tx_hash=row["tx_hash"],
        block_number=row["block_number"],
        log_index=row["log_index"],
        block_timestamp=row["block_timestamp"],
    )


def department_registration(c: Connection, address: str) -> tuple[str | None, str | None]:
    """The name and code a department was first registered with; ``(None, None)`` for an
    address never registered."""
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


def consent_events(c: Connection, consent_id: int, names: tuple[str, ...]) -> list[RowMapping]:
    """The events named ``names`` of one consent, in chain order."""
    rows = c.execute(
        select(events)
        .where(events.c.consent_id == consent_id, events.c.name.in_(names))
        .order_by(events.c.block_number, events.c.log_index)
    ).mappings()
    return list(rows)


def consent_purposes(c: Connection, ids: set[int | None]) -> dict[int, str]:
    """The purpose of each consent of ``ids`` the read model holds."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = c.execute(
        select(consents.c.consent_id, consents.c.purpose).where(consents.c.consent_id.in_(wanted))
    ).all()
    return {consent_id: purpose for consent_id, purpose in rows}


_ROOTS = select(record_versions.c.version, record_versions.c.root).where(
    and_(
        record_versions.c.resident == bindparam("resident"),
        record_versions.c.version.in_(bindparam("versions", expanding=True)),
    )
)


def record_roots(c: Connection, resident: str, versions: list[int]) -> dict[int, str]:
    """The committed root of each of the resident's record ``versions``."""
    rows = c.execute(_ROOTS, {"resident": resident, "versions": versions}).all()
    return {int(version): root for version, root in rows}


def list_requests(
    c: Connection, now: int, cursor: str | None, limit: int | None, **where: str
) -> AccessRequestList:
    """A page of requests matching ``where``, newest first by (block, request id), each
    with its status at chain time ``now``."""
    size = clamp_limit(limit)
    query = select(
        access_requests,
        request_answers.c.answer,
        request_answers.c.reason,
        request_answers.c.answered_at,
    ).outerjoin(request_answers, request_answers.c.request_id == access_requests.c.request_id)
    for column, value in where.items():
        query = query.where(access_requests.c[column] == value)
    position = decode_cursor(cursor, 2, hex_at=(1,))
    if position is not None:
        block, request_id = position
        query = query.where(
            or_(
                access_requests.c.block_number < block,
                and_(
                    access_requests.c.block_number == block,
                    access_requests.c.request_id < request_id,
                ),
            )
        )
    query = query.order_by(desc(access_requests.c.block_number), desc(access_requests.c.request_id))
    rows = c.execute(query.limit(size + 1)).mappings().all()
    names = department_names(c)
    page = rows[:size]
    next_cursor = None
    if len(rows) > size:
        next_cursor = encode_cursor([page[-1]["block_number"], page[-1]["request_id"]])
    data = [request_out(r, names, now) for r in page]
    return AccessRequestList(data=data, next_cursor=next_cursor)


def request_out(row: Any, names: Mapping[str, str], now: int) -> AccessRequestOut:
    granted = row["consent_id"] is not None
    return AccessRequestOut(
        request_id=row["request_id"],
        department=row["department"],
        department_name=names.get(row["department"]),
        resident=row["resident"],
        fields=json.loads(row["fields"]),
        purpose=row["purpose"],
        duration=row["duration"],
        requested_at=row["requested_at"],
        status=request_status(row["answer"], granted, int(row["requested_at"]), now),
        consent_id=row["consent_id"],
        reason=row["reason"],
        answered_at=row["answered_at"],
    )
