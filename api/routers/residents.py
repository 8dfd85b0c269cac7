"""Residents: enrolment (by a registrar), their record, and what they may read about it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection, and_, desc, or_, select

from api.deps import CurrentActor, NodeDep, ensure_self_or_role
from api.errors import BadRequest, NotFound
from api.http_bounds import (
    MAX_FIELDS,
    RECORD_BODY_BYTES,
    Ciphertext,
    Nonce,
    WrappedKey,
    check_sizes,
)
from api.pagination import CursorQuery, LimitQuery, clamp_limit, decode_cursor, encode_cursor
from api.provenance import SignedIntentOut, commit_intent, signed_intent_at
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from api.views import (
    ConsentList,
    department_names,
    list_consents,
    list_events,
    record_version,
)
from ledger.intents import bytes32_label, hex32_label
from ledger.store import UINT64_MAX, access_requests, envelopes
from wallets.encoding import checksum_address
from wallets.record import FieldEnvelope, record_root

router = APIRouter(prefix="/residents", tags=["residents"])

Address = Annotated[str, "a 0x-prefixed address"]


class Enrolled(BaseModel):
    resident: str
    receipt: ReceiptOut


class EnvelopeIn(BaseModel):
    """A field envelope within the bounds of :mod:`api.http_bounds`: an empty or absurd
    member (a wrapped key no HPKE suite makes) is a record its owner could never open."""

    ciphertext: Ciphertext
    nonce: Nonce
    owner_wrapped_key: WrappedKey


class EnrollResidentBody(SignedBody):
    intent = "EnrollResident"


class RecordBody(SignedBody):
    intent = "CommitRecord"
    fields: dict[str, EnvelopeIn] = Field(max_length=MAX_FIELDS)


class RecordCommitted(BaseModel):
    version: int
    root: str
    receipt: ReceiptOut


class RecordOut(BaseModel):
    resident: str
    version: int
    root: str
    fields: dict[str, dict[str, str]]
    #: The signed ``CommitRecord`` of this version, from the chain's calldata: the owner's
    #: wallet checks the envelopes' root against its own signature (``api.provenance``).
    commit: SignedIntentOut | None = None


class AccessRequestOut(BaseModel):
    request_id: str
    department: str
    department_name: str | None
    resident: str
    fields: list[str]
    purpose: str
    duration: int
    requested_at: int
    status: str
    consent_id: int | None


class AccessRequestList(BaseModel):
    data: list[AccessRequestOut]
    next_cursor: str | None = None


class AccessLogEntry(BaseModel):
    type: str
    department: str | None
    department_name: str | None
    fields: list[str]
    purpose: str | None
    consent_id: int | None
    reason: str | None
    use: int | None
    block_timestamp: int
    receipt: ReceiptOut


class AccessLog(BaseModel):
    data: list[AccessLogEntry]
    next_cursor: str | None


def _address(value: str) -> str:
    try:
        return checksum_address(value)
    except ValueError as exc:
        raise BadRequest(f"not an address: {value!r}") from exc


@router.post("", response_model=Enrolled, status_code=201)
def enroll(body: EnrollResidentBody, node: NodeDep, actor: CurrentActor) -> Enrolled:
    """Enrol a resident (signed `EnrollResident`, by a registrar)."""
    intent = signed_intent(body)
    check_sizes("EnrollResident", intent.message)  # the encryption key's length
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return Enrolled(resident=args["resident"], receipt=receipt_out(outcome.receipt))


@router.put("/{address}/record", response_model=RecordCommitted, max_body_size=RECORD_BODY_BYTES)
def put_record(
    address: str, body: RecordBody, node: NodeDep, actor: CurrentActor
) -> RecordCommitted:
    """Upload a record version's envelopes and commit its root on chain (signed
    `CommitRecord`). The envelopes are stored only with their on-chain commitment."""
    resident = _address(address)
    intent = signed_intent(body)
    if intent.message["resident"] != resident:
        raise BadRequest("message.resident differs from the path")
    if not body.fields:
        raise BadRequest("a record has at least one field")
    known = {bytes32_label(f) for f in node.client.fields()}
    unknown = sorted(set(body.fields) - known)
    if unknown:
        raise BadRequest(f"fields not in the schema: {unknown}")
    parsed = {name: FieldEnvelope.from_json(env.model_dump()) for name, env in body.fields.items()}
    root = record_root(parsed)
    if root != intent.message["root"]:
        raise BadRequest(
            "the envelopes do not match the committed root",
            computed_root="0x" + root.hex(),
        )
    effects = {
        "kind": "record",
        "resident": resident,
        "version": int(intent.message["version"]),
        "fields": {name: env.to_json() for name, env in parsed.items()},
    }
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    args = settled(outcome)
    return RecordCommitted(
        version=int(args["version"]),
        root="0x" + bytes(args["root"]).hex(),
        receipt=receipt_out(outcome.receipt),
    )


@router.get("/{address}/record", response_model=RecordOut)
def get_record(
    address: str,
    node: NodeDep,
    actor: CurrentActor,
    version: Annotated[int | None, Query(ge=0, le=UINT64_MAX)] = None,
) -> RecordOut:
    """The resident's own envelopes (to restore the record on a new device)."""
    resident = _address(address)
    ensure_self_or_role(actor, resident)
    with node.store.connect() as c:
        row = record_version(c, resident, version)
        if row is None:
            raise NotFound(f"no record version for {resident}")
        rows = c.execute(
            select(envelopes).where(
                and_(envelopes.c.resident == resident, envelopes.c.version == row["version"])
            )
        ).mappings()
        fields = {
            r["field"]: FieldEnvelope(
                bytes(r["ciphertext"]), bytes(r["nonce"]), bytes(r["owner_wrapped_key"])
            ).to_json()
            for r in rows
        }
        commit = commit_intent(c, node.client, resident, int(row["version"]))
    return RecordOut(
        resident=resident, version=row["version"], root=row["root"], fields=fields, commit=commit
    )


@router.get("/{address}/access-requests", response_model=AccessRequestList)
def resident_requests(
    address: str,
    node: NodeDep,
    actor: CurrentActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AccessRequestList:
    """Requests filed for the resident's data, pending and answered, newest first."""
    resident = _address(address)
    ensure_self_or_role(actor, resident, "auditor")
    with node.store.connect() as c:
        return list_requests(c, cursor, limit, resident=resident)


def list_requests(
    c: Connection, cursor: str | None, limit: int | None, **where: str
) -> AccessRequestList:
    """A page of requests matching ``where``, newest first by (block, request id)."""
    size = clamp_limit(limit)
    query = select(access_requests)
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
    return AccessRequestList(data=[request_out(r, names) for r in page], next_cursor=next_cursor)


def request_out(row: Any, names: dict[str, str]) -> AccessRequestOut:
    return AccessRequestOut(
        request_id=row["request_id"],
        department=row["department"],
        department_name=names.get(row["department"]),
        resident=row["resident"],
        fields=json.loads(row["fields"]),
        purpose=row["purpose"],
        duration=row["duration"],
        requested_at=row["requested_at"],
        status="answered" if row["consent_id"] is not None else "pending",
        consent_id=row["consent_id"],
    )


@router.get("/{address}/consents", response_model=ConsentList)
def resident_consents(
    address: str,
    node: NodeDep,
    actor: CurrentActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> ConsentList:
    """All of the resident's consents, newest first, with derived status, each with the
    resident's signed ``Grant`` (so its wallet checks the terms it is shown)."""
    resident = _address(address)
    ensure_self_or_role(actor, resident, "auditor")
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        page = list_consents(c, now, resident=resident, cursor=cursor, limit=limit)
    for item in page.data:
        where = item.receipt
        if where.log_index is not None:
            item.grant = signed_intent_at(node.client, where.tx_hash, where.log_index)
    return page


@router.get("/{address}/access-log", response_model=AccessLog)
def access_log(
    address: str,
    node: NodeDep,
    actor: CurrentActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AccessLog:
    """Every access and refusal touching the resident: who, which fields, purpose, when,
    under which consent, with the on-chain receipt. Newest first."""
    resident = _address(address)
    ensure_self_or_role(actor, resident, "auditor")
    with node.store.connect() as c:
        names = department_names(c)
        rows, next_cursor = list_events(
            c,
            resident=resident,
            types=["AccessLogged", "AccessDenied"],
            cursor=cursor,
            limit=limit,
            newest_first=True,
        )
        purposes = _consent_purposes(c, {r["consent_id"] for r in rows})
    data = []
    for row in rows:
        args = json.loads(row["args"])
        reason = args.get("reason")
        data.append(
            AccessLogEntry(
                type=row["name"],
                department=row["department"],
                department_name=names.get(row["department"] or ""),
                fields=[hex32_label(f) for f in args["fields"]],
                purpose=purposes.get(row["consent_id"]),
                consent_id=row["consent_id"],
                reason=hex32_label(reason) if reason else None,
                use=args.get("use"),
                block_timestamp=row["block_timestamp"],
                receipt=ReceiptOut(
                    tx_hash=row["tx_hash"],
                    block_number=row["block_number"],
                    log_index=row["log_index"],
                    block_timestamp=row["block_timestamp"],
                ),
            )
        )
    return AccessLog(data=data, next_cursor=next_cursor)


def _consent_purposes(c: Any, ids: set[int | None]) -> dict[int, str]:
    from ledger.store import consents

    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = c.execute(
        select(consents.c.consent_id, consents.c.purpose).where(consents.c.consent_id.in_(wanted))
    ).all()
    return {consent_id: purpose for consent_id, purpose in rows}
