"""Role checks inside routes, for reads whose scope depends on who asks."""

from __future__ import annotations

from api.deps import Actor
from api.errors import Forbidden


def require_role(actor: Actor, *roles: str) -> None:
    """403 unless ``actor`` holds one of ``roles`` (read from the chain)."""
    if not actor.roles.intersection(roles):
        raise Forbidden(f"requires the role {' or '.join(roles)}")
