"""The admin's signed writes: register departments, grant roles — and cut an actor off
(suspend or reinstate a department, revoke a role, end an issuer's trust) or rotate a
department's key, each from the block that records it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.bundle_views import service_out
from api.deps import CurrentActor, NodeDep, path_address
from api.errors import BadRequest
from api.http_bounds import check_sizes
from api.schemas.admin import (
    DepartmentActiveSet,
    DepartmentKeyRotated,
    DepartmentRegistered,
    DistrustIssuerBody,
    GrantRoleBody,
    IssuerDistrusted,
    PurposePolicySet,
    RegisterDepartmentBody,
    RevokeRoleBody,
    RoleGranted,
    RoleRevoked,
    RotateDepartmentKeyBody,
    SetDepartmentActiveBody,
    SetPurposePolicyBody,
)
from api.schemas.services import DefineServiceBody, ServiceOut
from api.signed import receipt_out, settled, signed_intent
from api.views import department_names
from ledger.codec import to_hex
from ledger.store import services
from ledger.types import SignedIntent
from ledger.vocabulary import ROLE_NAMES, bytes32_label, role_id

router = APIRouter(prefix="/admin", tags=["admin"])


#: The longest service name the directory takes (its ``MAX_SERVICE_NAME``), in bytes.
MAX_SERVICE_NAME = 200

_ROLE_BY_ID = {to_hex(role_id(name)): name for name in ROLE_NAMES}


def _role_name(role: bytes) -> str:
    hexed = to_hex(role)
    return _ROLE_BY_ID.get(hexed, hexed)


def _for_path(intent: SignedIntent, member: str, address: str) -> None:
    """422 unless the message names the path's address: one resource, one meaning."""
    wanted = path_address(address)
    if intent.message[member] != wanted:
        raise BadRequest(f"message.{member} is {intent.message[member]}, the path names {wanted}")


@router.post("/departments", response_model=DepartmentRegistered, status_code=201)
def register_department(
    body: RegisterDepartmentBody, node: NodeDep, actor: CurrentActor
) -> DepartmentRegistered:
    """Register a department (signed `RegisterDepartment`, by the admin)."""
    intent = signed_intent(body)
    check_sizes("RegisterDepartment", intent.message)  # name, code, encryption key
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return DepartmentRegistered(department=args["department"], receipt=receipt_out(outcome.receipt))


@router.post("/roles", response_model=RoleGranted, status_code=201)
def grant_role(body: GrantRoleBody, node: NodeDep, actor: CurrentActor) -> RoleGranted:
    """Make an address registrar, issuer (with fields) or auditor (signed `GrantRole`)."""
    outcome = node.relayer.submit(signed_intent(body), expected_signer=actor.address)
    args = settled(outcome)
    return RoleGranted(
        role=_role_name(args["role"]), account=args["account"], receipt=receipt_out(outcome.receipt)
    )


@router.post("/purpose-policies", response_model=PurposePolicySet)
def set_purpose_policy(
    body: SetPurposePolicyBody, node: NodeDep, actor: CurrentActor
) -> PurposePolicySet:
    """Set a purpose's policy (signed `SetPurposePolicy`, by the admin): the fields it may
    ever cover (empty: any) and its longest duration in seconds (0: no limit). Grants and
    requests beyond it are refused from the block that records it; consents granted
    before keep their terms."""
    outcome = node.relayer.submit(signed_intent(body), expected_signer=actor.address)
    args = settled(outcome)
    return PurposePolicySet(
        purpose=bytes32_label(args["purpose"]),
        fields=[bytes32_label(f) for f in args["fields"]],
        max_duration=args["maxDuration"],
        receipt=receipt_out(outcome.receipt),
    )


@router.post("/departments/{address}/active", response_model=DepartmentActiveSet)
def set_department_active(
    address: str, body: SetDepartmentActiveBody, node: NodeDep, actor: CurrentActor
) -> DepartmentActiveSet:
    """Suspend (`active` false) or reinstate a department (signed `SetDepartmentActive`):
    from the block that records it, a suspended department's queries are denied
    `not_granted` and its requests and grants to it refused. A department whose role was
    revoked cannot be reinstated (409)."""
    intent = signed_intent(body)
    _for_path(intent, "department", address)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return DepartmentActiveSet(
        department=args["department"],
        active=outcome.unwrap().name == "DepartmentReinstated",
        receipt=receipt_out(outcome.receipt),
    )


@router.post("/roles/revoke", response_model=RoleRevoked)
def revoke_role(body: RevokeRoleBody, node: NodeDep, actor: CurrentActor) -> RoleRevoked:
    """Take a role away (signed `RevokeRole`): registrar, issuer (its trust ends for every
    field), auditor, relayer, or department (suspended for good)."""
    outcome = node.relayer.submit(signed_intent(body), expected_signer=actor.address)
    args = settled(outcome)
    return RoleRevoked(
        role=_role_name(args["role"]), account=args["account"], receipt=receipt_out(outcome.receipt)
    )


@router.post("/issuers/{address}/distrust", response_model=IssuerDistrusted)
def distrust_issuer(
    address: str, body: DistrustIssuerBody, node: NodeDep, actor: CurrentActor
) -> IssuerDistrusted:
    """End an issuer's trust for the fields named (signed `DistrustIssuer`): from the block
    that records it, the chain records no attestation of them by that issuer."""
    intent = signed_intent(body)
    _for_path(intent, "issuer", address)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return IssuerDistrusted(
        issuer=args["issuer"],
        fields=[bytes32_label(bytes(f)) for f in args["fields"]],
        receipt=receipt_out(outcome.receipt),
    )


@router.put("/departments/{address}/encryption-key", response_model=DepartmentKeyRotated)
def rotate_department_key(
    address: str, body: RotateDepartmentKeyBody, node: NodeDep, actor: CurrentActor
) -> DepartmentKeyRotated:
    """Replace a department's published HPKE key (signed `RotateDepartmentKey`): `GET
    /departments` serves the new one, and grants from then on wrap for it."""
    intent = signed_intent(body)
    _for_path(intent, "department", address)
    check_sizes("RotateDepartmentKey", intent.message)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return DepartmentKeyRotated(
        department=args["department"],
        encryption_key=to_hex(args["encryptionKey"]),
        receipt=receipt_out(outcome.receipt),
    )


@router.post("/services", response_model=ServiceOut)
def define_service(body: DefineServiceBody, node: NodeDep, actor: CurrentActor) -> ServiceOut:
    """Define or replace a service (signed `DefineService`, by the admin): one life event
    and the most each of its departments may be granted. From the block that records it
    bundles must fit these items; consents granted before keep their terms."""
    intent = signed_intent(body)
    if len(intent.message["name"].encode()) > MAX_SERVICE_NAME:
        raise BadRequest(f"DefineService.name is longer than {MAX_SERVICE_NAME} bytes")
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    with node.store.connect() as c:
        row = (
            c.execute(select(services).where(services.c.service == bytes32_label(args["service"])))
            .mappings()
            .one()
        )
        return service_out(row, department_names(c))
