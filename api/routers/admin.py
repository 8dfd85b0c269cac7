"""The admin's signed writes: register departments, grant roles — and cut an actor off
(suspend or reinstate a department, revoke a role, end an issuer's trust) or rotate a
department's key, each from the block that records it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, NodeDep
from api.errors import BadRequest
from api.http_bounds import check_sizes
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from ledger.client import SignedIntent
from ledger.intents import ROLE_NAMES, bytes32_label, role_id
from wallets.encoding import checksum_address

router = APIRouter(prefix="/admin", tags=["admin"])


class DepartmentRegistered(BaseModel):
    department: str
    receipt: ReceiptOut


class RoleGranted(BaseModel):
    role: str
    account: str
    receipt: ReceiptOut


class DepartmentActiveSet(BaseModel):
    department: str
    active: bool
    receipt: ReceiptOut


class RoleRevoked(BaseModel):
    role: str
    account: str
    receipt: ReceiptOut


class IssuerDistrusted(BaseModel):
    issuer: str
    #: The fields named, by schema name.
    fields: list[str]
    receipt: ReceiptOut


class DepartmentKeyRotated(BaseModel):
    department: str
    encryption_key: str
    receipt: ReceiptOut


_ROLE_BY_ID = {"0x" + role_id(name).hex(): name for name in ROLE_NAMES}


def _role_name(role: bytes) -> str:
    hexed = "0x" + bytes(role).hex()
    return _ROLE_BY_ID.get(hexed, hexed)


def _for_path(intent: SignedIntent, member: str, address: str) -> None:
    """422 unless the message names the path's address: one resource, one meaning."""
    try:
        wanted = checksum_address(address)
    except ValueError as exc:
        raise BadRequest(f"not an address: {address!r}") from exc
    if intent.message[member] != wanted:
        raise BadRequest(f"message.{member} is {intent.message[member]}, the path names {wanted}")


class RegisterDepartmentBody(SignedBody):
    intent = "RegisterDepartment"


class GrantRoleBody(SignedBody):
    intent = "GrantRole"


class SetDepartmentActiveBody(SignedBody):
    intent = "SetDepartmentActive"


class RevokeRoleBody(SignedBody):
    intent = "RevokeRole"


class DistrustIssuerBody(SignedBody):
    intent = "DistrustIssuer"


class RotateDepartmentKeyBody(SignedBody):
    intent = "RotateDepartmentKey"


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
        encryption_key="0x" + bytes(args["encryptionKey"]).hex(),
        receipt=receipt_out(outcome.receipt),
    )
