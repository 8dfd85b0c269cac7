"""Emergency access from each side: the resident's directive, the emergency department's
access, the auditor's review and queue.

The resident's wallet wraps its directive's field keys for the department's key once that
key is the department's (on chain, or signed by the pinned admin), as a grant does;
rotation re-wraps them (:meth:`~api.client_consents.ConsentFlows.rewrap_directive`).
The department states a reason code and a justification whose *salted* hash alone goes
on chain (:mod:`wallets.emergency`): the text and salt stay with it, in
:class:`EmergencyResult`, to show an auditor. What it reads is opened and checked as a
query's fields are (:meth:`~api.client_queries.QueryFlows.open_answer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.client_consents import ConsentFlows
from api.client_errors import ClientRefusal
from api.client_queries import FieldAnswer, QueryFlows, RecordRoot
from api.client_records import DAY
from ledger.codec import ZERO32, checksum_address
from ledger.vocabulary import REVIEW_OUTCOMES, name_to_bytes32
from wallets.attestation import IsTrusted, RecordedAt
from wallets.emergency import JUSTIFICATION, REVIEW_NOTES, SaltedText

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class EmergencyResult:
    """An emergency access served and opened, with what the department must keep: the
    justification's text and salt behind the hash the chain recorded."""

    access_id: int
    review_due: int
    reason: str
    justification: SaltedText
    receipt: dict[str, Any]
    version: int
    root: str
    root_on_chain: bool
    fields: dict[str, FieldAnswer]

    @property
    def values(self) -> dict[str, str]:
        return {name: answer.value.value for name, answer in self.fields.items()}


class EmergencyFlows(ConsentFlows, QueryFlows):
    """Directives (resident), emergency accesses (emergency department), reviews and the
    review queue (auditor)."""

    # -- resident ---------------------------------------------------------------------

    def leave_directive(
        self, department: str, fields: Iterable[str], days: float = 365
    ) -> dict[str, Any]:
        """``POST /emergency-directives``: leave (or replace) the directive naming
        ``department`` (address, code or name) and ``fields`` for ``days`` from now, the
        fields' keys of the latest record wrapped for the department's checked key."""
        names = self.field_names(fields)
        if not names:
            raise ClientRefusal("a directive names at least one field (withdraw it instead)")
        entry, record, wrapped = self.wrap_latest_for(department, names)
        message = {
            "resident": self.principal,
            "department": checksum_address(entry["address"]),
            "fields": self.field_ids(names),
            "validUntil": self.now() + round(days * DAY),
        }
        answer: dict[str, Any] = self._post_signed(
            "POST",
            "/emergency-directives",
            "EmergencyDirective",
            message,
            wrapped_keys=wrapped,
            version=record.version,
        )
        return answer

    def withdraw_directive(self) -> dict[str, Any]:
        """``POST /emergency-directives`` with no fields: the directive ends at that block
        and its keys are deleted."""
        message = {
            "resident": self.principal,
            "department": ZERO_ADDRESS,
            "fields": [],
            "validUntil": 0,
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/emergency-directives", "EmergencyDirective", message
        )
        return answer

    # -- emergency department ---------------------------------------------------------

    def emergency_access(
        self, resident: str, fields: Iterable[str], reason: str, justification: SaltedText
    ) -> dict[str, Any]:
        """``POST /emergency-accesses`` (signed ``EmergencyAccess``): the raw answer; a
        refusal is an ApiProblem with ``reason`` and ``receipt``."""
        if justification.tag != JUSTIFICATION:
            raise ClientRefusal(
                "a justification is salted as one (wallets.emergency.JUSTIFICATION)"
            )
        message = {
            "department": self.address,
            "resident": checksum_address(resident),
            "fields": self.field_ids(fields),
            "reason": _code(reason),
            "justificationHash": justification.hash,
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", "/emergency-accesses", "EmergencyAccess", message
        )
        return answer

    def read_in_emergency(
        self,
        resident: str,
        fields: Iterable[str],
        reason: str,
        justification: str | SaltedText,
        *,
        is_trusted: IsTrusted | None,
        recorded_at: RecordedAt | None = None,
        record_root: RecordRoot | None = None,
    ) -> EmergencyResult:
        """Access, then open and check each field as :meth:`query` does. A text
        ``justification`` is salted here (:meth:`SaltedText.new`); keep the result's
        ``justification`` (text and salt): it is what the recorded hash stands for."""
        salted = (
            justification
            if isinstance(justification, SaltedText)
            else SaltedText.new(JUSTIFICATION, justification)
        )
        resident = checksum_address(resident)
        answer = self.emergency_access(resident, fields, reason, salted)
        version, root, on_chain, opened = self.open_answer(
            answer,
            resident,
            is_trusted=is_trusted,
            recorded_at=recorded_at,
            record_root=record_root,
        )
        return EmergencyResult(
            access_id=int(answer["access_id"]),
            review_due=int(answer["review_due"]),
            reason=str(answer["reason"]),
            justification=salted,
            receipt=dict(answer["receipt"]),
            version=version,
            root=root,
            root_on_chain=on_chain,
            fields=opened,
        )

    # -- auditor ----------------------------------------------------------------------

    def review_emergency(
        self, access_id: int, outcome: str, notes: str | SaltedText | None = None
    ) -> tuple[dict[str, Any], SaltedText | None]:
        """``POST /emergency-accesses/{id}/review`` (signed ``ReviewEmergency``): the
        answer and the salted notes (``None``: no notes, a zero hash on chain)."""
        if outcome not in REVIEW_OUTCOMES:
            raise ClientRefusal(f"an outcome is {' or '.join(REVIEW_OUTCOMES)}, not {outcome!r}")
        salted = SaltedText.new(REVIEW_NOTES, notes) if isinstance(notes, str) else notes
        message = {
            "accessId": int(access_id),
            "outcome": name_to_bytes32(outcome),
            "notesHash": salted.hash if salted is not None else ZERO32,
        }
        answer: dict[str, Any] = self._post_signed(
            "POST", f"/emergency-accesses/{int(access_id)}/review", "ReviewEmergency", message
        )
        return answer, salted

    def emergency_queue(self, status: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """``GET /audit/emergency-accesses`` (every page), oldest first, and the chain
        time the first page's statuses were judged at."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        as_of: int | None = None
        while True:
            page = self._get("/audit/emergency-accesses", status=status, cursor=cursor)
            rows.extend(page["data"])
            as_of = int(page["as_of"]) if as_of is None else as_of
            cursor = page.get("next_cursor")
            if not cursor:
                return rows, as_of


def _code(reason: str) -> bytes:
    """A reason code as the chain takes it: upper-case ASCII, at most 32 bytes."""
    try:
        return name_to_bytes32(reason.strip().upper())
    except ValueError as exc:
        raise ClientRefusal(f"a reason code is 1-32 ASCII letters (UNCONSCIOUS): {exc}") from exc
