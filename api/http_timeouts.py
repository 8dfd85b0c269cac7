"""Header and body read timeouts for the served process (uvicorn's h11 protocol).

uvicorn bounds only the idle time between requests (``timeout_keep_alive``) and cancels
even that on the first byte received, so a client that opens a connection and sends its
request head one byte at a time (or never finishes its body) holds the connection, and
its slot among the server's connections, for as long as it likes. :func:`timed_h11`
gives a subclass of uvicorn's ``H11Protocol`` that closes a connection whose request
head is not complete ``header_timeout`` seconds after the connection opened (or after
the previous response), or whose body is not complete ``body_timeout`` seconds after
its head. A closed connection's half-read request never reaches the app, so nothing
is changed; an app already waiting for that body sees ``http.disconnect``.

Passed to uvicorn as ``http=`` by ``consent serve``.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class TimedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    _deadline: asyncio.TimerHandle | None = None
    _waiting_for: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def _track(self) -> None:
        """Arm the timer for what the connection waits for now: a head, a body, nothing."""
        if self.transport is None or self.transport.is_closing():
            self._arm(None)
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._arm("head")
        elif state is h11.SEND_BODY:
            self._arm("body")
        else:
            self._arm(None)

    def _arm(self, waiting_for: str | None) -> None:
        if waiting_for == self._waiting_for:
            return  # keep the running deadline: more bytes of the same part do not extend it
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting_for = waiting_for
        if waiting_for is not None:
            seconds = self.header_timeout if waiting_for == "head" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._expire, waiting_for)

    def _expire(self, waiting_for: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("closing %s: request %s incomplete after the timeout", client, waiting_for)
        self.transport.close()


def timed_h11(header_timeout: float, body_timeout: float) -> type[TimedH11Protocol]:
    """The protocol class with these timeouts (uvicorn constructs it per connection)."""
    return type(
        "TimedH11Protocol",
        (TimedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
