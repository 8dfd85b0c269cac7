"""Dependencies as annotated aliases.

``NodeDep`` is the service's node; ``CurrentActor`` the caller named by a valid bearer
token, with the roles the chain gives it now; ``require_roles(...)`` narrows that to
actors holding one of the named roles (403 otherwise)::

    CurrentAuditor = Annotated[Actor, Depends(require_roles("auditor"))]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import auth
from api.errors import Forbidden
from api.node import Node


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


class Actor:
    """A signed-in caller: checksummed address and the roles held at the head block.

    The roles are read on first use: most of a resident's writes are authorised by
    their own signature and never ask, and a role read is a chain call."""

    __slots__ = ("_load", "_roles", "address")

    def __init__(self, address: str, roles: frozenset[str] | Callable[[], frozenset[str]]) -> None:
        self.address = address
        if callable(roles):
            self._load: Callable[[], frozenset[str]] | None = roles
            self._roles: frozenset[str] | None = None
        else:
            self._load, self._roles = None, roles

    @property
    def roles(self) -> frozenset[str]:
        if self._roles is None:
            assert self._load is not None
            self._roles = self._load()
        return self._roles

    def has(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def __repr__(self) -> str:
        return f"Actor({self.address!r})"


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="HMAC token from POST /auth/token",
    description="`Authorization: Bearer <access_token>` from `POST /auth/token`.",
)


def current_actor(
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller of this request; 401 unless a valid, unexpired bearer token is sent."""
    if credentials is None:
        raise auth.AuthenticationFailed(
            "this endpoint needs an 'Authorization: Bearer <token>' header", error=None
        )
    address = auth.verify_token(node.token_secret, credentials.credentials)
    return Actor(address, lambda: auth.role_cache(node).roles(node, address))


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*names: str) -> Callable[[Actor], Actor]:
    """A dependency answering the current actor if it holds one of ``names``, else 403."""
    unknown = sorted(set(names) - set(auth.ROLES))
    if not names or unknown:
        raise ValueError(f"require_roles needs known role names, got {names!r}")

    def dependency(actor: CurrentActor) -> Actor:
        if not actor.has(*names):
            raise Forbidden(f"this needs the role {' or '.join(names)}")
        return actor

    return dependency


def ensure_self_or_role(actor: Actor, address: str, *roles: str) -> None:
    """403 unless ``actor`` is ``address`` itself or holds one of ``roles``."""
    if actor.address == to_checksum_address(address) or actor.has(*roles):
        return
    whom = f" or the role {' or '.join(roles)}" if roles else ""
    raise Forbidden(f"only {to_checksum_address(address)} itself{whom} may do this")


#: The current actor, required to be an auditor / an active department (else 403).
CurrentAuditor = Annotated[Actor, Depends(require_roles("auditor"))]
CurrentDepartment = Annotated[Actor, Depends(require_roles("department"))]
