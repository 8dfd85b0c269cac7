"""What the fault tests share: dependencies a test can stop and start (a PostgreSQL
cluster of its own, an anvil that keeps its state across restarts), a load of signed
intents sent from threads, and the check that nothing acknowledged was lost."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import World
from tests.api.test_served import free_port
from wallets.identity import Identity

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"


def _postgres_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed")
    return Path(found).resolve().parent


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own on a free port, run as the ``postgres``
    user (the server refuses root), so the test may stop and start it. It lives in a
    directory of its own under the system's temporary directory: pytest's are private
    to root."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="consent-pg-"))
        self.data = self.directory / "pgdata"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def _as_postgres(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "server.log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate`` is a crash for the clients: connections drop at once."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PersistentAnvil:
    """An anvil that writes its chain to a state file when stopped and loads it when
    started again: a node that goes away and comes back with the same blocks."""

    def __init__(self, directory: Path) -> None:
        self.state = directory / "anvil-state.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(ANVIL),
                "--port",
                str(self.port),
                "--state",
                str(self.state),
                "--preserve-historical-states",  # verify reads roles at past blocks
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
                return
            except httpx.TransportError:
                time.sleep(0.05)  # waiting for a process to listen
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()  # anvil dumps its state on SIGTERM
        self.process.wait(30)


def signed(world: World, who: Identity, name: str, message: dict[str, Any], **extra: Any) -> Any:
    """A body with a random nonce: many of one signer's intents can be in flight."""
    body = world.body(who, name, message, **extra)
    return world.body(who, name, {**body["message"], "nonce": secrets.randbits(64)}, **extra)


@dataclass
class Answers:
    """Every answer a load got, by what it asked."""

    granted: list[int] = field(default_factory=list)
    revoked: list[int] = field(default_factory=list)
    #: Revocations sent, answered or not: one cut off by a kill may still have landed.
    revoke_sent: list[int] = field(default_factory=list)
    served: list[tuple[int, str]] = field(default_factory=list)  # consent, tx hash
    statuses: dict[int, int] = field(default_factory=dict)
    unanswered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


class Load:
    """Threads sending mixed pre-signed grants, accesses and revocations until stopped."""

    def __init__(self, url: str, world: World, *, threads: int = 6) -> None:
        self.url = url
        self.world = world
        self.answers = Answers()
        self.threads = threads
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._jobs: list[Callable[[httpx.Client], None]] = []
        self._jobs_lock = threading.Lock()

    def add_grants(self, n: int, resident: Identity, dept: Identity) -> None:
        for _ in range(n):
            body = self.world.grant_body(resident, dept, ["income"])
            body = signed(
                self.world, resident, "Grant", body["message"], wrapped_keys=body["wrapped_keys"]
            )
            self._jobs.append(self._post("/consents", resident, body, self._on_grant))

    def add_accesses(self, n: int, dept: Identity, resident: Identity, consent_id: int) -> None:
        message = {
            "department": dept.address,
            "resident": resident.address,
            "consentId": consent_id,
            "fields": self.world.query_body(dept, resident, consent_id, ["income"])["message"][
                "fields"
            ],
        }
        for _ in range(n):
            body = signed(self.world, dept, "Access", message)
            self._jobs.append(self._post("/queries", dept, body, self._on_access(consent_id)))

    def add_revoke(self, resident: Identity, consent_id: int) -> None:
        body = signed(
            self.world, resident, "Revoke", {"resident": resident.address, "consentId": consent_id}
        )
        self.answers.revoke_sent.append(consent_id)
        path = f"/consents/{consent_id}/revoke"
        self._jobs.append(self._post(path, resident, body, self._on_revoke(consent_id)))

    def _post(
        self,
        path: str,
        who: Identity,
        body: Any,
        done: Callable[[httpx.Response], None],
    ) -> Callable[[httpx.Client], None]:
        headers = self.world.headers(who)

        def send(http: httpx.Client) -> None:
            try:
                answer = http.post(path, json=body, headers=headers)
            except httpx.TransportError:
                with self.answers.lock:
                    self.answers.unanswered += 1
                return
            self.answers.count(answer.status_code)
            done(answer)

        return send

    def _on_grant(self, answer: httpx.Response) -> None:
        if answer.status_code == 201:
            with self.answers.lock:
                self.answers.granted.append(int(answer.json()["consent_id"]))

    def _on_access(self, consent_id: int) -> Callable[[httpx.Response], None]:
        def done(answer: httpx.Response) -> None:
            if answer.status_code == 200:
                with self.answers.lock:
                    self.answers.served.append((consent_id, answer.json()["receipt"]["tx_hash"]))

        return done

    def _on_revoke(self, consent_id: int) -> Callable[[httpx.Response], None]:
        def done(answer: httpx.Response) -> None:
            if answer.status_code == 200:
                with self.answers.lock:
                    self.answers.revoked.append(consent_id)

        return done

    def start(self) -> Load:
        secrets.SystemRandom().shuffle(self._jobs)
        for _ in range(self.threads):
            worker = threading.Thread(target=self._work, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def _work(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self._stop.is_set():
                with self._jobs_lock:
                    if not self._jobs:
                        return
                    job = self._jobs.pop()
                job(http)

    def stop(self) -> Answers:
        self._stop.set()
        for worker in self._workers:
            worker.join(120)
        return self.answers

    def wait(self) -> Answers:
        for worker in self._workers:
            worker.join(300)
        return self.answers


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Until ``/health`` answers 200: the service noticed its dependency came back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # waiting for the service's own retry, not for chain time
    raise AssertionError(f"{url} did not become healthy within {timeout} s")


def assert_nothing_acknowledged_lost(
    world: World, answers: Answers, *, serve: Iterable[int] | None = None
) -> None:
    """Every acknowledged grant exists, every acknowledged revocation holds, every served
    access is in the auditor's log, verify is ok; and the consents in ``serve`` (default:
    every live one) still serve their field (their wrapped keys survived), queried
    concurrently so that they share blocks."""
    resident, dept = world.resident, world.dept
    revoked = set(answers.revoked)
    for consent_id in answers.granted:
        consent = world.get(f"/consents/{consent_id}", resident)
        assert consent.status_code == 200, consent.text
        status = consent.json()["status"]
        if consent_id in revoked:
            assert status == "revoked", consent.json()
        elif consent_id not in answers.revoke_sent:
            assert status == "active", consent.json()
    for consent_id in revoked:
        assert world.get(f"/consents/{consent_id}", resident).json()["status"] == "revoked"
    logged = {
        (event["consent_id"], event["tx_hash"]) for event in _all_events(world, "AccessLogged")
    }
    missing = [entry for entry in answers.served if entry not in logged]
    assert not missing, missing
    maybe_revoked = revoked | set(answers.revoke_sent)
    targets = [c for c in (answers.granted if serve is None else serve) if c not in maybe_revoked]
    check = Load(str(world.http.base_url), world, threads=8)
    for consent_id in targets:
        check.add_accesses(1, dept, resident, consent_id)
    served = check.start().wait()
    assert sorted(c for c, _ in served.served) == sorted(targets), served.statuses
    verify = world.get("/audit/verify", world.auditor)
    assert verify.status_code == 200, verify.text
    assert verify.json()["ok"], verify.json()["problems"]


def _all_events(world: World, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"type": kind, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = world.get("/audit/events", world.auditor, **params).json()
        found.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return found
