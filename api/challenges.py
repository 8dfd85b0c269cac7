"""The sign-in challenges the API has issued (:mod:`api.auth` runs the flow).

The table is the API's (:mod:`api.tables`).

Times are passed in (the flow reads its clock in one place, :func:`api.auth.now`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    false,
    func,
    select,
)

from api.tables import challenges


def prune(c: Connection, *, expired_before: int) -> None:
    """Forget challenges that expired before ``expired_before``."""
    c.execute(challenges.delete().where(challenges.c.expires_at < expired_before))


def _live(at: int) -> Any:
    return (challenges.c.used == false()) & (challenges.c.expires_at > at)


def count_live(c: Connection, *, at: int) -> int:
    """How many challenges are unspent and unexpired at ``at``."""
    return int(
        c.execute(select(func.count()).select_from(challenges).where(_live(at))).scalar_one()
    )


def soonest_expiry(c: Connection, *, at: int) -> int | None:
    """When the first of the challenges live at ``at`` expires (``None``: none is)."""
    soonest = c.execute(select(func.min(challenges.c.expires_at)).where(_live(at))).scalar_one()
    return None if soonest is None else int(soonest)


def add(c: Connection, *, nonce: str, address: str, message: str, expires_at: int) -> None:
    c.execute(
        challenges.insert().values(
            nonce=nonce, address=address, message=message, expires_at=expires_at, used=False
        )
    )


def supersede(c: Connection, address: str, keep: int) -> None:
    """Delete ``address``'s unspent challenges beyond its newest ``keep``: whoever keeps
    asking for one address's challenges only replaces them, never piles them up. Sorted
    here, by the nonces' time prefix, not by the database's collation."""
    unspent = c.execute(
        select(challenges.c.nonce).where(
            challenges.c.address == address, challenges.c.used == false()
        )
    ).scalars()
    oldest = sorted(unspent)[:-keep] if keep > 0 else []
    if oldest:
        c.execute(challenges.delete().where(challenges.c.nonce.in_(oldest)))


def find(c: Connection, nonce: str) -> Row[Any] | None:
    """The challenge row of ``nonce`` (``address``, ``message``, ``expires_at``,
    ``used``), or ``None``."""
    return c.execute(select(challenges).where(challenges.c.nonce == nonce)).first()


def spend(c: Connection, nonce: str, *, at: int) -> bool:
    """Mark an unspent challenge live at ``at`` used: one conditional UPDATE, so of two
    concurrent exchanges of the same challenge exactly one sees a row change. True if
    this call spent it."""
    result = c.execute(
        challenges.update()
        .where(
            challenges.c.nonce == nonce,
            challenges.c.used == false(),
            challenges.c.expires_at > at,
        )
        .values(used=True)
    )
    return int(result.rowcount) == 1
