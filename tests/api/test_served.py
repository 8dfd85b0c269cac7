"""`consent serve` as a real process over real HTTP: the story on the embedded chain and on
anvil, and a SIGKILL in the middle of a burst of grants that loses no answered intent."""

from __future__ import annotations

import os
import secrets
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, fast_admin, populate
from tests.api.test_story import run_story
from wallets.identity import Identity

CONSENT = Path(sys.executable).parent / "consent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A `consent serve` subprocess on a data directory."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fast_admin(self.data_dir)  # the admin the node would make, at test scrypt cost
        self.process = subprocess.Popen(
            [
                str(CONSENT),
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.data_dir.parent / f"serve-{self.port}.log", "ab"),  # noqa: SIM115
            # One process unless a test asks for workers (test_workers): the API's own
            # behaviour, at a third of the start-up time and memory.
            env={**os.environ, "CONSENT_SERVE_WORKERS": "1", "PYTHONUNBUFFERED": "1", **self.env},
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"consent serve exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # waiting for a process to listen, not for chain time
        raise RuntimeError("consent serve did not answer /health")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def admin(self) -> Identity:
        return fast_admin(self.data_dir)


@pytest.fixture
def served_embedded(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path / "data", "--block-period", "0").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_story_over_http_on_the_embedded_chain(served_embedded: Served) -> None:
    with httpx.Client(base_url=served_embedded.url, timeout=60) as http:
        run_story(populate(World(node=None, http=http, admin=served_embedded.admin())))


@pytest.mark.slow
def test_story_over_http_on_anvil(tmp_path: Path, anvil_node_url: str) -> None:
    server = Served(tmp_path / "data", "--chain-url", anvil_node_url).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            run_story(populate(World(node=None, http=http, admin=server.admin())))
    finally:
        server.stop()


@pytest.mark.slow
def test_sigkill_during_a_burst_loses_no_answered_grant(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data, "--block-period", "1").start()
    http = httpx.Client(base_url=server.url, timeout=60)
    world = populate(World(node=None, http=http, admin=server.admin()))
    resident, dept = world.resident, world.dept
    bodies = []
    # Distinct random nonces: the burst is in flight at once.
    for _ in range(24):
        body = world.grant_body(resident, dept, ["income"])
        body = world.body(
            resident,
            "Grant",
            {**body["message"], "nonce": secrets.randbits(64)},
            wrapped_keys=body["wrapped_keys"],
        )
        bodies.append(body)
    headers = world.headers(resident)
    answered: list[int] = []
    lock = threading.Lock()

    def send(body: dict[str, object]) -> None:
        try:
            answer = httpx.post(server.url + "/consents", json=body, headers=headers, timeout=60)
        except httpx.TransportError:
            return  # killed before answering: may be lost, never half-applied
        if answer.status_code == 201:
            with lock:
                answered.append(int(answer.json()["consent_id"]))

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies[:8]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answered) == 8  # the first wave completes
    threads = [threading.Thread(target=send, args=(b,)) for b in bodies[8:]]
    for t in threads:
        t.start()
    while True:  # kill as soon as the second wave starts being answered
        with lock:
            if len(answered) > 8:
                break
        time.sleep(0.01)
    server.kill()
    for t in threads:
        t.join()
    http.close()

    restarted = Served(data, "--block-period", "1").start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=60) as again:
            world.http = again
            for consent_id in answered:
                consent = again.get(f"/consents/{consent_id}", headers=headers)
                assert consent.status_code == 200, consent.text
                served = world.query(dept, resident, consent_id, ["income"])
                assert served.status_code == 200, served.text  # its wrapped key survived
            report = world.get("/audit/verify", world.auditor).json()
            assert report["ok"], report["problems"]
    finally:
        restarted.stop()
    with sqlite3.connect(data / "consent.sqlite3") as db:
        states = dict(db.execute("select state, count(*) from journal group by state").fetchall())
    assert "submitted" not in states and "queued" not in states, states


# ------------------------------------------------------------------ limits over real sockets


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _challenges(data: Path) -> int:
    with sqlite3.connect(data / "consent.sqlite3") as db:
        return int(db.execute("select count(*) from auth_challenges").fetchone()[0])


def _wait_closed(sockets: list[socket.socket], within: float) -> float:
    """Seconds until the server has closed every socket (each read gives EOF or a reset)."""
    started = time.monotonic()
    open_ = set(sockets)
    while open_ and time.monotonic() - started < within:
        readable, _, _ = select.select(list(open_), [], [], 0.2)
        for s in readable:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                open_.discard(s)
    assert not open_, f"{len(open_)} of {len(sockets)} connections still open after {within} s"
    return time.monotonic() - started


def _response_head(s: socket.socket) -> bytes:
    head = b""
    s.settimeout(10)
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            break
        head += chunk
    return head


@pytest.mark.slow
def test_slow_heads_slow_bodies_big_bodies_and_sign_in_floods_are_cut_off(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = Served(
        data,
        "--block-period",
        "0",
        env={"CONSENT_HEADER_TIMEOUT": "1", "CONSENT_BODY_TIMEOUT": "2"},
    ).start()
    assert server.process is not None
    pid = server.process.pid
    address = ("127.0.0.1", server.port)
    try:
        stored = _challenges(data)

        # 300 connections that never finish their request head (slowloris): each trickles
        # a header line; all are closed about header_timeout after they opened.
        heads = [socket.create_connection(address) for _ in range(300)]
        for s in heads:
            s.sendall(b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\n")
        for s in heads[:50]:
            s.sendall(b"X-Slow: 1\r\n")  # more bytes of the head do not extend its time
        closed_in = _wait_closed(heads, within=6)
        assert closed_in < 4, closed_in

        # Connections whose body never completes are closed after body_timeout.
        bodies = [socket.create_connection(address) for _ in range(20)]
        for s in bodies:
            s.sendall(
                b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
        assert _wait_closed(bodies, within=8) < 5
        assert _challenges(data) == stored

        # A 50 MB body announced by Content-Length: 413 at once, the connection closed,
        # nothing read into memory.
        rss_before = _rss_kib(pid)
        with socket.create_connection(address) as s:
            s.sendall(
                b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 52428800\r\n\r\n" + b"0" * 65536
            )
            head = _response_head(s)
        assert head.startswith(b"HTTP/1.1 413 "), head
        assert b"content-type: application/problem+json" in head.lower()
        # The same 50 MB sent chunked, without a length: refused once past the bound.
        sent = 0
        with socket.create_connection(address) as s:
            s.sendall(
                b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (65536, b"0" * 65536)
            try:
                while sent < 50 << 20:
                    s.sendall(chunk)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                head = _response_head(s)
            except (ConnectionResetError, TimeoutError):
                head = b"HTTP/1.1 413 (reset before read)"
        assert sent < 50 << 20, "the server read the whole 50 MB"
        assert head.startswith(b"HTTP/1.1 413"), head
        grown = _rss_kib(pid) - rss_before
        assert grown < 20_000, f"RSS grew {grown} KiB"
        assert _challenges(data) == stored

        # 800 challenges as fast as 16 clients can send them, from one IP: the sign-in
        # limit (600/minute by default) refuses the rest with 429 and Retry-After.
        statuses: list[int] = []
        retry_after: set[str] = set()

        def ask(_: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for _ in range(50):
                    answer = http.post(
                        "/auth/challenge", json={"address": "0x" + secrets.token_hex(20)}
                    )
                    statuses.append(answer.status_code)
                    if answer.status_code == 429:
                        retry_after.add(answer.headers["retry-after"])

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(ask, range(16)))
        rate = len(statuses) / (time.monotonic() - started)
        assert set(statuses) <= {200, 429}, set(statuses)
        assert statuses.count(200) <= 600 < len(statuses)
        assert statuses.count(429) >= 200, (statuses.count(429), rate)
        assert all(int(v) >= 1 for v in retry_after)
        assert _challenges(data) == stored + statuses.count(200)

        # Still healthy, and a normal request still answers.
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
        assert httpx.get(server.url + "/schema", timeout=10).status_code == 200
    finally:
        server.stop()
