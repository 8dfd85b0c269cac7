"""The processes a benchmark measures: ``consent serve`` (:class:`Server`) and an anvil
node as subprocesses, and their memory and CPU read from ``/proc``
(:func:`proc_status`, :class:`ResourceSampler`)."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from api.client import ConsentApi
from api.client_errors import ApiProblem, ApiUnreachable
from api.node import ADMIN_DIR, ADMIN_PASSWORD_FILE
from benchlib.results import say
from ledger.chain.anvil import AnvilNode
from wallets.identity import Identity

CONSENT = Path(sys.executable).parent / "consent"

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


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (``consent serve --workers`` runs a chain
    process and HTTP workers under its supervisor), from the parent links in ``/proc``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_status(pid: int) -> dict[str, float]:
    """``cpu_s`` and ``rss_mib`` summed over ``pid``'s process tree (the RSS sum counts
    shared library pages once per process: an upper bound), and ``processes``; empty
    if ``pid`` is gone."""
    out: dict[str, float] = {}
    for member in descendants(pid):
        status = proc_status(member)
        if not status:
            continue
        out["cpu_s"] = out.get("cpu_s", 0.0) + status["cpu_s"]
        out["rss_mib"] = out.get("rss_mib", 0.0) + status["rss_mib"]
        out["processes"] = out.get("processes", 0) + 1
    return out


class ResourceSampler:
    """Samples a process tree's memory every ``interval`` seconds in a thread; its CPU
    share over the span (:func:`tree_status`: a lone process is a tree of one).

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
            rss = tree_status(self.pid).get("rss_mib")
            if rss is not None:
                self.samples.append(rss)

    def __enter__(self) -> ResourceSampler:
        self._start = tree_status(self.pid)
        self._t0 = time.perf_counter()
        if "rss_mib" in self._start:
            self.samples.append(self._start["rss_mib"])
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._t1 = time.perf_counter()
        self._end = tree_status(self.pid)
        if "rss_mib" in self._end:
            self.samples.append(self._end["rss_mib"])

    def cpu_ms_per(self, count: int) -> float | None:
        """The tree's CPU milliseconds per unit of work (a grant, a query) over the span."""
        if not count or "cpu_s" not in self._start or "cpu_s" not in self._end:
            return None
        return round(1000 * (self._end["cpu_s"] - self._start["cpu_s"]) / count, 2)

    def summary(self) -> dict[str, float | None]:
        span = self._t1 - self._t0
        cpu = cpu_s = None
        if "cpu_s" in self._start and "cpu_s" in self._end and span > 0:
            cpu_s = self._end["cpu_s"] - self._start["cpu_s"]
            cpu = round(100 * cpu_s / span, 1)
        return {
            "processes": self._end.get("processes"),
            "rss_start_mib": _round(self._start.get("rss_mib")),
            "rss_end_mib": _round(self._end.get("rss_mib")),
            "rss_peak_mib": _round(max(self.samples)) if self.samples else None,
            "cpu_percent_of_one_core": cpu,
            "cpu_s": None if cpu_s is None else round(cpu_s, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


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
    """``consent serve`` on ``data_dir`` in a subprocess, on a free port (a new one at
    each :meth:`start`).

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
        self._api: ConsentApi | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def api(self) -> ConsentApi:
        """The project's client, anonymous, for this server's public reads."""
        if self._api is None or self._api.base_url != self.url:
            if self._api is not None:
                self._api.close()
            self._api = ConsentApi(self.url)
        return self._api

    def start(self, timeout: float = 1800) -> Server:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        api = self.api
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
                if api.health().get("indexer_lag") == 0:
                    self.ready_seconds = time.perf_counter() - started
                    return self
            except (ApiUnreachable, ApiProblem):  # not listening yet, or still catching up
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
        return self.api.health()

    def admin_identity(self) -> Identity:
        """The admin's identity, from the keystore ``consent serve`` created."""
        password = (self.data_dir / ADMIN_PASSWORD_FILE).read_text().strip()
        return Identity.load(self.data_dir / ADMIN_DIR, password)


def start_served(
    kind: str, chain: str, block_period: float, workers: int = 1
) -> tuple[Path, AnvilNode | None, Server]:
    """A fresh work directory, an anvil node when ``chain`` is ``"anvil"``, and ``consent
    serve --workers`` on that node (else on the embedded chain at ``block_period``),
    ready."""
    workdir = work_dir(f"{kind}-{chain}")
    anvil = start_anvil() if chain == "anvil" else None
    extra = (
        ["--chain-url", anvil.url] if anvil is not None else ["--block-period", str(block_period)]
    )
    extra += ["--workers", str(workers)]
    server = Server(workdir / "data", *extra).start()
    say(f"  consent serve {' '.join(extra)} ready in {server.ready_seconds:.1f} s ({workdir})")
    return workdir, anvil, server


def start_anvil() -> AnvilNode:
    """An anvil node on a free port, started."""
    # The embedded chain's block gas limit (ledger.chain.embedded.GAS_LIMIT), so a block
    # carries as many intents on both chains; anvil's default is mainnet's 30M.
    return AnvilNode(extra_args=["--gas-limit", "100000000"]).start()
