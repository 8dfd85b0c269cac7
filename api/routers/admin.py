"""The admin's signed writes: register departments, grant roles."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, NodeDep
from api.http_bounds import check_sizes
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from ledger.intents import ROLE_NAMES, role_id

router = APIRouter(prefix="/admin", tags=["admin"])


class DepartmentRegistered(BaseModel):
    department: str
    receipt: ReceiptOut


class RoleGranted(BaseModel):
    role: str
    account: str
    receipt: ReceiptOut


_ROLE_BY_ID = {"0x" + role_id(name).hex(): name for name in ROLE_NAMES}


@router.post("/departments", response_model=DepartmentRegistered, status_code=201)
def register_department(
    body: SignedBody, node: NodeDep, actor: CurrentActor
) -> DepartmentRegistered:
    """Register a department (signed `RegisterDepartment`, by the admin)."""
    intent = signed_intent("RegisterDepartment", body)
    check_sizes("RegisterDepartment", intent.message)  # name, code, encryption key
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    args = settled(outcome)
    return DepartmentRegistered(department=args["department"], receipt=receipt_out(outcome.receipt))


@router.post("/roles", response_model=RoleGranted, status_code=201)
def grant_role(body: SignedBody, node: NodeDep, actor: CurrentActor) -> RoleGranted:
    """Make an address registrar, issuer (with fields) or auditor (signed `GrantRole`)."""
    outcome = node.relayer.submit(signed_intent("GrantRole", body), expected_signer=actor.address)
    args = settled(outcome)
    role = "0x" + bytes(args["role"]).hex()
    return RoleGranted(
        role=_ROLE_BY_ID.get(role, role),
        account=args["account"],
        receipt=receipt_out(outcome.receipt),
    )
