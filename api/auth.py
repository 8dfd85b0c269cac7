"""Sign-in with an Ethereum account, stateless bearer tokens, roles read from the chain.

The flow (DESIGN, "HTTP API")::

    POST /auth/challenge {address}      -> an EIP-4361 text with a fresh nonce, stored
                                           (the table and its queries: api.challenges)
    POST /auth/token {address, message, signature}
        message == the stored, unused, unexpired challenge of that address
        message names this service's configured domain and URI (never a Host header)
        EIP-191 personal_sign of message recovers to address (65 bytes, low s)
        challenge marked used by one conditional UPDATE (exactly one exchange wins)
        -> base64url(payload) "." base64url(HMAC-SHA256(token_secret, that text))

The sign-in text's domain and URI come from ``Settings.public_url``: a page that relays
a challenge under its own ``Host`` still gets a text naming this service, which the
wallet shows the person, so phishing for a signature shows the real name. Outstanding
challenges are bounded per address (a new one supersedes the oldest beyond
``max_challenges_per_address``) and in all (``max_challenges``: 429 beyond it).

A token names its subject, lifetime and a random id; roles are not frozen in it but read from
the chain on every request (:func:`roles_of`), cached per ``(address, head block)`` by
:class:`RoleCache`, so a suspended department loses its role with the next block.

Time is read through the module-level :func:`now` so tests can replace the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account.messages import defunct_hash_message
from eth_utils import is_checksum_address
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import challenges
from api.errors import BadRequest, TooManyRequests, Unauthorized, problem
from api.node import Node
from api.settings import Settings
from ledger import eip712
from ledger.errors import ContractError
from ledger.vocabulary import ROLE_BITS

#: Every role an actor can hold, in the order answers list them.
ROLES: tuple[str, ...] = ROLE_BITS

STATEMENT = "Sign in to the Resident Consent Ledger."
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 22  # 22 * log2(62) ~ 131 bits; EIP-4361 wants >= 8 alphanumerics
#: Base 62 in code-point order, so fixed-width numerals compare as the numbers do.
_ORDERED = string.digits + string.ascii_uppercase + string.ascii_lowercase
_NONCE_LINE = re.compile(r"^Nonce: ([A-Za-z0-9]{8,64})$", re.MULTILINE)
_URI_LINE = re.compile(r"^URI: (.*)$", re.MULTILINE)
_DOMAIN_LINE = " wants you to sign in with your Ethereum account:"
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN = 1024


def now() -> int:
    """Wall-clock Unix seconds (replace in tests to move time)."""
    return int(time.time())


# ------------------------------------------------------------------ errors


class AuthenticationFailed(Unauthorized):
    """401 with the ``WWW-Authenticate`` challenge RFC 9110 and RFC 6750 ask for.

    ``error`` is the RFC 6750 error code (``invalid_token``), or None when no
    credentials were presented at all.
    """

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(detail)
        challenge = "Bearer" if error is None else f'Bearer error="{error}"'
        self.headers = {"WWW-Authenticate": challenge}


def install(app: FastAPI) -> None:
    """Render :class:`AuthenticationFailed` as problem+json with its ``WWW-Authenticate``.

    Without this the generic :class:`~api.errors.ApiError` handler still answers the
    same 401 problem, only without the header.
    """

    @app.exception_handler(AuthenticationFailed)
    async def authentication_failed(_: Request, exc: AuthenticationFailed) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.kind, exc.detail, **exc.extra)
        response.headers.update(exc.headers)
        return response


# ------------------------------------------------------------------ challenges


@dataclass(frozen=True)
class Challenge:
    message: str
    nonce: str
    expires_at: int


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def siwe_message(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: int,
    expires_at: int,
) -> str:
    """The EIP-4361 (Sign-In with Ethereum) text for these values."""
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n"
        f"{address}\n"
        f"\n"
        f"{STATEMENT}\n"
        f"\n"
        f"URI: {uri}\n"
        f"Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\n"
        f"Expiration Time: {_iso(expires_at)}"
    )


def new_nonce() -> str:
    """11 characters of the issuing time (ns, base 62: nonces sort by issue, even within
    one second) and :data:`NONCE_LENGTH` random ones (the secret part)."""
    stamp, digits = time.time_ns(), []
    for _ in range(11):
        stamp, digit = divmod(stamp, 62)
        digits.append(_ORDERED[digit])
    return "".join(reversed(digits)) + "".join(
        secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH)
    )


def issue_challenge(node: Node, address: str, settings: Settings) -> Challenge:
    """Store and return a fresh sign-in challenge for ``address`` (checksummed), naming
    the configured public origin; 429 while ``max_challenges`` are outstanding."""
    domain, uri = settings.public_origin()
    if not _AUTHORITY.fullmatch(domain):
        raise BadRequest(f"the public URL's host {domain!r} is not a valid URI authority")
    issued = now()
    ttl = settings.challenge_ttl
    expires = issued + ttl
    nonce = new_nonce()
    message = siwe_message(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=node.chain.chain_id,
        nonce=nonce,
        issued_at=issued,
        expires_at=expires,
    )
    with node.store.begin() as c:
        # Expired challenges are kept for one more ttl (so a late exchange is told
        # "expired", not "unknown"), then pruned.
        challenges.prune(c, expired_before=issued - ttl)
        if challenges.count_live(c, at=issued) >= settings.max_challenges:
            soonest = challenges.soonest_expiry(c, at=issued)
            raise TooManyRequests(
                f"{settings.max_challenges} sign-ins are in progress; try again later",
                retry_after=max(1, int(soonest or issued + 1) - issued),
            )
        challenges.add(c, nonce=nonce, address=address, message=message, expires_at=expires)
        challenges.supersede(c, address, settings.max_challenges_per_address)
    return Challenge(message, nonce, expires)


# ------------------------------------------------------------------ signatures


def recover_personal_sign(message: str, signature: bytes) -> str:
    """The signer of an EIP-191 ``personal_sign`` of ``message``, checked as OpenZeppelin's
    ``ECDSA.recover`` checks (:func:`ledger.eip712.signature_problem`)."""
    problem = eip712.signature_problem(signature)
    if problem is not None:
        raise AuthenticationFailed(problem[1], error=None)
    try:
        return eip712.recover(defunct_hash_message(text=message), signature)
    except ContractError as exc:  # no point on the curve
        raise AuthenticationFailed("the signature does not recover to any address") from exc


# ------------------------------------------------------------------ token exchange


def _challenge_nonce(message: str) -> str:
    match = _NONCE_LINE.search(message)
    if match is None:
        raise AuthenticationFailed(
            "the message is not a sign-in challenge of this service", error=None
        )
    return match.group(1)


def _check_origin(message: str, settings: Settings) -> None:
    """The text must name exactly this service's domain and URI, whatever else matched:
    a challenge stored under another origin (an older ``public_url``) signs in nowhere."""
    domain, uri = settings.public_origin()
    first, _, _ = message.partition("\n")
    uri_line = _URI_LINE.search(message)
    if first != domain + _DOMAIN_LINE or uri_line is None or uri_line.group(1) != uri:
        raise AuthenticationFailed(
            f"the message does not name this service ({domain}, {uri})", error=None
        )


def verify_challenge(
    node: Node, address: str, message: str, signature: bytes, settings: Settings
) -> str:
    """Check that ``message`` is the live challenge of ``address`` for this service and
    that ``address`` signed it; return its nonce. Changes nothing."""
    nonce = _challenge_nonce(message)
    _check_origin(message, settings)
    with node.store.connect() as c:
        row = challenges.find(c, nonce)
    if row is None:
        raise AuthenticationFailed(
            "unknown challenge: request one from /auth/challenge", error=None
        )
    if row.address != address or row.message != message:
        raise AuthenticationFailed(
            "the message is not the challenge issued to this address", error=None
        )
    if row.used:
        raise AuthenticationFailed("the challenge was already used", error=None)
    if now() >= row.expires_at:
        raise AuthenticationFailed("the challenge has expired", error=None)
    signer = recover_personal_sign(message, signature)
    if signer != address:
        raise AuthenticationFailed(
            f"the signature was made by {signer}, not by {address}", error=None
        )
    return nonce


def mark_used(node: Node, nonce: str) -> bool:
    """Spend a challenge (:func:`api.challenges.spend`: exactly one of two concurrent
    exchanges wins). True if this call spent it."""
    with node.store.begin() as c:
        return challenges.spend(c, nonce, at=now())


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    roles: list[str]


def exchange(
    node: Node, address: str, message: str, signature: bytes, settings: Settings
) -> TokenGrant:
    """Trade a signed challenge for a bearer token; any failure is a 401 and spends nothing.

    Roles are read before the challenge is spent, so a chain that is down (503) leaves
    the challenge usable.
    """
    nonce = verify_challenge(node, address, message, signature, settings)
    roles = role_cache(node).roles(node, address)
    if not mark_used(node, nonce):
        raise AuthenticationFailed("the challenge was already used", error=None)
    ttl = settings.token_ttl
    token = issue_token(node.token_secret, address, ttl=ttl)
    return TokenGrant(token, ttl, [r for r in ROLES if r in roles])


# ------------------------------------------------------------------ tokens


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict base64url: only the alphabet, no padding, canonical trailing bits."""
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()


def issue_token(secret: bytes, address: str, *, ttl: int) -> str:
    """``base64url(JSON {sub, iat, exp, jti})`` "." ``base64url(HMAC-SHA256(secret, first
    part))``; ``jti`` keeps two sign-ins within one second apart, so ending one (logout)
    leaves the other."""
    issued = now()
    body = json.dumps(
        {"sub": address, "iat": issued, "exp": issued + ttl, "jti": secrets.token_urlsafe(12)},
        separators=(",", ":"),
    ).encode()
    payload = _b64e(body)
    return payload + "." + _b64e(_mac(secret, payload))


def verify_token(secret: bytes, token: str) -> str:
    """The address a token was issued to; :class:`AuthenticationFailed` unless it is
    well formed, carries a valid MAC and has not expired (revocation is checked by the
    caller, :mod:`api.http_tokens`: it needs the database)."""
    return token_claims(secret, token)[0]


def token_claims(secret: bytes, token: str) -> tuple[str, int]:
    """``(subject, expires)`` of a valid, unexpired token; else :class:`AuthenticationFailed`."""
    if len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise AuthenticationFailed("the bearer token is malformed")
    payload, tag = token.split(".")
    try:
        mac = _b64d(tag)
        body = _b64d(payload)
    except (ValueError, binascii.Error) as exc:
        raise AuthenticationFailed("the bearer token is malformed") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise AuthenticationFailed("the bearer token's signature does not verify")
    try:
        claims: Any = json.loads(body)
        subject, expires = claims["sub"], claims["exp"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthenticationFailed("the bearer token's payload is malformed") from exc
    if not isinstance(subject, str) or not is_checksum_address(subject):
        raise AuthenticationFailed("the bearer token's subject is not an address")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise AuthenticationFailed("the bearer token's payload is malformed")
    if now() >= expires:
        raise AuthenticationFailed("the bearer token has expired")
    return subject, expires


# ------------------------------------------------------------------ roles


def roles_of(node: Node, address: str, block: int | str = "latest") -> list[str]:
    """The roles ``address`` holds on chain at ``block``, in :data:`ROLES` order (one
    ``rolesOf`` call: on the embedded chain each call costs milliseconds)."""
    held = node.client.roles(address, block)
    return [r for r in ROLES if r in held]


class RoleCache:
    """Roles per address, valid for one head block: a burst of requests by one actor
    between two blocks costs one chain read; concurrent misses for one address wait for
    the first reader instead of all reading."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[int, frozenset[str]]] = OrderedDict()
        self._readers: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _hit(self, address: str, block: int) -> frozenset[str] | None:
        entry = self._entries.get(address)
        if entry is None or entry[0] != block:
            return None
        self._entries.move_to_end(address)
        return entry[1]

    def roles(self, node: Node, address: str, block: int | None = None) -> frozenset[str]:
        if block is None:
            block = node.chain.head_number()
        with self._lock:
            hit = self._hit(address, block)
            if hit is not None:
                return hit
            reader = self._readers.setdefault(address, threading.Lock())
        with reader:
            with self._lock:
                hit = self._hit(address, block)
                if hit is not None:
                    return hit
            roles = frozenset(roles_of(node, address, block))
            with self._lock:
                self._entries[address] = (block, roles)
                self._entries.move_to_end(address)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
                self._readers.pop(address, None)
        return roles


_caches_lock = threading.Lock()


def role_cache(node: Node) -> RoleCache:
    """The node's role cache (kept on the node object, created on first use)."""
    cache: RoleCache | None = getattr(node, "_role_cache", None)
    if cache is None:
        with _caches_lock:
            cache = getattr(node, "_role_cache", None)
            if cache is None:
                cache = RoleCache()
                object.__setattr__(node, "_role_cache", cache)
    return cache
