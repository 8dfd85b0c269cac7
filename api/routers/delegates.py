"""Delegates and guardians: a resident (or a registrar, for a guardian) appoints and
removes them; the resident, its delegates and auditors list them; any signed-in wallet
reads a resident's published key to wrap a delegate's field keys for.

A resident's appointment carries the record's field keys wrapped for the delegate
(stored opaquely in ``delegate_keys`` with the ``DelegateAppointed`` that makes them
valid, dropped with its ``DelegateRemoved``); what the delegate may then sign for the
resident is the chain's to judge (``ConsentDelegates.delegationError``), and what it may
read is judged from the chain at the latest block (:func:`api.deps.ensure_self_delegate_or_role`).

Status codes: a signer who may not appoint or remove, a guardian touched by the resident
(``ConsentDelegatesUnauthorizedSigner``, ``…Guardianship``) 403; an address not enrolled
(``…UnknownResident``) or never appointed 404; an appointment already removed 409 (both
named ``ConsentDelegatesNotDelegate``, as the chain names them); powers, a window or a
self-appointment the chain refuses (``…InvalidPowers``, ``…InvalidValidity``,
``…SelfDelegation``) 422.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.delegate_views import enrolment, list_delegates, list_delegations, power_names
from api.deps import (
    CurrentActor,
    NodeDep,
    ensure_self_delegate_or_role,
    ensure_self_or_role,
    path_address,
)
from api.errors import BadRequest, Conflict, NotFound
from api.http_bounds import GRANT_BODY_BYTES
from api.routers.consents import granted_version
from api.schemas.delegates import (
    AppointDelegateBody,
    DelegateAppointed,
    DelegateList,
    DelegateRemoved,
    RemoveDelegateBody,
    ResidentKeyOut,
)
from api.signed import receipt_out, settled, signed_intent
from api.vault import record_envelopes
from ledger import contract_errors as ce
from ledger.codec import checksum

router = APIRouter(prefix="/residents", tags=["delegates"])

_ZERO_ADDRESS = "0x" + "00" * 20


@router.post(
    "/{address}/delegates",
    response_model=DelegateAppointed,
    status_code=201,
    max_body_size=GRANT_BODY_BYTES,
)
def appoint(
    address: str, body: AppointDelegateBody, node: NodeDep, actor: CurrentActor
) -> DelegateAppointed:
    """Appoint (or re-appoint with new terms) a delegate of the resident (signed
    `AppointDelegate`, by the resident, or by a registrar for a guardian), with the
    record's field keys wrapped for the delegate's key (`wrapped_keys`, of record
    `version`; any fields of it, or none)."""
    resident = path_address(address)
    intent = signed_intent(body)
    message = intent.message
    if message["resident"] != resident:
        raise BadRequest("message.resident differs from the path")
    keys: dict[str, str] = {}
    version: int | None = None
    if body.wrapped_keys:
        version = granted_version(node, resident, body.version)
        with node.store.connect() as c:
            fields = set(record_envelopes(c, resident, version))
        unknown = sorted(set(body.wrapped_keys) - fields)
        if unknown:
            raise BadRequest(
                f"wrapped_keys names fields not in record version {version}: {unknown}"
            )
        keys = {name: value.lower() for name, value in body.wrapped_keys.items()}
    effects = {
        "kind": "delegate",
        "resident": resident,
        "delegate": message["delegate"],
        "version": version,
        "wrapped_keys": keys,
    }
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    args = settled(outcome)
    bits = int(args["powers"])
    return DelegateAppointed(
        resident=resident,
        delegate=str(checksum(args["delegate"])),
        powers=power_names(bits),
        power_bits=bits,
        valid_until=int(args["validUntil"]),
        guardian=bool(args["guardian"]),
        appointed_by=str(checksum(args["appointedBy"])),
        wrapped_fields=sorted(keys),
        version=version,
        receipt=receipt_out(outcome.receipt),
    )


@router.get("/{address}/delegates", response_model=DelegateList)
def delegates(address: str, node: NodeDep, actor: CurrentActor) -> DelegateList:
    """The resident's delegates and guardians, current and past, in appointment order:
    powers by name and bits, `valid_until`, `guardian`, `removed`, who appointed and
    removed them, their status at the chain's latest block, and every appointment and
    removal with its receipt. For the resident, its delegates in force, and auditors."""
    resident = path_address(address)
    ensure_self_delegate_or_role(node, actor, resident, 0, "auditor")
    now = node.chain.latest_timestamp()
    with node.store.connect() as c:
        return DelegateList(data=list_delegates(c, node.client, resident, now))


@router.get("/{address}/delegations", response_model=DelegateList)
def delegations(address: str, node: NodeDep, actor: CurrentActor) -> DelegateList:
    """Whom the address acts for: every appointment naming it as a delegate or guardian,
    current and past, each as the resident's `GET /residents/{a}/delegates` entry for it.
    For the address itself and auditors."""
    delegate = path_address(address)
    ensure_self_or_role(actor, delegate, "auditor")
    now = node.chain.latest_timestamp()
    with node.store.connect() as c:
        return DelegateList(data=list_delegations(c, node.client, delegate, now))


@router.post("/{address}/delegates/{delegate}/remove", response_model=DelegateRemoved)
def remove(
    address: str, delegate: str, body: RemoveDelegateBody, node: NodeDep, actor: CurrentActor
) -> DelegateRemoved:
    """End a delegate's appointment from the block that records it (signed
    `RemoveDelegate`, by the resident, or by a registrar; a guardian a registrar
    appointed only by a registrar). The keys stored for it are dropped; the resident's
    wallet then rotates the record's keys, as after a revocation."""
    resident = path_address(address)
    removed = path_address(delegate)
    intent = signed_intent(body)
    if intent.message["resident"] != resident:
        raise BadRequest("message.resident differs from the path")
    if intent.message["delegate"] != removed:
        raise BadRequest("message.delegate differs from the path")
    _powers, _until, _guardian, ended, appointed_by = node.client.simulate(
        "ConsentDelegates", "delegation", resident, removed
    )
    arguments = {"resident": resident, "delegate": removed}
    if str(appointed_by).lower() == _ZERO_ADDRESS:
        raise NotFound(
            f"{removed} was never appointed for {resident}",
            error="ConsentDelegatesNotDelegate",
            arguments=arguments,
        )
    effects = {"kind": "undelegate", "resident": resident, "delegate": removed}
    # An ended appointment is the relayer's and the chain's to refuse, after the checks
    # they make first: a replay of the removal that ended it is told as a replay
    # (``SignedIntentNonceUsed``), a fresh removal of it as removed already.
    try:
        outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
        args = settled(outcome)
    except ce.ConsentDelegatesNotDelegate as exc:
        if not ended:
            raise
        raise Conflict(
            f"{removed}'s appointment for {resident} was removed already",
            error="ConsentDelegatesNotDelegate",
            arguments=arguments,
        ) from exc
    return DelegateRemoved(
        resident=resident,
        delegate=removed,
        removed_by=str(checksum(args["removedBy"])),
        receipt=receipt_out(outcome.receipt),
    )


@router.get("/{address}/encryption-key", response_model=ResidentKeyOut)
def encryption_key(address: str, node: NodeDep, _actor: CurrentActor) -> ResidentKeyOut:
    """A resident's HPKE public key as its enrolment published it (what a resident's
    wallet wraps a delegate's field keys for), with the registrar's signed
    `EnrollResident` and the admin's signed `GrantRole` that made it a registrar, for
    wallets that check the key themselves. Any signed-in caller; 404 if not enrolled."""
    resident = path_address(address)
    with node.store.connect() as c:
        found = enrolment(c, node.client, resident)
    if found is None:
        raise NotFound(f"{resident} is not an enrolled resident")
    row, receipt, key_intent, registrar_intent = found
    return ResidentKeyOut(
        resident=resident,
        encryption_key=str(row["encryption_key"]),
        registrar=str(row["registrar"]),
        key_intent=key_intent,
        registrar_intent=registrar_intent,
        receipt=receipt,
    )
