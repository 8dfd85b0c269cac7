"""Residents grant and revoke consents; parties and auditors read them."""

from __future__ import annotations

import json

from fastapi import APIRouter

from api.deps import CurrentActor, CurrentDepartment, NodeDep, ensure_self_delegate_or_role
from api.errors import BadRequest, Conflict, Forbidden, NotFound
from api.http_bounds import GRANT_BODY_BYTES, WRAPPED_KEY_LENGTHS
from api.node import Node
from api.pagination import CursorQuery, LimitQuery
from api.provenance import signed_intent_at
from api.schemas.consents import (
    ConsentList,
    ConsentOut,
    GrantBody,
    Granted,
    RevokeBody,
    Revoked,
    RewrapBody,
    Rewrapped,
)
from api.signed import receipt_out, settled, signed_intent
from api.vault import has_wrapped_keys, store_wrapped_keys
from api.views import (
    bundles_of,
    consent_out,
    consent_status,
    department_names,
    ensure_consent_reader,
    latest_version,
    list_consents,
    record_version,
    require_consent,
)
from ledger.codec import from_hex
from ledger.intents import POWER_COMMIT
from ledger.types import ConsentTerms
from ledger.vocabulary import bytes32_to_name

router = APIRouter(prefix="/consents", tags=["consents"])


def check_wrapped(keys: dict[str, str], fields: list[str]) -> dict[str, str]:
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


def granted_version(node: Node, resident: str, version: int | None) -> int:
    """The record version a grant's wrapped keys open: the one named (default: the
    newest); 403 for a resident not enrolled, 409 for one with no record yet."""
    with node.store.connect() as c:
        row = latest_version(c, resident)
    if row is None:
        if not node.client.resident(resident).enrolled:
            raise Forbidden(f"{resident} is not an enrolled resident")
        raise Conflict(f"{resident} has no committed record to grant access to")
    chosen = version if version is not None else int(row["version"])
    if chosen > int(row["version"]) or chosen < 1:
        raise BadRequest(f"no committed record version {chosen}")
    return chosen


@router.post("", response_model=Granted, status_code=201, max_body_size=GRANT_BODY_BYTES)
def grant(body: GrantBody, node: NodeDep, actor: CurrentActor) -> Granted:
    """Grant (signed `Grant`) with the granted fields' keys wrapped for the department."""
    intent = signed_intent(body)
    fields = [bytes32_to_name(f) for f in intent.message["fields"]]
    keys = check_wrapped(body.wrapped_keys, fields)
    version = granted_version(node, intent.message["resident"], body.version)
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
    intent = signed_intent(body, ConsentTerms.from_row(row))
    if int(intent.message["consentId"]) != consent_id:
        raise BadRequest("message.consentId differs from the path")
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    settled(outcome)
    return Revoked(consent_id=consent_id, status="revoked", receipt=receipt_out(outcome.receipt))


@router.put("/{consent_id}/wrapped-keys", response_model=Rewrapped, max_body_size=GRANT_BODY_BYTES)
def rewrap(consent_id: int, body: RewrapBody, node: NodeDep, actor: CurrentActor) -> Rewrapped:
    """After a new record version, the resident (or its delegate holding the commit power,
    which makes new versions) re-wraps the new field keys for a consent that stays active."""
    now = node.chain.next_timestamp()  # when a query sent now is judged
    with node.store.connect() as c:
        resident = require_consent(c, consent_id)["resident"]
    if actor.address != resident:
        ensure_self_delegate_or_role(
            node,
            actor,
            resident,
            POWER_COMMIT,
            detail="only the consent's resident (or its delegate holding the commit power)"
            " re-wraps its keys",
        )
    with node.store.begin() as c:
        row = require_consent(c, consent_id)
        if consent_status(row, now) in ("revoked", "expired", "exhausted"):
            raise Conflict(f"consent {consent_id} is {consent_status(row, now)}")
        fields = json.loads(row["fields"])
        keys = check_wrapped(body.wrapped_keys, fields)
        if record_version(c, row["resident"], body.version) is None:
            raise NotFound(f"no committed record version {body.version}")
        if has_wrapped_keys(c, consent_id, body.version):
            raise Conflict(f"keys for version {body.version} are already stored for this consent")
        store_wrapped_keys(c, consent_id, body.version, keys)
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
        ensure_consent_reader(node, actor, row)
        answer = consent_out(row, now, department_names(c))
        answer.bundle_id = bundles_of(c, [consent_id]).get(consent_id)
    answer.grant = signed_intent_at(node.client, row["tx_hash"], row["log_index"])
    return answer
