"""Shared helpers of the ``scripts/bench_*.py`` benchmarks (run by hand, never as tests).

- machine and provenance: :func:`machine_info` (cpu model, cores, memory, python, load,
  git commit, date, the exact command);
- results: :func:`write_results` merges one section into ``bench/results.json``
  (other sections, and other chains of the same section, are kept);
- statistics: :func:`percentile`, :func:`latency_summary`;
- processes: :class:`Server` (``consent serve`` as a subprocess on a free port, with
  restart-to-ready timing), :func:`proc_status` / :class:`ResourceSampler` (RSS and CPU
  of a pid from ``/proc``);
- load: :func:`fire` (C concurrent HTTP clients on one asyncio loop, per-request
  latency from send to answer), :func:`sign_in_many`;
- the ledger's setup through HTTP (:class:`Ledger`: admin, departments, roles) and
  signed bodies made in worker processes (:func:`presign`, :func:`make_residents`,
  :func:`sign_intents`), so signing never runs inside a measured loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import math
import multiprocessing
import os
import platform
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
CONSENT = Path(sys.executable).parent / "consent"

#: The record every benchmark resident commits, and the fields a grant covers.
RECORD_VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "138"}
GRANT_FIELDS = ("address", "income", "name")
QUERY_FIELDS = ("income", "name")
PURPOSE = "HOUSING"
DAY = 86_400


# ---------------------------------------------------------------------- provenance


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mib() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def command_line() -> str:
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def machine_info() -> dict[str, Any]:
    """Where and when a figure was measured, and by which command."""
    load = os.getloadavg()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mib": _mem_total_mib(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "host": platform.node(),
        "load_avg_1m_at_start": round(load[0], 2),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command_line(),
    }


def write_results(section: str, figures: Mapping[str, Any], *, sub: str | None = None) -> Path:
    """Merge ``figures`` into ``bench/results.json`` under ``section`` (or
    ``section.sub``, keeping the section's other subsections), under a file lock."""
    RESULTS.parent.mkdir(exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        if sub is None:
            results[section] = dict(figures)
        else:
            current = results.get(section)
            if not isinstance(current, dict) or "measured_at" in current:
                current = {}  # an older flat section: replace it
            current[sub] = dict(figures)
            results[section] = current
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, RESULTS)
    with contextlib.suppress(OSError):
        RESULTS.with_suffix(".lock").unlink()
    return RESULTS


# ---------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, p50, p90, p99 and max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p90_ms": round(percentile(ms, 90), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
    }


# ---------------------------------------------------------------------- /proc


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict[str, float]:
    """``rss_mib``, ``hwm_mib`` (peak RSS), ``threads`` and ``cpu_s`` (user+system) of a
    pid, from ``/proc/<pid>/status`` and ``/proc/<pid>/stat``; empty if it is gone."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                out["rss_mib"] = int(value.split()[0]) / 1024
            elif key == "VmHWM":
                out["hwm_mib"] = int(value.split()[0]) / 1024
            elif key == "Threads":
                out["threads"] = int(value)
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, ValueError, IndexError):
        return {}
    return out


class ResourceSampler:
    """Samples a pid's RSS every ``interval`` seconds in a thread; CPU share over the span.

    ``with ResourceSampler(pid) as s: ...`` then ``s.summary()``.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start: dict[str, float] = {}
        self._end: dict[str, float] = {}
        self._t0 = self._t1 = 0.0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = proc_status(self.pid).get("rss_mib")
            if rss is not None:
                self.samples.append(rss)

    def __enter__(self) -> ResourceSampler:
        self._start = proc_status(self.pid)
        self._t0 = time.perf_counter()
        if "rss_mib" in self._start:
            self.samples.append(self._start["rss_mib"])
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._t1 = time.perf_counter()
        self._end = proc_status(self.pid)
        if "rss_mib" in self._end:
            self.samples.append(self._end["rss_mib"])

    def summary(self) -> dict[str, float | None]:
        span = self._t1 - self._t0
        cpu = None
        if "cpu_s" in self._start and "cpu_s" in self._end and span > 0:
            cpu = round(100 * (self._end["cpu_s"] - self._start["cpu_s"]) / span, 1)
        return {
            "rss_start_mib": _round(self._start.get("rss_mib")),
            "rss_end_mib": _round(self._end.get("rss_mib")),
            "rss_peak_mib": _round(max(self.samples)) if self.samples else None,
            "cpu_percent_of_one_core": cpu,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def work_dir(prefix: str) -> Path:
    """A fresh temporary directory for one benchmark run (kept; its path is printed)."""
    return Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))


#: One client IP signing in thousands of actors and keeping hundreds of writes in flight
#: (one registrar enrols every resident) is the benchmark, not an abuse: the service's
#: default rate limits would refuse it, so the benchmarked server gets these (the
#: environment still overrides them).
BENCH_LIMITS = {
    "CONSENT_RATE_LIMIT_IP": "100000/second",
    "CONSENT_RATE_LIMIT_ADDRESS": "100000/second",
    "CONSENT_RATE_LIMIT_SIGN_IN_IP": "100000/second",
    "CONSENT_RATE_LIMIT_SIGN_IN_ADDRESS": "100000/second",
}


class Server:
    """``consent serve`` on ``data_dir`` in a subprocess, on a free port.

    :meth:`start` returns once ``/health`` answers with ``indexer_lag == 0`` and records
    ``ready_seconds`` (process start → that answer): the restart-to-ready time.
    """

    def __init__(self, data_dir: Path, *extra: str, log_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.extra = extra
        self.log_dir = Path(log_dir or self.data_dir.parent)
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = math.nan

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 1800) -> Server:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = open(self.log_dir / f"serve-{self.port}.log", "ab")  # noqa: SIM115
        started = time.perf_counter()
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
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**BENCH_LIMITS, **os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"consent serve exited with {self.process.returncode}; see {self.log_dir}"
                )
            try:
                answer = httpx.get(self.url + "/health", timeout=2)
                if answer.status_code == 200 and answer.json().get("indexer_lag") == 0:
                    self.ready_seconds = time.perf_counter() - started
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # waiting for a process to listen
        raise RuntimeError(f"consent serve did not become ready within {timeout} s")

    def stop(self, timeout: float = 120) -> None:
        """SIGTERM (the relayer drains its queue), then SIGKILL after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/health", timeout=30).json()
        return answer

    def admin_key(self) -> bytes:
        """The admin's signing key, from the keystore ``consent serve`` created."""
        from wallets.identity import Identity

        password = (self.data_dir / "admin.password").read_text().strip()
        return bytes(Identity.load(self.data_dir / "admin", password).account.key)

    def relayer_key(self) -> bytes:
        text = (self.data_dir / "relayer.key").read_text().strip()
        return bytes.fromhex(text.removeprefix("0x"))


def start_anvil() -> Any:
    """An anvil node on a free port (``ledger.chain.anvil.AnvilNode``), started."""
    from ledger.chain.anvil import AnvilNode

    # The embedded chain's block gas limit (ledger.chain.embedded.GAS_LIMIT), so a block
    # carries as many intents on both chains; anvil's default is mainnet's 30M.
    return AnvilNode(extra_args=["--gas-limit", "100000000"]).start()


def anvil_pid(node: Any) -> int | None:
    process = getattr(node, "_process", None)
    return None if process is None else int(process.pid)


def open_ledger(data_dir: Path, chain_url: str | None, block_period: float) -> Any:
    """A ``LedgerClient`` on the server's chain and deployment, submitting with the
    server's relayer key (only while that server is stopped: they would share nonces)."""
    from ledger.chain import TransactionSigner, open_chain
    from ledger.client import LedgerClient
    from ledger.deployment import read_deployment

    chain = open_chain(data_dir=data_dir, url=chain_url, block_period=block_period)
    deployment = read_deployment(data_dir / "deployment.json")
    assert deployment is not None
    key = (data_dir / "relayer.key").read_text().strip().removeprefix("0x")
    return LedgerClient(chain, deployment, TransactionSigner(bytes.fromhex(key)))


def count_events(client: Any, names: Iterable[str], start: int, end: int) -> dict[str, int]:
    """How many events of each name the ledger contract logged in blocks ``start..end``."""
    from ledger.artifacts import load_artifact

    wanted = set(names)
    topics = {
        topic: abi["name"]
        for topic, abi in load_artifact("ConsentLedger").events_by_topic().items()
        if abi["name"] in wanted
    }
    counts = dict.fromkeys(sorted(wanted), 0)
    w3 = client.chain.w3
    for first in range(start, end + 1, 1000):
        logs = w3.eth.get_logs(
            {
                "fromBlock": first,
                "toBlock": min(end, first + 999),
                "address": client.ledger.address,
                "topics": [["0x" + bytes(t).hex() for t in topics]],
            }
        )
        for entry in logs:
            counts[topics[bytes(entry["topics"][0])]] += 1
    return counts


# ---------------------------------------------------------------------- HTTP load


@dataclass(frozen=True)
class Job:
    method: str
    path: str
    body: bytes | None = None
    token: str | None = None
    tag: Any = None


@dataclass
class Answer:
    job: Job
    status: int
    sent: float
    done: float
    body: bytes = b""
    error: str | None = None
    #: Sent again after a transport error (setup only): a 409 then means the first
    #: attempt went through after all.
    retried: bool = False

    @property
    def latency(self) -> float:
        return self.done - self.sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


async def _fire(
    url: str,
    lanes: Sequence[Iterable[Job]],
    *,
    connections: int,
    keep_body: bool,
    timeout: float,
    retries: int = 0,
) -> list[Answer]:
    # aiohttp, not httpx: httpx's connection pool costs grow with the number of open
    # connections, and at a few hundred the client, not the server, was the bottleneck
    # (100% CPU in the client while the server idled).
    import aiohttp

    answers: list[Answer] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        base_url=url, connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as client:

        async def lane(jobs: Iterable[Job]) -> None:
            for job in jobs:
                headers = {"Content-Type": "application/json"}
                if job.token:
                    headers["Authorization"] = f"Bearer {job.token}"
                for attempt in range(retries + 1):
                    sent = time.perf_counter()
                    try:
                        async with client.request(
                            job.method, job.path, data=job.body, headers=headers
                        ) as response:
                            status = response.status
                            body = await response.read()
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        transport = isinstance(exc, aiohttp.ClientConnectionError)
                        if attempt < retries and transport:
                            continue
                        answers.append(
                            Answer(job, -1, sent, time.perf_counter(), error=type(exc).__name__)
                        )
                        break
                    keep = keep_body or status >= 300
                    answers.append(
                        Answer(
                            job,
                            status,
                            sent,
                            time.perf_counter(),
                            body if keep else b"",
                            retried=attempt > 0,
                        )
                    )
                    break

        await asyncio.gather(*(lane(jobs) for jobs in lanes))
    return answers


def fire(
    url: str,
    jobs: Sequence[Job],
    concurrency: int,
    *,
    keep_body: bool = False,
    timeout: float = 300,
    retries: int = 0,
) -> list[Answer]:
    """Send ``jobs`` with ``concurrency`` clients, each taking the next job as soon as its
    previous one is answered; one :class:`Answer` per job (latency = send → answer).
    ``retries``: resend after a transport error (for setup; measured runs use 0)."""
    shared = iter(jobs)  # one asyncio thread: the lanes take turns on one iterator
    return asyncio.run(
        _fire(
            url,
            [shared] * max(1, min(concurrency, len(jobs))),
            connections=concurrency,
            keep_body=keep_body,
            timeout=timeout,
            retries=retries,
        )
    )


def setup_fire(
    url: str, jobs: Sequence[Job], concurrency: int, what: str, *, keep_body: bool = False
) -> list[Answer]:
    """:func:`fire` for setup: transport errors are retried, a retried job answering 409
    counts as done (its first attempt went through), anything else non-2xx raises."""
    answers = fire(url, jobs, concurrency, keep_body=keep_body, retries=3)
    require_ok([a for a in answers if not (a.retried and a.status == 409)], what)
    return answers


def fire_lanes(
    url: str, lanes: Sequence[Sequence[Job]], *, keep_body: bool = False, timeout: float = 300
) -> list[Answer]:
    """One client per lane, each sending its own jobs one after another."""
    return asyncio.run(
        _fire(url, lanes, connections=len(lanes), keep_body=keep_body, timeout=timeout)
    )


def throughput(answers: Sequence[Answer]) -> tuple[float, float]:
    """``(per second, span seconds)`` from the first send to the last answer."""
    if not answers:
        return 0.0, 0.0
    span = max(a.done for a in answers) - min(a.sent for a in answers)
    return (len(answers) / span if span > 0 else math.inf), span


def require_ok(answers: Sequence[Answer], what: str, *, allowed: Iterable[int] = ()) -> None:
    """Raise with the first problem if any answer is neither 2xx nor in ``allowed``."""
    allowed = set(allowed)
    bad = [a for a in answers if not a.ok and a.status not in allowed]
    if bad:
        first = bad[0]
        raise RuntimeError(
            f"{what}: {len(bad)} of {len(answers)} failed; first: {first.status} "
            f"{first.error or first.body[:400]!r}"
        )


def status_counts(answers: Iterable[Answer]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in answers:
        key = str(a.status) if a.status >= 0 else f"error:{a.error}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


async def _sign_in(url: str, keys: Sequence[bytes], concurrency: int) -> dict[str, str]:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    tokens: dict[str, str] = {}
    shared = iter(keys)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def lane() -> None:
            for key in shared:
                for attempt in range(4):  # a transport error spends nothing: ask again
                    try:
                        await one(key)
                        break
                    except httpx.TransportError:
                        if attempt == 3:
                            raise

        async def one(key: bytes) -> None:
            account = Account.from_key(key)
            challenge = await client.post("/auth/challenge", json={"address": account.address})
            challenge.raise_for_status()
            message = challenge.json()["message"]
            signature = account.sign_message(encode_defunct(text=message)).signature
            answer = await client.post(
                "/auth/token",
                json={
                    "address": account.address,
                    "message": message,
                    "signature": "0x" + bytes(signature).hex(),
                },
            )
            if answer.status_code != 200:
                raise RuntimeError(f"sign-in of {account.address}: {answer.text}")
            tokens[account.address] = answer.json()["access_token"]

        await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, len(keys))))))
    return tokens


def sign_in_many(url: str, keys: Sequence[bytes], concurrency: int = 32) -> dict[str, str]:
    """Bearer tokens (address → token) for many keys, signed in concurrently."""
    return asyncio.run(_sign_in(url, keys, concurrency))


# ---------------------------------------------------------------------- the ledger via HTTP


@dataclass
class Department:
    key: bytes
    address: str
    encryption_key: str  # 0x-hex X25519 public key
    name: str


@dataclass
class Ledger:
    """A served ledger: the domain to sign for, and the admin's actors made through HTTP."""

    url: str
    chain_id: int
    contracts: dict[str, str]
    admin_key: bytes
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @classmethod
    def connect(cls, server: Server) -> Ledger:
        health = server.health()
        return cls(server.url, int(health["chain_id"]), health["contracts"], server.admin_key())

    def now(self) -> int:
        return int(httpx.get(self.url + "/health", timeout=30).json()["block_timestamp"])

    def verifying_contract(self, intent: str) -> str:
        from ledger.intents import INTENTS

        return self.contracts[INTENTS[intent].contract]

    def context(self, deadline_seconds: int = 3 * 3600) -> dict[str, Any]:
        """What a worker process needs to sign intents for this ledger."""
        now = self.now()
        return {
            "chain_id": self.chain_id,
            "contracts": self.contracts,
            "now": now,
            "deadline": now + deadline_seconds,
        }

    def token(self, key: bytes) -> str:
        from eth_account import Account

        address = Account.from_key(key).address
        if address not in self.tokens:
            self.tokens.update(sign_in_many(self.url, [key], 1))
        return self.tokens[address]

    def next_nonce(self, key: bytes, intent: str) -> int:
        from eth_account import Account

        from ledger.intents import INTENTS

        slot = (Account.from_key(key).address, INTENTS[intent].contract)
        self.nonces[slot] = self.nonces.get(slot, -1) + 1
        return self.nonces[slot]

    def body(self, key: bytes, intent: str, message: Mapping[str, Any]) -> dict[str, Any]:
        from wallets.signing import signed_intent_body

        full = {
            "nonce": self.next_nonce(key, intent),
            "deadline": self.now() + 3600,
            **message,
        }
        return signed_intent_body(
            key,
            intent,
            full,
            chain_id=self.chain_id,
            verifying_contract=self.verifying_contract(intent),
        )

    def post(self, path: str, key: bytes, body: Any) -> Any:
        answer = httpx.post(
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token(key)}"},
            timeout=300,
        )
        if not answer.is_success:
            raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def register_departments(self, count: int, *, prefix: str = "Dept") -> list[Department]:
        """``count`` departments (fresh keys), registered concurrently by the admin."""
        from wallets.identity import Identity

        made: list[tuple[Identity, dict[str, Any]]] = []
        for i in range(count):
            identity = Identity.create()
            message = {
                "department": identity.address,
                "name": f"{prefix} {i}",
                "code": f"{prefix[:2].upper()}{i}",
                "encryptionKey": identity.encryption_public_key,
            }
            made.append((identity, self.body(self.admin_key, "RegisterDepartment", message)))
        token = self.token(self.admin_key)
        jobs = [
            Job("POST", "/admin/departments", json.dumps(body).encode(), token) for _, body in made
        ]
        setup_fire(self.url, jobs, 16, "registering departments")
        return [
            Department(
                key=bytes(identity.account.key),
                address=identity.address,
                encryption_key="0x" + identity.encryption_public_key.hex(),
                name=f"{prefix} {i}",
            )
            for i, (identity, _) in enumerate(made)
        ]

    def grant_role(self, role: str, key: bytes | None = None) -> bytes:
        """Give a (fresh, unless ``key``) account a role; returns its key."""
        from eth_account import Account

        from ledger.intents import role_id

        key = key or bytes(Account.create().key)
        message = {"role": role_id(role), "account": Account.from_key(key).address, "fields": []}
        self.post("/admin/roles", self.admin_key, self.body(self.admin_key, "GrantRole", message))
        return key


# ---------------------------------------------------------------------- worker processes


def presign(
    worker: Callable[[dict[str, Any], list[Any]], list[Any]],
    context: dict[str, Any],
    items: Sequence[Any],
    *,
    processes: int | None = None,
    chunk: int = 200,
) -> tuple[list[Any], float]:
    """Run ``worker(context, chunk_of_items)`` over ``items`` in separate processes (spawned,
    so no thread of this one is forked); results in order, and the seconds it took."""
    processes = processes or max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    out: list[Any] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        for part in pool.map(worker, [context] * len(chunks), chunks):
            out.extend(part)
    return out, time.perf_counter() - started


def presign_stream(
    worker: Callable[[dict[str, Any], list[Any]], list[Any]],
    context: dict[str, Any],
    items: Sequence[Any],
    *,
    processes: int | None = None,
    chunk: int = 500,
) -> Iterable[list[Any]]:
    """Like :func:`presign`, but yields each chunk's results (in order) as soon as it is
    ready, so a caller can submit while the workers go on signing."""
    processes = processes or max(1, os.cpu_count() or 1)
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        yield from pool.map(worker, [context] * len(chunks), chunks)


def _signer(context: dict[str, Any]) -> Callable[[bytes, str, dict[str, Any]], dict[str, Any]]:
    from ledger.intents import INTENTS
    from wallets.signing import signed_intent_body

    def sign(key: bytes, intent: str, message: dict[str, Any]) -> dict[str, Any]:
        return signed_intent_body(
            key,
            intent,
            message,
            chain_id=context["chain_id"],
            verifying_contract=context["contracts"][INTENTS[intent].contract],
        )

    return sign


def make_residents(context: dict[str, Any], indexes: list[int]) -> list[dict[str, Any]]:
    """Worker: for each index a resident with fresh keys and a record, and its signed bodies:

    - ``enrol``: ``EnrollResident`` by the registrar (nonce ``enrol_nonce_base + index``);
    - ``commit``: ``PUT /residents/{a}/record`` body (``CommitRecord``, nonce 0);
    - ``grants``: one ``POST /consents`` body per department in
      ``departments_of(index)`` (nonces 1, 2, ...), keys wrapped for that department;
    - ``naive``: with ``context["naive"]``, one more ``Grant`` (next nonce) as
      ``{"message", "signature"}`` for a direct contract call.

    Bodies are JSON bytes, ready to send.
    """
    from ledger.intents import name_to_bytes32
    from wallets.grants import wrap_keys_for_department
    from wallets.identity import Identity
    from wallets.record import RecordVersion

    sign = _signer(context)
    registrar = bytes.fromhex(context["registrar_key"])
    departments = context["departments"]
    per_resident = int(context.get("grants_per_resident", 1))
    fields = sorted(context.get("grant_fields", GRANT_FIELDS))
    field_ids = ["0x" + name_to_bytes32(f).hex() for f in fields]
    purpose = "0x" + name_to_bytes32(context.get("purpose", PURPOSE)).hex()
    valid_from = int(context["now"]) - 60
    valid_until = valid_from + int(context.get("valid_days", 30)) * DAY
    out = []
    for index in indexes:
        identity = Identity.create()
        key = bytes(identity.account.key)
        address = identity.address
        record = RecordVersion.build(
            context.get("record", RECORD_VALUES),
            resident=address,
            version=1,
            owner_public_key=identity.encryption_public_key,
        )
        enrol = sign(
            registrar,
            "EnrollResident",
            {
                "resident": address,
                "idCommitment": secrets.token_bytes(32),
                "encryptionKey": identity.encryption_public_key,
                "nonce": int(context.get("enrol_nonce_base", 0)) + index,
                "deadline": context["deadline"],
            },
        )
        commit = sign(
            key,
            "CommitRecord",
            {
                "resident": address,
                "version": 1,
                "root": record.root,
                "nonce": 0,
                "deadline": context["deadline"],
            },
        )
        commit["fields"] = record.envelopes()
        grants = []
        granted_to = []
        nonce = 1
        for k in range(per_resident):
            dept = departments[(index * per_resident + k) % len(departments)]
            message = {
                "resident": address,
                "department": dept["address"],
                "fields": field_ids,
                "purpose": purpose,
                "validFrom": valid_from,
                "validUntil": valid_until,
                "maxUses": 0,
                "requestId": "0x" + "00" * 32,
                "nonce": nonce,
                "deadline": context["deadline"],
            }
            nonce += 1
            body = sign(key, "Grant", message)
            body["wrapped_keys"] = wrap_keys_for_department(
                record,
                fields,
                department=dept["address"],
                department_public_key=bytes.fromhex(dept["encryption_key"][2:]),
            )
            grants.append(json.dumps(body).encode())
            granted_to.append(dept["address"])
        naive = None
        if context.get("naive"):
            dept = departments[index % len(departments)]
            message = {
                "resident": address,
                "department": dept["address"],
                "fields": field_ids,
                "purpose": purpose,
                "validFrom": valid_from,
                "validUntil": valid_until,
                "maxUses": 0,
                "requestId": "0x" + "00" * 32,
                "nonce": nonce,
                "deadline": context["deadline"],
            }
            naive = sign(key, "Grant", message)
        out.append(
            {
                "index": index,
                "key": key,
                "address": address,
                "enrol": json.dumps(enrol).encode(),
                "commit": json.dumps(commit).encode(),
                "grants": grants,
                "granted_to": granted_to,
                "naive": naive,
            }
        )
    return out


def sign_intents(
    context: dict[str, Any], items: list[tuple[bytes, str, dict[str, Any]]]
) -> list[Any]:
    """Worker: ``(key, intent, message)`` → ``{"message", "signature"}`` (JSON forms)."""
    sign = _signer(context)
    return [sign(key, intent, message) for key, intent, message in items]


def sign_bodies(
    context: dict[str, Any], items: list[tuple[bytes, str, dict[str, Any]]]
) -> list[bytes]:
    """Worker: like :func:`sign_intents` but each result as JSON bytes (a request body)."""
    sign = _signer(context)
    return [json.dumps(sign(key, intent, message)).encode() for key, intent, message in items]


# ---------------------------------------------------------------------- populate


@dataclass
class Population:
    residents: list[dict[str, Any]]
    tokens: dict[str, str]
    presign_seconds: float
    setup_seconds: float
    consents: list[dict[str, Any]] = field(default_factory=list)


def populate(
    ledger: Ledger,
    departments: Sequence[Department],
    count: int,
    *,
    registrar_key: bytes,
    grants_per_resident: int = 0,
    naive: bool = False,
    concurrency: int = 64,
    enrol_nonce_base: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[Population, list[dict[str, Any]]]:
    """Make ``count`` residents in worker processes, then enrol them, sign them in and
    commit their records through HTTP (concurrently). Returns the population and the
    residents' pre-signed bundles (with ``grants`` bodies not yet sent)."""
    context = ledger.context()
    context.update(
        registrar_key=registrar_key.hex(),
        departments=[
            {"address": d.address, "encryption_key": d.encryption_key} for d in departments
        ],
        grants_per_resident=grants_per_resident,
        naive=naive,
        enrol_nonce_base=enrol_nonce_base,
    )
    bundles, presign_seconds = presign(make_residents, context, list(range(count)))
    say(f"  pre-signed {count} residents' bodies in {presign_seconds:.1f} s (worker processes)")
    started = time.perf_counter()
    registrar_token = ledger.token(registrar_key)
    setup_fire(
        ledger.url,
        [Job("POST", "/residents", b["enrol"], registrar_token) for b in bundles],
        concurrency,
        "enrolling residents",
    )
    say(f"  enrolled {count} residents ({time.perf_counter() - started:.1f} s)")
    tokens = sign_in_many(ledger.url, [b["key"] for b in bundles], concurrency=min(concurrency, 32))
    say(f"  signed in {count} residents ({time.perf_counter() - started:.1f} s)")
    setup_fire(
        ledger.url,
        [
            Job("PUT", f"/residents/{b['address']}/record", b["commit"], tokens[b["address"]])
            for b in bundles
        ],
        concurrency,
        "committing records",
    )
    setup_seconds = time.perf_counter() - started
    say(f"  committed {count} records ({setup_seconds:.1f} s)")
    return Population(bundles, tokens, presign_seconds, setup_seconds), bundles


def grant_jobs(bundles: Sequence[dict[str, Any]], tokens: Mapping[str, str]) -> list[Job]:
    return [
        Job("POST", "/consents", body, tokens[b["address"]], tag=(b["address"], dept))
        for b in bundles
        for body, dept in zip(b["grants"], b["granted_to"], strict=True)
    ]


def consents_of(granted: Iterable[Answer]) -> list[dict[str, Any]]:
    """``{"id", "resident", "department"}`` of each answered ``POST /consents`` job."""
    return [
        {"id": int(a.json()["consent_id"]), "resident": a.job.tag[0], "department": a.job.tag[1]}
        for a in granted
        if a.ok
    ]


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------- profiling


class Profiler:
    """``py-spy record`` of a pid (all threads, idle frames excluded) into collapsed
    stacks; :meth:`top` names the functions with the largest shares of the samples.
    A no-op (``available`` False) when py-spy is not installed."""

    def __init__(
        self, pid: int, path: Path, rate: int = 100, *, gil: bool = True, idle: bool = False
    ) -> None:
        self.pid = pid
        #: Also sample threads that are waiting (on I/O, a lock, a socket).
        self.idle = idle
        self.path = Path(path)
        self.rate = rate
        #: Only samples of the thread holding the GIL: where the CPU goes (else every
        #: non-idle thread, including those waiting on a lock).
        self.gil = gil
        self.process: subprocess.Popen[bytes] | None = None
        binary = Path(sys.executable).parent / "py-spy"
        self.binary = str(binary) if binary.exists() else None

    @property
    def available(self) -> bool:
        return self.binary is not None

    def __enter__(self) -> Profiler:
        if self.binary is not None:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "record",
                    "--pid",
                    str(self.pid),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--threads",
                    "--nonblocking",
                    *(["--gil"] if self.gil else []),
                    *(["--idle"] if self.idle else []),
                    "--output",
                    str(self.path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=self.path.with_suffix(".log").open("wb"),
            )
            time.sleep(1.0)  # let it attach before the measured work starts
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def top(self, limit: int = 15) -> dict[str, Any]:
        """``{"samples", "inclusive": [(function, share)], "self": [...], "threads": ...}``.

        Inclusive: share of samples whose stack contains the function (counted once per
        stack); self: share where it is the innermost frame."""
        if not self.path.exists():
            return {}
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        threads: dict[str, int] = {}
        total = 0
        for line in self.path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            thread, frames = frames[0], frames[1:]
            # "thread (1234): AnyIO worker thread" -> "AnyIO worker thread"
            thread = thread.split("): ", 1)[1] if "): " in thread else thread
            threads[thread] = threads.get(thread, 0) + count
            total += count
            for name in {_short(f) for f in frames}:
                inclusive[name] = inclusive.get(name, 0) + count
            if frames:
                leaf = _short(frames[-1])
                own[leaf] = own.get(leaf, 0) + count

        def ranked(table: dict[str, int]) -> list[tuple[str, float]]:
            best = sorted(table.items(), key=lambda kv: -kv[1])[:limit]
            return [(name, round(count / total, 3)) for name, count in best]

        return {
            "mode": "gil (CPU)"
            if self.gil
            else ("all threads, waiting ones too" if self.idle else "all active threads"),
            "samples": total,
            "inclusive": ranked(inclusive),
            "self": ranked(own),
            "threads": ranked(threads),
        }

    def breakdown(self, categories: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, float]]:
        """Share of samples per category: each stack goes to the first category one of
        whose substrings occurs in it (outermost frames first), else to "other"."""
        if not self.path.exists():
            return []
        counts: dict[str, int] = {}
        total = 0
        for line in self.path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            joined = ";".join(_short(f) for f in stack.split(";")[1:])
            label = next(
                (name for name, keys in categories if any(k in joined for k in keys)), "other"
            )
            counts[label] = counts.get(label, 0) + count
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        return [(name, round(count / total, 3)) for name, count in ranked] if total else []


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (module.py)``; site-packages paths trimmed."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


# ---------------------------------------------------------------------- direct submission


def to_intent(name: str, signed: Any, terms: Any = None) -> Any:
    """A worker's result as a ``ledger.client.SignedIntent``: ``{"message", "signature"}``
    in JSON form (normalised here), or ``(message, signature)`` from
    :func:`fast_sign_intents` (canonical already)."""
    from ledger.client import SignedIntent
    from wallets.signing import normalize_message

    if isinstance(signed, tuple):
        return SignedIntent(name, signed[0], signed[1], terms)
    return SignedIntent(
        name,
        normalize_message(name, signed["message"]),
        bytes.fromhex(str(signed["signature"])[2:]),
        terms,
    )


def submit_intents(
    client: Any, intents: Sequence[Any], *, slice_size: int = 2000
) -> dict[str, Any]:
    """``LedgerClient.submit`` in slices (each cut into blocks by gas); counts outcomes."""
    ok = rejected = 0
    first_error: str | None = None
    started = time.perf_counter()
    for i in range(0, len(intents), slice_size):
        for outcome in client.submit(list(intents[i : i + slice_size])):
            if outcome.ok:
                ok += 1
            else:
                rejected += 1
                first_error = first_error or repr(outcome.error)
    return {
        "ok": ok,
        "rejected": rejected,
        "first_error": first_error,
        "seconds": time.perf_counter() - started,
    }


def consent_terms(client: Any, ids: Iterable[int]) -> dict[int, Any]:
    """The terms of the given consents, from their ``ConsentGranted`` events on chain."""
    from ledger.client import ConsentTerms

    wanted = set(ids)
    found: dict[int, Any] = {}
    w3 = client.chain.w3
    head = int(w3.eth.block_number)
    start = int(client.deployment.block_number)
    for first in range(start, head + 1, 1000):
        for entry in w3.eth.get_logs(
            {
                "fromBlock": first,
                "toBlock": min(head, first + 999),
                "address": client.ledger.address,
            }
        ):
            event = client.decode_log(entry)
            if event is not None and event.name == "ConsentGranted":
                consent_id = int(event.args["consentId"])
                if consent_id in wanted:
                    found[consent_id] = ConsentTerms.from_event(event.args)
    return found


def file_mib(path: Path) -> float | None:
    """Size of a file plus its SQLite WAL, if any, in MiB."""
    total = 0
    for candidate in (path, Path(str(path) + "-wal")):
        with contextlib.suppress(OSError):
            total += candidate.stat().st_size
    return round(total / 2**20, 1) if total else None


#: Bulk loading: intents per batch transaction and the gas limit to give each one
#: (measured use: ~48.5k per batched grant with 3 fields, ~27.3k per access with 2).
_BULK = {
    "Grant": ("grantBatch", ("ConsentGranted",), 350, 80_000),
    "Access": ("accessBatch", ("AccessLogged", "AccessDenied"), 500, 55_000),
    "EnrollResident": ("enrollResidentBatch", ("ResidentEnrolled",), 250, 110_000),
}


def bulk_submit(client: Any, name: str, intents: Sequence[Any]) -> dict[str, Any]:
    """Load many intents fast, for setup only: the batch calldata is ABI-encoded with
    ``eth_abi`` directly (web3's contract encoder spends ~3 ms per intent normalising),
    one batch transaction per call, and the receipt is checked by counting the primary
    events' topics instead of decoding every log. Raises on any rejected intent."""
    from eth_abi import encode
    from eth_utils import function_abi_to_4byte_selector
    from eth_utils.abi import collapse_if_tuple

    from ledger.artifacts import load_artifact
    from ledger.intents import INTENTS

    function, events, per_tx, gas_each = _BULK[name]
    names = INTENTS[name].field_names
    terms_abi: dict[int, Any] = {}
    artifact = load_artifact("ConsentLedger")
    abi: Any = next(x for x in artifact.abi if x.get("name") == function)
    types = [collapse_if_tuple(i) for i in abi["inputs"]]
    selector = function_abi_to_4byte_selector(abi)
    topics = {t for t, e in artifact.events_by_topic().items() if e["name"] in events}
    started = time.perf_counter()
    done = 0
    for i in range(0, len(intents), per_tx):
        batch = intents[i : i + per_tx]
        # Messages are in canonical form already (fast_sign_intents): no re-normalising.
        args: list[Any] = [
            [tuple(x.message[n] for n in names) for x in batch],
            [x.signature for x in batch],
        ]
        if name == "Access":
            args.append(
                [
                    terms_abi.get(id(x.terms))
                    or terms_abi.setdefault(id(x.terms), x.terms.as_abi())
                    for x in batch
                ]
            )
        data = selector + encode(types, args)
        tx = {"to": client.ledger.address, "data": data, "gas": 100_000 + gas_each * len(batch)}
        raw = client.relayer.sign(client.chain, tx)
        (receipt,) = client.chain.send_raw_transactions([raw])
        logged = sum(1 for log in receipt["logs"] if bytes(log["topics"][0]) in topics)
        if receipt["status"] != 1 or logged != len(batch):
            problems = [client.decode_log(log) for log in receipt["logs"]]
            rejected = [p for p in problems if p is not None and p.name == "IntentRejected"]
            detail = rejected[0].args if rejected else f"status {receipt['status']}"
            raise RuntimeError(f"bulk {name}: {len(batch) - logged} not recorded: {detail}")
        done += len(batch)
    return {"ok": done, "seconds": time.perf_counter() - started}


def _fast_digest_fn(context: dict[str, Any]) -> Callable[[str, Mapping[str, Any]], bytes]:
    """EIP-712 digests of flat intents with ``eth_abi`` + keccak (no typed-data walker)."""
    from eth_abi import encode
    from eth_utils import keccak

    from ledger.intents import DOMAIN_NAME, DOMAIN_VERSION, INTENTS, type_hash

    domain_type = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    separators = {
        contract: keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    domain_type,
                    keccak(text=DOMAIN_NAME),
                    keccak(text=DOMAIN_VERSION),
                    int(context["chain_id"]),
                    address,
                ],
            )
        )
        for contract, address in context["contracts"].items()
    }

    def digest(name: str, message: Mapping[str, Any]) -> bytes:
        spec = INTENTS[name]
        types = ["bytes32"]
        values: list[Any] = [type_hash(name)]
        for field_name, solidity in spec.fields:
            value = message[field_name]
            if solidity == "bytes32[]":
                types.append("bytes32")
                values.append(keccak(b"".join(bytes(v) for v in value)))
            elif solidity == "bytes":
                types.append("bytes32")
                values.append(keccak(bytes(value)))
            elif solidity == "string":
                types.append("bytes32")
                values.append(keccak(text=value))
            else:
                types.append(solidity)
                values.append(value)
        struct = keccak(encode(types, values))
        return keccak(b"\x19\x01" + separators[spec.contract] + struct)

    return digest


def fast_sign_intents(
    context: dict[str, Any], items: list[tuple[bytes, str, dict[str, Any]]]
) -> list[tuple[dict[str, Any], bytes]]:
    """Worker for bulk loads: ``(key, intent, message)`` → ``(message, signature)``, the
    message already in canonical Python form (``bytes``, ``int``, checksummed
    addresses; it is not normalised again). The same signatures as the wallet's (RFC 6979
    is deterministic) but ~20x faster: digest by ``eth_abi`` + keccak, signature by
    libsecp256k1 (``coincurve``). The first item of each chunk is also signed by the
    wallet's ``sign_intent`` and must match, so the shortcut cannot drift."""
    from coincurve import PrivateKey

    from ledger.intents import INTENTS
    from wallets.signing import sign_intent

    digest = _fast_digest_fn(context)
    out: list[tuple[dict[str, Any], bytes]] = []
    keys: dict[bytes, Any] = {}
    for n, (key, name, message) in enumerate(items):
        signer = keys.get(key) or keys.setdefault(key, PrivateKey(key))
        raw = signer.sign_recoverable(digest(name, message), hasher=None)
        signature = raw[:64] + bytes([raw[64] + 27])
        if n == 0:
            wallet = sign_intent(
                key,
                name,
                message,
                chain_id=context["chain_id"],
                verifying_contract=context["contracts"][INTENTS[name].contract],
            )
            if wallet != signature:
                raise AssertionError(f"fast {name} signature differs from the wallet's")
        out.append((message, signature))
    return out
