"""What ``consent demo`` tells its story with: a narrator that checks each step, and the
API served in-process on a free port.

The narrator also teaches: :meth:`Story.by_hand` shows the ``consent`` command that does
a step by hand, and :meth:`Story.term` says in one plain line what a word of the
protocol means the first time it comes up (the lines are :data:`ledger.vocabulary.TERMS`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console

from api.client import ConsentApi
from api.client_errors import ApiProblem
from api.commands.common import describe_receipt, escape
from ledger.vocabulary import TERMS
from wallets.identity import Identity

SERVER_START_TIMEOUT = 60.0


class Mismatch(Exception):
    """A step did not behave as the story told."""


@dataclass
class Actor:
    """One of the story's people: a name, its wallet identity, its API session."""

    label: str
    identity: Identity
    api: ConsentApi

    @property
    def address(self) -> str:
        return self.identity.address


class Story:
    """Narration plus checked expectations."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.chapter_no = 0
        self.checks = 0
        self.explained: set[str] = set()

    def chapter(self, title: str) -> None:
        self.chapter_no += 1
        self.console.print(f"\n[bold cyan]{self.chapter_no}. {title}[/bold cyan]")

    def say(self, text: str) -> None:
        self.console.print(f"   {text}")

    def term(self, *words: str) -> None:
        """One plain line for each word of the protocol, the first time it comes up."""
        for word in words:
            if word not in self.explained:
                self.explained.add(word)
                self.console.print(f"   [magenta]{word}[/magenta]: {escape(TERMS[word])}")

    def by_hand(self, *commands: str) -> None:
        """The ``consent`` command(s) that do this step by hand."""
        for command in commands:
            self.console.print(f"   [dim]by hand: $ {escape(command)}[/dim]")

    def check(self, condition: bool, told: str, happened: str = "") -> None:
        self.checks += 1
        if not condition:
            raise Mismatch(f"expected: {told}; happened: {happened or 'something else'}")
        self.console.print(f"   [green]✓[/green] {told}")

    def refused(self, reason: str, call: Callable[[], Any], told: str) -> ApiProblem:
        """``call`` must be refused on chain with ``reason`` (403 + denial receipt)."""
        try:
            answer = call()
        except ApiProblem as problem:
            self.check(
                problem.status == 403 and problem.reason == reason,
                f"{told}: refused with {reason!r}",
                f"{problem.summary()}",
            )
            self.check(
                problem.receipt is not None,
                "the refusal itself is recorded on chain",
                "no receipt in the problem",
            )
            assert problem.receipt is not None
            self.say(f"[dim]{describe_receipt(problem.receipt)}[/dim]")
            return problem
        raise Mismatch(f"expected: {told}: refused with {reason!r}; happened: answered {answer!r}")

    @contextmanager
    def working(self, text: str) -> Iterator[None]:
        with self.console.status(f"   {text}…"):
            yield


# ---------------------------------------------------------------------------- server


@contextmanager
def serve_in_thread(node: Any, *, log_level: str = "warning") -> Iterator[str]:
    """The API over ``node`` on a free 127.0.0.1 port in a background thread; yields its URL."""
    import uvicorn

    from api.main import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(node=node), log_level=log_level, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers; Ctrl-C stays with the CLI.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="consent-api", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _wait_for_health(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the API server stopped while starting")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
            last = "not healthy yet"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"the API did not answer /health within {SERVER_START_TIMEOUT:g}s: {last}")
