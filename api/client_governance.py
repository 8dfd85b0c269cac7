"""Governance through the API: the admin's and the registrar's signed intents, the
auditor's reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from api.client_errors import ClientRefusal
from api.client_signing import SigningSession
from ledger.codec import checksum_address, from_hex
from ledger.vocabulary import name_to_bytes32
from wallets.attestation import commitment


def id_commitment(id_number: str, salt: bytes) -> bytes:
    """The salted ID commitment a registrar enrols: the attestation commitment of the
    ``id_number`` field (``keccak256(abi.encode(bytes32 "id_number", string, bytes32 salt))``).
    Use a salt of its own, not the record's, so it matches no attestation."""
    return commitment(name_to_bytes32("id_number"), id_number, salt)


class GovernanceFlows(SigningSession):
    """The directory and roles (admin), enrolment (registrar), the audit trail (auditor)."""

    # -- admin ----------------------------------------------------------------------

    def register_department(
        self, department: str, name: str, code: str, encryption_key: bytes | str
    ) -> dict[str, Any]:
        """``POST /admin/departments`` (admin) → ``{"department", "receipt"}``."""
        message = {
            "department": checksum_address(department),
            "name": name,
            "code": code,
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/departments", "RegisterDepartment", message
        )
        return answer

    def grant_role(self, role: str, account: str, fields: Iterable[str] = ()) -> dict[str, Any]:
        """``POST /admin/roles`` (admin): registrar, issuer (with ``fields``) or auditor."""
        message = {
            "role": self.role_id(role),
            "account": checksum_address(account),
            "fields": self.field_ids(fields),
        }
        answer: dict[str, Any] = self._post_signed("POST", "/admin/roles", "GrantRole", message)
        return answer

    def set_department_active(self, department: str, active: bool) -> dict[str, Any]:
        """``POST /admin/departments/{a}/active`` (admin): suspend or reinstate."""
        address = checksum_address(department)
        message = {"department": address, "active": bool(active)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/admin/departments/{address}/active", "SetDepartmentActive", message
        )
        return answer

    def rotate_department_key(self, department: str, encryption_key: bytes | str) -> dict[str, Any]:
        """``PUT /admin/departments/{a}/encryption-key`` (admin): publish a new key."""
        address = checksum_address(department)
        message = {
            "department": address,
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed(
            "PUT", f"/admin/departments/{address}/encryption-key", "RotateDepartmentKey", message
        )
        return answer

    def revoke_role(self, role: str, account: str) -> dict[str, Any]:
        """``POST /admin/roles/revoke`` (admin): registrar, issuer, auditor or department."""
        message = {"role": self.role_id(role), "account": checksum_address(account)}
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/roles/revoke", "RevokeRole", message
        )
        return answer

    def distrust_issuer(self, issuer: str, fields: Iterable[str]) -> dict[str, Any]:
        """``POST /admin/issuers/{a}/distrust`` (admin): end its trust for ``fields``."""
        address = checksum_address(issuer)
        message = {"issuer": address, "fields": self.field_ids(fields)}
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/admin/issuers/{address}/distrust", "DistrustIssuer", message
        )
        return answer

    def set_purpose_policy(
        self, purpose: str, fields: Iterable[str], max_duration: int
    ) -> dict[str, Any]:
        """``POST /admin/purpose-policies`` (admin): the fields ``purpose`` may cover (none:
        any) and its longest duration in seconds (0: no limit)."""
        message = {
            "purpose": self.purpose_id(purpose),
            "fields": self.field_ids(fields),
            "maxDuration": int(max_duration),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/purpose-policies", "SetPurposePolicy", message
        )
        return answer

    def define_service(
        self, service: str, name: str, items: Iterable[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """``POST /admin/services`` (admin): define or replace ``service`` (its id, e.g.
        ``NEWBORN_REGISTRATION``) as ``items`` of ``{department, fields, purpose,
        duration (s), max_uses (0: no cap)}``, department by address, code or name."""
        message = {
            "service": name_to_bytes32(service),
            "name": name,
            "items": [
                {
                    "department": checksum_address(self.department(item["department"])["address"]),
                    "fields": self.field_ids(item["fields"]),
                    "purpose": self.purpose_id(item["purpose"]),
                    "duration": int(item["duration"]),
                    "maxUses": int(item.get("max_uses", 0)),
                }
                for item in items
            ],
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/admin/services", "DefineService", message
        )
        return answer

    # -- registrar ------------------------------------------------------------------

    def enroll_resident(
        self, resident: str, id_commitment: bytes | str, encryption_key: bytes | str
    ) -> dict[str, Any]:
        """``POST /residents`` (registrar) → ``{"resident", "receipt"}``."""
        message = {
            "resident": checksum_address(resident),
            "idCommitment": from_hex(id_commitment, length=32, what="id commitment"),
            "encryptionKey": from_hex(encryption_key, what="encryption key"),
        }
        answer: dict[str, Any] = self._post_signed("POST", "/residents", "EnrollResident", message)
        return answer

    # -- auditor --------------------------------------------------------------------

    def audit_events(
        self,
        *,
        resident: str | None = None,
        department: str | None = None,
        type: str | None = None,
        since: int | None = None,
        until: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of ``GET /audit/events`` → ``{"data", "next_cursor"}``."""
        answer: dict[str, Any] = self._get(
            "/audit/events",
            resident=resident,
            department=department,
            type=type,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        return answer

    def audit_export(self, format: str = "jsonl", **filters: Any) -> Iterator[bytes]:
        """``GET /audit/export?format=csv|jsonl``, streamed in chunks."""
        if format not in ("csv", "jsonl"):
            raise ClientRefusal(f"export format must be csv or jsonl, not {format!r}")
        return self._stream("/audit/export", {"format": format, **filters})

    def audit_verify(self) -> dict[str, Any]:
        """``GET /audit/verify`` → ``{"ok", "events", "signatures_verified", "problems"}``."""
        answer: dict[str, Any] = self._get("/audit/verify")
        return answer
