"""Residents: enrolment (by a registrar), their record, and what they may read about it.

What a resident reads about itself its delegate reads too while its appointment holds
the read power (``POWER_READ``, judged from the chain at the latest block); the record
then comes with the field keys the resident's wallet wrapped for that delegate."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentActor, NodeDep, ensure_self_delegate_or_role, path_address
from api.errors import BadRequest, NotFound
from api.http_bounds import RECORD_BODY_BYTES, check_sizes
from api.node import Node
from api.pagination import CursorQuery, LimitQuery
from api.provenance import commit_intent, signed_intent_at
from api.schemas.access_requests import AccessRequestList
from api.schemas.consents import ConsentList
from api.schemas.residents import (
    AccessLog,
    AccessLogEntry,
    Enrolled,
    EnrollResidentBody,
    RecordBody,
    RecordCommitted,
    RecordOut,
)
from api.signed import receipt_out, settled, signed_intent
from api.vault import delegate_keys_of, record_envelopes
from api.views import (
    consent_purposes,
    department_names,
    event_receipt,
    list_consents,
    list_events,
    list_requests,
    record_version,
    service_names,
)
from ledger.codec import checksum, to_hex
from ledger.intents import POWER_READ
from ledger.revert import decode_revert
from ledger.store import UINT64_MAX
from ledger.vocabulary import bytes32_label, hex32_label
from wallets.record import FieldEnvelope, record_root

router = APIRouter(prefix="/residents", tags=["residents"])

#: What a resident's access log lists: reads served and refused, the same under break
#: the glass, and the acts a delegate signed in the resident's name.
_ACCESSES = ("AccessLogged", "AccessDenied")
_EMERGENCIES = ("EmergencyAccessed", "EmergencyDenied")
_DELEGATED = (
    "ConsentGranted",
    "ConsentRevoked",
    "BundleGranted",
    "BundleRevoked",
    "RequestDeclined",
    "RecordCommitted",
)


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
    resident = path_address(address)
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
            computed_root=to_hex(root),
        )
    effects = {
        "kind": "record",
        "resident": resident,
        "version": int(intent.message["version"]),
        "fields": {name: env.to_json() for name, env in parsed.items()},
        "delegate_keys": _delegate_keys(node, resident, body, set(parsed)),
    }
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    args = settled(outcome)
    return RecordCommitted(
        version=int(args["version"]),
        root=to_hex(args["root"]),
        receipt=receipt_out(outcome.receipt),
    )


def _delegate_keys(
    node: Node, resident: str, body: RecordBody, fields: set[str]
) -> dict[str, dict[str, str]]:
    """The new version's keys for the resident's delegates, each named delegate's
    appointment in force at the chain's latest block and each key one of its fields."""
    keys: dict[str, dict[str, str]] = {}
    for named, held in body.delegate_keys.items():
        try:
            delegate = str(checksum(named))
        except ValueError as exc:
            raise BadRequest(f"delegate_keys: {named!r} is not an address") from exc
        error = node.client.delegation_error(resident, delegate, 0)
        if error:
            raise BadRequest(
                f"delegate_keys: {delegate} is not a delegate of {resident} in force"
                f" ({decode_revert(error)}): no keys are stored for it"
            )
        unknown = sorted(set(held) - fields)
        if unknown:
            raise BadRequest(f"delegate_keys[{delegate}] names fields not in the record: {unknown}")
        keys[delegate] = {name: value.lower() for name, value in held.items()}
    return keys


@router.get("/{address}/record", response_model=RecordOut)
def get_record(
    address: str,
    node: NodeDep,
    actor: CurrentActor,
    version: Annotated[int | None, Query(ge=0, le=UINT64_MAX)] = None,
) -> RecordOut:
    """The resident's own envelopes (to restore the record on a new device); for its
    delegate holding the read power, the envelopes and the keys wrapped for it."""
    resident = path_address(address)
    delegate = ensure_self_delegate_or_role(node, actor, resident, POWER_READ)
    with node.store.connect() as c:
        row = record_version(c, resident, version)
        if row is None:
            raise NotFound(f"no record version for {resident}")
        envelopes = record_envelopes(c, resident, row["version"])
        fields = {name: envelope.to_json() for name, envelope in envelopes.items()}
        commit = commit_intent(c, node.client, resident, int(row["version"]))
        held = delegate_keys_of(c, resident, actor.address, row["version"]) if delegate else None
    return RecordOut(
        resident=resident,
        version=row["version"],
        root=row["root"],
        fields=fields,
        commit=commit,
        wrapped_keys=held,
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
    resident = path_address(address)
    ensure_self_delegate_or_role(node, actor, resident, POWER_READ, "auditor")
    with node.store.connect() as c:
        return list_requests(c, node.chain.next_timestamp(), cursor, limit, resident=resident)


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
    resident = path_address(address)
    ensure_self_delegate_or_role(node, actor, resident, POWER_READ, "auditor")
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
    under which consent (and its bundle and service, for a bundle's consent), with the
    on-chain receipt; emergency accesses and refusals marked as such; and every act a
    delegate or guardian signed in the resident's name, with who signed. Newest first."""
    resident = path_address(address)
    ensure_self_delegate_or_role(node, actor, resident, POWER_READ, "auditor")
    with node.store.connect() as c:
        names = department_names(c)
        rows, next_cursor = list_events(
            c,
            resident=resident,
            types=[*_ACCESSES, *_EMERGENCIES],
            delegated_types=list(_DELEGATED),
            cursor=cursor,
            limit=limit,
            newest_first=True,
        )
        purposes = consent_purposes(c, {r["consent_id"] for r in rows})
        services = service_names(c, rows)
    data = []
    for row in rows:
        args = json.loads(row["args"])
        emergency = row["name"] in _EMERGENCIES
        # An emergency's reason is the department's code; a refusal's, the chain's.
        reason = args.get("refusal") or (None if emergency else args.get("reason"))
        if emergency:
            purpose: str | None = "EMERGENCY"
        elif args.get("purpose"):  # a delegate's grant names its own
            purpose = hex32_label(args["purpose"])
        else:
            purpose = purposes.get(row["consent_id"])
        bundle_id, service, service_name = services.of(row, args)
        data.append(
            AccessLogEntry(
                type=row["name"],
                department=row["department"],
                department_name=names.get(row["department"] or ""),
                fields=[hex32_label(f) for f in args.get("fields", [])],
                purpose=purpose,
                consent_id=row["consent_id"],
                reason=hex32_label(reason) if reason else None,
                use=args.get("use"),
                block_timestamp=row["block_timestamp"],
                receipt=event_receipt(row),
                bundle_id=bundle_id,
                service=service,
                service_name=service_name,
                signed_by=row["signed_by"] or row["department"],
                emergency=emergency,
                access_id=args.get("accessId"),
                review_due=args.get("reviewDue"),
            )
        )
    return AccessLog(data=data, next_cursor=next_cursor)
