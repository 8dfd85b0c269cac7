"""The audit's check of signatures made in someone else's name.

A resident's intent may be signed by a delegate whose appointment held the intent's
power at the block that recorded it, and an appointment by a registrar (a guardian).
:class:`Delegations` replays the appointments and removals from the chain's own events,
so the audit judges each delegated signature against the delegation in force at its
log position, not against today's state; and each such intent must have logged its
``DelegateSigned`` naming the signer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.intents import BY_TYPE_HASH, POWERS, IntentType
from ledger.types import Event

if TYPE_CHECKING:
    from ledger.audit import ChainEvent


@dataclass(frozen=True)
class _Change:
    at: tuple[int, int]
    powers: int  # 0: removed
    valid_until: int


class Delegations:
    """Every appointment and removal, by (resident, delegate), in chain order."""

    def __init__(self, found: Iterable[ChainEvent] = ()) -> None:
        self._changes: dict[tuple[str, str], list[_Change]] = {}
        for item in found:
            self.feed(item)

    def feed(self, item: ChainEvent) -> None:
        """Take in the next event of the log (in chain order)."""
        name, args = item.event.name, item.event.args
        if name not in ("DelegateAppointed", "DelegateRemoved"):
            return
        at = (item.block_number, item.log_index)
        appointed = name == "DelegateAppointed"
        self._changes.setdefault((args["resident"], args["delegate"]), []).append(
            _Change(
                at,
                int(args["powers"]) if appointed else 0,
                int(args["validUntil"]) if appointed else 0,
            )
        )

    def problem(
        self, resident: str, delegate: str, power: int, at: tuple[int, int], timestamp: int
    ) -> str | None:
        """Why ``delegate`` could not sign for ``resident`` with ``power`` at ``at``."""
        earlier = [c for c in self._changes.get((resident, delegate), ()) if c.at < at]
        if not earlier:
            return f"{delegate} was never appointed for {resident}"
        last = earlier[-1]
        if last.powers == 0:
            return f"{delegate}'s appointment for {resident} was removed at block {last.at[0]}"
        if timestamp > last.valid_until:
            return f"{delegate}'s appointment for {resident} ended at {last.valid_until}"
        if last.powers & power != power:
            return f"{delegate} lacks the {_power_name(power)} power for {resident}"
        return None


def _power_name(power: int) -> str:
    return next((name for name, bit in POWERS.items() if bit == power), str(power))


def delegated_problem(
    spec: IntentType,
    delegations: Delegations,
    resident: str,
    signer: str,
    at: tuple[int, int],
    timestamp: int,
    logged: Sequence[Event],
) -> str | None:
    """Why a delegate's signature on ``spec``'s intent in ``resident``'s name does not
    hold at ``at`` (``logged``: the events its intent logged before its own)."""
    if not spec.delegate_power:
        return f"{spec.name} signed by {signer}, names {resident}"
    why = delegations.problem(resident, signer, spec.delegate_power, at, timestamp)
    if why:
        return f"{spec.name} in {resident}'s name signed by {signer}: {why}"
    marked = [
        e
        for e in logged
        if e.name == "DelegateSigned"
        and e.args["delegate"] == signer
        and BY_TYPE_HASH.get(bytes(e.args["intentType"])) == spec.name
    ]
    if not marked:
        return f"{spec.name} signed by delegate {signer} logged no DelegateSigned"
    return None
