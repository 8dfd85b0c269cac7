"""Residents grant and revoke consents; parties and auditors read them."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import and_, select

from api.deps import CurrentActor, CurrentDepartment, NodeDep
from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.http_bounds import GRANT_BODY_BYTES, MAX_FIELDS, WRAPPED_KEY_LENGTHS, WrappedKey
from api.pagination import CursorQuery, LimitQuery
from api.provenance import signed_intent_at
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from api.views import (
    ConsentList,
    ConsentOut,
    consent_out,
    consent_status,
    consent_terms,
    department_names,
    ensure_consent_reader,
    latest_version,
    list_consents,
    require_consent,
)
from ledger.intents import bytes32_to_name
from ledger.store import UINT64_MAX, record_versions, wrapped_keys
from wallets.encoding import from_hex

router = APIRouter(prefix="/consents", tags=["consents"])

#: A field's wrapped keys, one per granted field (HPKE: 80 or 1168 bytes each).
WrappedKeys = Annotated[dict[str, WrappedKey], Field(max_length=MAX_FIELDS)]


class GrantBody(SignedBody):
    intent = "Grant"
    wrapped_keys: WrappedKeys
    #: The record version whose keys ``wrapped_keys`` holds. Send it: without it the
    #: newest version is assumed, which is wrong if the record moved on (a rotation)
    #: between wrapping and sending, and the department could never open the field.
    version: Annotated[
        int | None,
        Field(
            ge=1,
            le=UINT64_MAX,
            description="the record version the wrapped keys open (default: the newest;"
            " send it, since a rotation may land between wrapping and sending)",
        ),
    ] = None


class RevokeBody(SignedBody):
    intent = "Revoke"


class Granted(BaseModel):
    consent_id: int
    tx_hash: str
    block_number: int
    receipt: ReceiptOut


class Revoked(BaseModel):
    consent_id: int
    status: str
    receipt: ReceiptOut


class RewrapBody(BaseModel):
    version: Annotated[int, Field(ge=0, le=UINT64_MAX)]  # a uint64 record version
    wrapped_keys: WrappedKeys


class Rewrapped(BaseModel):
    consent_id: int
    version: int
    fields: list[str]


def _check_wrapped(keys: dict[str, str], fields: list[str]) -> dict[str, str]:
    if sorted(keys) != sorted(fields):
        raise BadRequest(
            f"wrapped_keys must cover exactly the granted fields {sorted(fields)},"
            f" got {sorted(keys)}"
        )
    for name, value in keys.items():
        try:
            raw = from_hex(value)
        except ValueError as exc:
            raise BadRequest(f"wrapped_keys[{name!r}]: {exc}") from exc
        if len(raw) not in WRAPPED_KEY_LENGTHS:  # the model checks too; kept for direct callers
            raise BadRequest(f"wrapped_keys[{name!r}] is not an HPKE-wrapped 32-byte key")
    return {name: value.lower() for name, value in keys.items()}


@router.post("", response_model=Granted, status_code=201, max_body_size=GRANT_BODY_BYTES)
def grant(body: GrantBody, node: NodeDep, actor: CurrentActor) -> Granted:
    """Grant (signed `Grant`) with the granted fields' keys wrapped for the department."""
    intent = signed_intent(body)
    fields = [bytes32_to_name(f) for f in intent.message["fields"]]
    keys = _check_wrapped(body.wrapped_keys, fields)
    resident = intent.message["resident"]
    with node.store.connect() as c:
        row = latest_version(c, resident)
    if row is None:
        if not node.client.resident(resident).enrolled:
            raise Forbidden(f"{resident} is not an enrolled resident")
        raise Conflict(f"{resident} has no committed record to grant access to")
    version = body.version if body.version is not None else int(row["version"])
    if version > int(row["version"]) or version < 1:
        raise BadRequest(f"no committed record version {version}")
    effects = {"kind": "grant", "version": version, "wrapped_keys": keys}
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    args = settled(outcome)
    return Granted(
        consent_id=int(args["consentId"]),
        tx_hash=outcome.receipt.tx_hash,
        block_number=outcome.receipt.block_number,
        receipt=receipt_out(outcome.receipt),
    )


@router.post("/{consent_id}/revoke", response_model=Revoked)
def revoke(consent_id: int, body: RevokeBody, node: NodeDep, actor: CurrentActor) -> Revoked:
    """Revoke (signed `Revoke`): effective from the block that records it."""
    with node.store.connect() as c:
        row = require_consent(c, consent_id)
    intent = signed_intent(body, consent_terms(row))
    if int(intent.message["consentId"]) != consent_id:
        raise BadRequest("message.consentId differs from the path")
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    settled(outcome)
    return Revoked(consent_id=consent_id, status="revoked", receipt=receipt_out(outcome.receipt))


@router.put("/{consent_id}/wrapped-keys", response_model=Rewrapped, max_body_size=GRANT_BODY_BYTES)
def rewrap(consent_id: int, body: RewrapBody, node: NodeDep, actor: CurrentActor) -> Rewrapped:
    """After a new record version, the resident re-wraps the new field keys for a consent
    that stays active."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.begin() as c:
        row = require_consent(c, consent_id)
        if actor.address != row["resident"]:
            raise Forbidden("only the consent's resident re-wraps its keys")
        if consent_status(row, now) in ("revoked", "expired", "exhausted"):
            raise Conflict(f"consent {consent_id} is {consent_status(row, now)}")
        fields = json.loads(row["fields"])
        keys = _check_wrapped(body.wrapped_keys, fields)
        version = c.execute(
            select(record_versions.c.version).where(
                and_(
                    record_versions.c.resident == row["resident"],
                    record_versions.c.version == body.version,
                )
            )
        ).first()
        if version is None:
            raise NotFound(f"no committed record version {body.version}")
        existing = c.execute(
            select(wrapped_keys.c.field).where(
                and_(
                    wrapped_keys.c.consent_id == consent_id, wrapped_keys.c.version == body.version
                )
            )
        ).first()
        if existing is not None:
            raise Conflict(f"keys for version {body.version} are already stored for this consent")
        for name, value in keys.items():
            c.execute(
                wrapped_keys.insert().values(
                    consent_id=consent_id,
                    version=body.version,
                    field=name,
                    wrapped_key=from_hex(value),
                )
            )
    return Rewrapped(consent_id=consent_id, version=body.version, fields=sorted(keys))


@router.get("", response_model=ConsentList)
def department_consents(
    node: NodeDep,
    actor: CurrentDepartment,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> ConsentList:
    """The calling department's consents."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        return list_consents(c, now, department=actor.address, cursor=cursor, limit=limit)


@router.get("/{consent_id}", response_model=ConsentOut)
def get_consent(consent_id: int, node: NodeDep, actor: CurrentActor) -> ConsentOut:
    """A consent with its derived status: for its resident, its department, auditors."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        row = require_consent(c, consent_id)
        ensure_consent_reader(actor, row)
        answer = consent_out(row, now, department_names(c))
    answer.grant = signed_intent_at(node.client, row["tx_hash"], row["log_index"])
    return answer
