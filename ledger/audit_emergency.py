"""What ``GET /audit/verify`` checks of emergency accesses, from the chain's events alone.

:func:`emergency_problems` replays the log in chain order and holds every served
emergency access (``EmergencyAccessed``) to what allowed it at its log position:

- its department held the emergency role then (``emergency_access_not_allowed``), for
  fields the role's last grant named;
- the resident's directive in force then named this department, had not ended, and
  named every field read;
- it was at most the :data:`~ledger.vocabulary.EMERGENCY_DAILY_LIMIT`-th served for
  the resident that UTC day, and its review deadline is the access time plus
  :data:`~ledger.vocabulary.EMERGENCY_REVIEW_PERIOD`.

And every one must be reviewed by an auditor before its deadline, in chain time: one
not reviewed when the audited chain's last block is past its deadline is
``emergency_review_overdue``, one reviewed after it ``emergency_reviewed_late``, and
one reviewed ``unjustified`` is ``emergency_unjustified`` — each reported with the
access's receipt, so the auditor's list of problems is the follow-up list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.vocabulary import (
    EMERGENCY_DAILY_LIMIT,
    EMERGENCY_REVIEW_PERIOD,
    name_to_bytes32,
    role_id,
)

if TYPE_CHECKING:
    from ledger.audit import ChainEvent

_EMERGENCY = role_id("emergency")
_UNJUSTIFIED = name_to_bytes32("unjustified")
_DAY = 86_400

#: Whether ``account`` held ``role`` just before the log at (block, log index).
Holds = Callable[[str, str, tuple[int, int]], bool]


@dataclass(frozen=True)
class _Directive:
    department: str
    fields: frozenset[bytes]
    valid_until: int


def emergency_problems(
    found: Iterable[ChainEvent], holds: Holds, now: int
) -> Iterator[tuple[str, str, ChainEvent]]:
    """``(kind, detail, the access's event)`` for each problem; ``now`` is the block time
    of the last audited block."""
    replay = EmergencyReplay(holds)
    yield from replay.feed(found)
    yield from replay.finish(now)


class EmergencyReplay:
    """:func:`emergency_problems` fed the log a part at a time, in chain order."""

    def __init__(self, holds: Holds) -> None:
        self.holds = holds
        self.role_fields: dict[str, frozenset[bytes]] = {}
        self.directives: dict[str, _Directive | None] = {}
        self.served: dict[tuple[str, int], int] = {}
        #: Each served access: its event and whether it was reviewed.
        self.accesses: dict[int, ChainEvent] = {}
        self.reviewed: set[int] = set()

    def feed(self, found: Iterable[ChainEvent]) -> list[tuple[str, str, ChainEvent]]:
        return list(self._feed(found))

    def _feed(self, found: Iterable[ChainEvent]) -> Iterator[tuple[str, str, ChainEvent]]:
        role_fields, directives, served = self.role_fields, self.directives, self.served
        accesses, reviewed = self.accesses, self.reviewed
        for item in found:
            name, args = item.event.name, item.event.args
            if name == "RoleAssigned" and bytes(args["role"]) == _EMERGENCY:
                role_fields[args["account"]] = frozenset(bytes(f) for f in args["fields"])
            elif name == "EmergencyDirectiveSet":
                directives[args["resident"]] = _Directive(
                    args["department"],
                    frozenset(bytes(f) for f in args["fields"]),
                    int(args["validUntil"]),
                )
            elif name == "EmergencyDirectiveWithdrawn":
                directives[args["resident"]] = None
            elif name == "EmergencyAccessed":
                access_id = int(args["accessId"])
                accesses[access_id] = item
                day = (args["resident"], item.block_timestamp // _DAY)
                served[day] = served.get(day, 0) + 1
                why = _access_problem(item, self.holds, role_fields, directives, served[day])
                if why:
                    yield (
                        "emergency_access_not_allowed",
                        f"emergency access {access_id} {why}",
                        item,
                    )
            elif name == "EmergencyReviewed":
                access_id = int(args["accessId"])
                access = accesses.get(access_id)
                if access is None or access_id in reviewed:
                    why = "was never served" if access is None else "was already reviewed"
                    detail = f"review of emergency access {access_id}: it {why}"
                    yield "emergency_review_wrong", detail, item
                    continue
                reviewed.add(access_id)
                due = int(access.event.args["reviewDue"])
                if item.block_timestamp > due:
                    yield (
                        "emergency_reviewed_late",
                        f"emergency access {access_id} was reviewed at {item.block_timestamp},"
                        f" after its deadline {due}",
                        access,
                    )
                if bytes(args["outcome"]) == _UNJUSTIFIED:
                    yield (
                        "emergency_unjustified",
                        f"emergency access {access_id} by {access.event.args['department']}"
                        " was reviewed unjustified",
                        access,
                    )

    def finish(self, now: int) -> list[tuple[str, str, ChainEvent]]:
        """The accesses not reviewed by their deadline, ``now`` the last block's time."""
        found = []
        for access_id, access in self.accesses.items():
            due = int(access.event.args["reviewDue"])
            if access_id not in self.reviewed and now > due:
                found.append(
                    (
                        "emergency_review_overdue",
                        f"emergency access {access_id} by {access.event.args['department']}"
                        f" was not reviewed by its deadline {due}",
                        access,
                    )
                )
        return found


def _access_problem(
    item: ChainEvent,
    holds: Holds,
    role_fields: dict[str, frozenset[bytes]],
    directives: dict[str, _Directive | None],
    served_today: int,
) -> str | None:
    args = item.event.args
    department, resident = args["department"], args["resident"]
    at = (item.block_number, item.log_index)
    asked = {bytes(f) for f in args["fields"]}
    if not holds("emergency", department, at):
        return f"by {department}, which did not hold the emergency role"
    if not asked <= role_fields.get(department, frozenset()):
        return f"by {department} read fields its emergency role does not name"
    directive = directives.get(resident)
    if directive is None or directive.department != department:
        return f"by {department} under no directive of {resident} for it"
    if item.block_timestamp > directive.valid_until:
        return f"by {department} after {resident}'s directive ended"
    if not asked <= directive.fields:
        return f"by {department} read fields outside {resident}'s directive"
    if served_today > EMERGENCY_DAILY_LIMIT:
        return f"was the {served_today}th for {resident} that day (limit {EMERGENCY_DAILY_LIMIT})"
    if int(args["reviewDue"]) != item.block_timestamp + EMERGENCY_REVIEW_PERIOD:
        return f"has review deadline {args['reviewDue']}, not {EMERGENCY_REVIEW_PERIOD} s on"
    return None
