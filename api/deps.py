"""Dependencies as annotated aliases.

``NodeDep`` is the service's node, ``SettingsDep`` the app's settings; ``CurrentActor``
the caller named by a valid, unrevoked bearer token (its writes counted against its
address's rate limit), with the roles the chain gives it now (``UncountedActor``: the
same, for a route that counts its writes itself with ``count_writes``);
``require_roles(...)`` narrows that to actors holding one of the named roles (403
otherwise)::

    CurrentAuditor = Annotated[Actor, Depends(require_roles("auditor"))]

``ensure_self_or_role`` guards what a resident reads about itself; ``ensure_self_delegate_or_role``
also lets in the resident's delegate whose appointment holds a power at the chain's latest
block (``ConsentDelegates.delegationError``), so an expiry or a removal shuts it out from
the block that ends it.

``OperatorDep`` guards what only the operator reads (``/metrics``): a bearer token equal
to ``Settings.metrics_token``, or else to the one kept in ``data_dir/metrics.token``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import auth, http_tokens
from api.errors import BadRequest, Forbidden
from api.limits import RateLimits
from api.node import Node
from api.settings import Settings
from ledger.codec import checksum_address
from ledger.errors import ContractError
from ledger.intents import POWERS
from ledger.revert import decode_revert

METRICS_TOKEN_FILE = "metrics.token"


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


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


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def bearer_token(node: NodeDep, credentials: Credentials) -> str:
    """The request's valid, unexpired, unrevoked bearer token; 401 otherwise."""
    if credentials is None:
        raise auth.AuthenticationFailed(
            "this endpoint needs an 'Authorization: Bearer <token>' header", error=None
        )
    token = credentials.credentials
    auth.verify_token(node.token_secret, token)
    if http_tokens.is_revoked(node, token):
        raise auth.AuthenticationFailed("the bearer token was revoked (signed out)")
    return token


BearerToken = Annotated[str, Depends(bearer_token)]


def signed_in_actor(node: NodeDep, token: BearerToken) -> Actor:
    """The caller of this request; 401 unless a valid bearer token is sent. Its writes
    are not counted: for a route that counts them itself (:func:`count_writes`)."""
    address = auth.verify_token(node.token_secret, token)
    return Actor(address, lambda: auth.role_cache(node).roles(node, address))


def count_writes(request: Request, actor: Actor, writes: int = 1) -> None:
    """Count ``writes`` against the actor's address rate limit; 429 when they take it
    over (:meth:`api.limits.RateLimits.hit`)."""
    limits: RateLimits = request.app.state.limits
    limits.hit(limits.address, actor.address, f"by {actor.address}", cost=writes)


def current_actor(request: Request, node: NodeDep, token: BearerToken) -> Actor:
    """The caller of this request; 401 unless a valid bearer token is sent, 429 when a
    write takes its address over its rate limit (writes are what cost: each is relayed
    to the chain or stored; reads are bounded per IP)."""
    actor = signed_in_actor(node, token)
    if request.method not in ("GET", "HEAD"):
        count_writes(request, actor)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
#: The caller, its writes left for the route to count (a batch counts its items).
UncountedActor = Annotated[Actor, Depends(signed_in_actor)]


def metrics_token(settings: Settings) -> str:
    """The operator's token: configured, or made once (0600) in the data directory."""
    if settings.metrics_token:
        return settings.metrics_token
    path = Path(settings.data_dir) / METRICS_TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def require_operator(request: Request, credentials: Credentials) -> None:
    """401 unless the bearer token is the operator's (compared in constant time)."""
    expected: str | None = getattr(request.app.state, "metrics_token", None)
    if expected is None:
        expected = metrics_token(request.app.state.settings)
        request.app.state.metrics_token = expected
    if credentials is None:
        raise auth.AuthenticationFailed("the metrics need the operator's bearer token", error=None)
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise auth.AuthenticationFailed("this is not the operator's token")


OperatorDep = Annotated[None, Depends(require_operator)]


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


def ensure_self_delegate_or_role(
    node: Node, actor: Actor, resident: str, power: int, *roles: str, detail: str | None = None
) -> bool:
    """403 unless ``actor`` is ``resident`` itself, holds one of ``roles``, or is a delegate
    of ``resident`` whose appointment holds ``power`` (bits of :data:`ledger.intents.POWERS`;
    0: any appointment in force) at the chain's latest block. True when it is let in as
    the delegate. A delegate shut out (power missing, appointment expired or removed) is
    told why by the chain's own error, as ``error`` and ``arguments``; ``detail`` says who
    may instead of the default sentence."""
    resident = to_checksum_address(resident)
    if actor.address == resident or actor.has(*roles):
        return False
    error = node.client.delegation_error(resident, actor.address, power)
    if not error:
        return True
    whom = f", the role {' or '.join(roles)}" if roles else ""
    names = "/".join(n for n, bit in POWERS.items() if power & bit)
    needs = f"holding the {names} power" if names else "in force"
    detail = detail or f"only {resident} itself{whom} or its delegate {needs} may do this"
    refusal = decode_revert(error)
    if isinstance(refusal, ContractError) and type(refusal).__name__.startswith("ConsentDelegates"):
        raise Forbidden(
            f"{detail}: {refusal}", error=type(refusal).__name__, arguments=refusal.arguments
        )
    raise Forbidden(detail)


#: The current actor, required to be an auditor / an active department (else 403).
CurrentAuditor = Annotated[Actor, Depends(require_roles("auditor"))]
CurrentDepartment = Annotated[Actor, Depends(require_roles("department"))]


def path_address(value: str) -> str:
    """An address a path names, in its EIP-55 form; 400 for anything else."""
    try:
        return checksum_address(value)
    except ValueError as exc:
        raise BadRequest(f"not an address: {value!r}") from exc
