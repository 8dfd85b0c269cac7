"""Shapes of :mod:`api.routers.admin`: the admin's signed intents and what each changed."""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas.common import ReceiptOut, SignedBody


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


class PurposePolicySet(BaseModel):
    purpose: str
    #: The fields the purpose may cover, by schema name; empty: any field.
    fields: list[str]
    #: The longest a consent or request for it may last, in seconds; 0: no limit.
    max_duration: int
    receipt: ReceiptOut


class SetPurposePolicyBody(SignedBody):
    intent = "SetPurposePolicy"


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
