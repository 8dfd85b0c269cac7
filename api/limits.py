"""Rate limits per client IP and per signed-in address, with the `limits` package.

Four limits (:class:`~api.settings.Settings`, ``CONSENT_RATE_LIMIT_*``):

- ``ip``: every request, per client IP, refused in :class:`IpRateLimit` before the
  app reads a byte of the body;
- ``sign_in_ip``: ``POST /auth/challenge`` per client IP, also there: a challenge is the
  one unauthenticated request that writes to the database;
- ``sign_in_address``: ``POST /auth/challenge`` per address asked for (the route);
- ``address``: every write (not ``GET``/``HEAD``) bearing a valid token, per its
  subject (:func:`api.deps.current_actor`): a write is relayed to the chain or stored.
  A batch counts one write per item (``POST /queries/batch``: N queries are N writes,
  :func:`api.deps.count_writes`), a window smaller than the batch counting it as full.

A refusal is 429 problem+json with ``Retry-After`` (whole seconds until the window
lets one more through). Counts live in this process's memory (``MemoryStorage``, a
sliding-window counter: constant memory per key): one serving process enforces its own
limits, so N processes behind one address let N times through. Sharing counts between
processes needs a shared store (the package speaks Redis and Memcached), which this
service does not run. The client IP is the connection's peer, or what uvicorn takes
from ``X-Forwarded-For`` when the peer is a trusted proxy (``--forwarded-allow-ips``,
default 127.0.0.1 only).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import TooManyRequests, problem
from api.settings import Settings

SIGN_IN_PATHS = frozenset({"/auth/challenge"})


@dataclass(frozen=True)
class Limit:
    """One named limit: the windows that must all admit a request."""

    name: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, name: str, text: str) -> Limit:
        return cls(name, tuple(parse_many(text)))


class RateLimits:
    """The service's four limits over one in-memory store."""

    def __init__(self, settings: Settings) -> None:
        self.storage = MemoryStorage()
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.ip = Limit.parse("ip", settings.rate_limit_ip)
        self.address = Limit.parse("address", settings.rate_limit_address)
        self.sign_in_ip = Limit.parse("sign_in_ip", settings.rate_limit_sign_in_ip)
        self.sign_in_address = Limit.parse("sign_in_address", settings.rate_limit_sign_in_address)

    def hit(self, limit: Limit, key: str, what: str, *, cost: int = 1) -> None:
        """Count a request of ``key`` worth ``cost`` against ``limit``; 429 if a window
        is full.

        Each window counts the request even when a later one refuses it, so a client
        that keeps knocking stays refused rather than being let through by turns. A
        ``cost`` above a window's whole amount (a batch of 500 queries against 100 a
        second) counts as that amount: it needs the window empty and fills it, instead of
        never passing at all; the longer windows still count all of it."""
        for item in limit.items:
            if not self.limiter.hit(item, limit.name, key, cost=min(cost, item.amount)):
                reset, _ = self.limiter.get_window_stats(item, limit.name, key)
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    f"too many requests {what}: at most {item} (retry in {wait} s)",
                    retry_after=wait,
                    limit=str(item),
                )


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class IpRateLimit:
    """ASGI middleware: the per-IP limits, refused before routing or reading the body."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope)
        try:
            self.limits.hit(self.limits.ip, ip, f"from {ip}")
            if scope["path"] in SIGN_IN_PATHS and scope["method"] == "POST":
                self.limits.hit(self.limits.sign_in_ip, ip, f"to sign in from {ip}")
        except TooManyRequests as exc:
            response = problem(exc.status, exc.title, exc.kind, exc.detail, **exc.extra)
            response.headers.update(exc.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
