"""Emergency access: break the glass, with enforced follow-up.

A resident (or a delegate with the grant power) leaves a directive, the fields an
emergency department may read and their keys wrapped for it; that department reads
them only through an emergency access the chain judges and logs (``EmergencyAccessed``
with a review deadline, or ``EmergencyDenied`` with the refusal); an auditor reviews
each one. As with ``POST /queries``, no ciphertext leaves before the chain has recorded
``EmergencyAccessed`` for this very request, and the answer is built by the same code
(:func:`api.routers.queries.served_fields`); a refusal answers as a refused query does.

The paths are the resource's own (``/emergency-directives``, ``/emergency-accesses``)
and the auditors' queue, ``/audit/emergency-accesses``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import Actor, CurrentActor, CurrentAuditor, NodeDep, path_address
from api.emergency_views import directive_out, latest_directive, list_emergency_accesses
from api.errors import AccessRefused, BadRequest, Conflict, Forbidden, NotFound
from api.http_bounds import GRANT_BODY_BYTES
from api.node import Node
from api.pagination import CursorQuery, LimitQuery
from api.routers.consents import check_wrapped, granted_version
from api.routers.queries import served_fields
from api.schemas.emergency import (
    DirectiveList,
    DirectiveOut,
    DirectiveRewrapBody,
    DirectiveRewrapped,
    EmergencyAccessBody,
    EmergencyAccessList,
    EmergencyAnswer,
    EmergencyDirectiveBody,
    Reviewed,
    ReviewEmergencyBody,
    ReviewStatus,
)
from api.signed import receipt_out, settled, signed_intent
from api.vault import (
    directive_key_versions,
    newest_directive_keys,
    record_envelopes,
    store_directive_keys,
)
from api.views import department_names, record_version
from ledger.codec import to_hex
from ledger.intents import POWER_READ
from ledger.store import events
from ledger.vocabulary import bytes32_label

router = APIRouter(tags=["emergency"])

_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "refused on chain (`EmergencyDenied`); problem with `reason`"}
}


# ---------------------------------------------------------------- directives


@router.post("/emergency-directives", response_model=DirectiveOut, max_body_size=GRANT_BODY_BYTES)
def set_directive(body: EmergencyDirectiveBody, node: NodeDep, actor: CurrentActor) -> DirectiveOut:
    """Leave, replace or (with no `fields`) withdraw the resident's emergency directive
    (signed `EmergencyDirective`, by the resident or a delegate with the grant power).
    `wrapped_keys` holds exactly the directive's fields' keys of record `version`, each
    wrapped for the directive's department; they replace any stored before."""
    intent = signed_intent(body)
    resident = intent.message["resident"]
    fields = [bytes32_label(f) for f in intent.message["fields"]]
    keys = check_wrapped(body.wrapped_keys, fields)
    effects: dict[str, object] = {"kind": "emergency_directive", "resident": resident}
    if fields:
        version = granted_version(node, resident, body.version)
        _require_envelopes(node, resident, version, fields)
        effects.update(department=intent.message["department"], version=version, wrapped_keys=keys)
    elif body.version is not None:
        raise BadRequest("a withdrawal (no fields) carries no keys and no version")
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    settled(outcome)
    with node.store.connect() as c:
        row = (
            c.execute(
                events.select().where(
                    events.c.block_number == outcome.receipt.block_number,
                    events.c.log_index == outcome.receipt.log_index,
                )
            )
            .mappings()
            .one()
        )
        return directive_out(c, row, department_names(c), node.chain.next_timestamp())


@router.get("/emergency-directives", response_model=DirectiveList)
def find_directive(
    node: NodeDep, actor: CurrentActor, resident: Annotated[str, Query()]
) -> DirectiveList:
    """The resident's directive as `GET /emergency-directives/{resident}` serves it, in a
    list that is empty when it left none (a wallet asking whether there is one to re-wrap
    keys for gets an answer, not a 404); for the same readers."""
    address = path_address(resident)
    now = node.chain.next_timestamp()
    with node.store.connect() as c:
        row = latest_directive(c, address)
        _ensure_directive_reader(node, actor, address, None if row is None else row["department"])
        found = [] if row is None else [directive_out(c, row, department_names(c), now)]
    return DirectiveList(data=found)


@router.get("/emergency-directives/{resident}", response_model=DirectiveOut)
def get_directive(resident: str, node: NodeDep, actor: CurrentActor) -> DirectiveOut:
    """The resident's directive as it stands (`active` or `expired` as of the next block,
    or `withdrawn`), with the record versions whose keys it holds: for the resident, its
    delegates with the read power, the directive's department and auditors."""
    address = path_address(resident)
    now = node.chain.next_timestamp()  # when an access sent now is judged
    with node.store.connect() as c:
        row = latest_directive(c, address)
        named = None if row is None else row["department"]
        _ensure_directive_reader(node, actor, address, named)
        if row is None:
            raise NotFound(f"{address} has left no emergency directive")
        return directive_out(c, row, department_names(c), now)


@router.put(
    "/emergency-directives/{resident}/wrapped-keys",
    response_model=DirectiveRewrapped,
    max_body_size=GRANT_BODY_BYTES,
)
def rewrap_directive(
    resident: str, body: DirectiveRewrapBody, node: NodeDep, actor: CurrentActor
) -> DirectiveRewrapped:
    """After a new record version, the resident re-wraps the new keys of its directive's
    fields for the directive's department (no intent: nothing changes on chain)."""
    address = path_address(resident)
    if actor.address != address:
        raise Forbidden("only the directive's resident re-wraps its keys")
    now = node.chain.next_timestamp()
    with node.store.begin() as c:
        row = latest_directive(c, address)
        if row is None:
            raise NotFound(f"{address} has left no emergency directive")
        directive = directive_out(c, row, {}, now)
        if directive.status != "active" or directive.department is None:
            raise Conflict(f"the emergency directive of {address} is {directive.status}")
        keys = check_wrapped(body.wrapped_keys, directive.fields)
        if record_version(c, address, body.version) is None:
            raise NotFound(f"no committed record version {body.version}")
        missing = sorted(set(directive.fields) - set(record_envelopes(c, address, body.version)))
        if missing:
            raise BadRequest(f"record version {body.version} has no {missing}")
        if body.version in {
            v for held in directive_key_versions(c, address).values() for v in held
        }:
            raise Conflict(f"keys for version {body.version} are already stored for the directive")
        store_directive_keys(c, address, directive.department, body.version, keys)
    return DirectiveRewrapped(resident=address, version=body.version, fields=sorted(keys))


def _require_envelopes(node: Node, resident: str, version: int, fields: list[str]) -> None:
    """422 unless record ``version`` holds every field: a key must open something."""
    with node.store.connect() as c:
        held = record_envelopes(c, resident, version)
    missing = sorted(set(fields) - set(held))
    if missing:
        raise BadRequest(f"record version {version} has no {missing}: nothing to leave keys for")


def _ensure_directive_reader(
    node: Node, actor: Actor, resident: str, department: str | None
) -> None:
    if actor.address == resident or actor.has("auditor") or actor.address == department:
        return
    if not node.client.delegation_error(resident, actor.address, POWER_READ):
        return  # a delegate holding the read power
    raise Forbidden(
        f"only {resident}, its delegates, the directive's department or an auditor may read"
        " its emergency directive"
    )


# ---------------------------------------------------------------- accesses


@router.post("/emergency-accesses", response_model=EmergencyAnswer, responses=_REFUSED)
def emergency_access(
    body: EmergencyAccessBody, node: NodeDep, actor: CurrentActor
) -> EmergencyAnswer:
    """Read a resident's directive fields in an emergency (signed `EmergencyAccess`, by
    a department holding the emergency role, with a reason code and a salted hash of
    its justification). The chain judges it and logs it either way."""
    intent = signed_intent(body)
    resident, department = intent.message["resident"], intent.message["department"]
    names = [bytes32_label(f) for f in intent.message["fields"]]
    with node.store.connect() as c:
        held = newest_directive_keys(c, resident, department, names)
    if len(held) < len(names):
        _refuse_unservable(node, resident, department, names)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    event = outcome.unwrap()
    receipt = receipt_out(outcome.receipt)
    if event.name == "EmergencyDenied":
        refusal = bytes32_label(event.args["refusal"])
        raise AccessRefused(
            f"emergency access to {resident}'s record refused on chain: {refusal}",
            reason=refusal,
            receipt=receipt.model_dump(),
        )
    args = event.args
    with node.store.connect() as c:
        keys = newest_directive_keys(c, resident, department, names)
        missing = sorted(set(names) - set(keys))
        if missing:  # the directive changed outside this service between check and block
            raise Conflict(
                f"emergency access {args['accessId']} was recorded, but this service holds no"
                f" key for {missing} of the directive now in force",
                receipt=receipt.model_dump(),
            )
        record, fields = served_fields(
            c, resident, names, keys, now=outcome.receipt.block_timestamp
        )
    return EmergencyAnswer(
        access_id=int(args["accessId"]),
        review_due=int(args["reviewDue"]),
        resident=resident,
        department=department,
        reason=bytes32_label(bytes(args["reason"])),
        justification_hash=to_hex(args["justificationHash"]),
        receipt=receipt,
        record=record,
        fields=fields,
    )


def _refuse_unservable(node: Node, resident: str, department: str, names: list[str]) -> None:
    """409 before relaying when the chain's directive would serve ``names`` to
    ``department`` but this service lacks their keys (a directive left on chain without
    it): the access would be logged and release nothing. Otherwise the chain refuses it,
    and the refusal is logged."""
    (named, _until, _signer), listed = node.client.simulate(
        "ConsentEmergency", "directive", resident
    )
    if named == department and set(names) <= {bytes32_label(bytes(f)) for f in listed}:
        raise Conflict(
            f"{resident}'s emergency directive names these fields, but this service holds"
            " no keys for them: the resident must leave the directive again through it"
        )


@router.post("/emergency-accesses/{access_id}/review", response_model=Reviewed)
def review(
    access_id: Annotated[int, Path(ge=1)],
    body: ReviewEmergencyBody,
    node: NodeDep,
    actor: CurrentActor,
) -> Reviewed:
    """An auditor's review of an emergency access (signed `ReviewEmergency`): `justified`
    or `unjustified`, once; the chain marks it `late` after the access's deadline."""
    intent = signed_intent(body)
    if int(intent.message["accessId"]) != access_id:
        raise BadRequest("message.accessId differs from the path")
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return Reviewed(
        access_id=access_id,
        outcome=bytes32_label(bytes(args["outcome"])),
        late=bool(args["late"]),
        reviewer=args["auditor"],
        notes_hash=to_hex(args["notesHash"]),
        receipt=receipt_out(outcome.receipt),
    )


@router.get("/audit/emergency-accesses", response_model=EmergencyAccessList, tags=["auditors"])
def review_queue(
    node: NodeDep,
    _auditor: CurrentAuditor,
    status: Annotated[ReviewStatus | None, Query(description="omit for all")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> EmergencyAccessList:
    """The review queue in chain time (the latest block's): `pending` (not reviewed, its
    deadline not passed), `overdue` (not reviewed and past it, or reviewed late),
    `reviewed` (in time); oldest first."""
    now = node.chain.latest_timestamp()
    with node.store.connect() as c:
        data, next_cursor = list_emergency_accesses(
            c, department_names(c), now=now, status=status, cursor=cursor, limit=limit
        )
    return EmergencyAccessList(data=data, next_cursor=next_cursor, as_of=now)
