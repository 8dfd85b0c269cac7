"""`consent serve` as a real process over real HTTP: the story on the embedded chain and on
anvil, and a SIGKILL in the middle of a burst of grants that loses no answered intent."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, populate
from tests.api.test_story import run_story
from wallets.identity import Identity

CONSENT = Path(sys.executable).parent / "consent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A `consent serve` subprocess on a data directory."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
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
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
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
        password = (self.data_dir / "admin.password").read_text().strip()
        return Identity.load(self.data_dir / "admin", password)


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
