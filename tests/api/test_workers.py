"""`consent serve --workers N` as a real process tree: HTTP in N workers, each its own
relayer, the embedded chain in a process of its own; a SIGKILL of any one process loses
no acknowledged intent, and a stop ends every process."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, populate
from tests.api.faults import Answers, Load, assert_nothing_acknowledged_lost, wait_healthy
from tests.api.test_faults import _settled
from tests.api.test_served import Served


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        commands[int(entry)] = command.decode(errors="replace")
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands[child]
                frontier.append(child)
    return found


def _chain_process(server: Served) -> int:
    (pid,) = [p for p, c in _descendants(_pid(server)).items() if "ledger.chain.child" in c]
    return pid


def _workers(server: Served) -> list[int]:
    return sorted(p for p, c in _descendants(_pid(server)).items() if "multiprocessing" in c)


def _pid(server: Served) -> int:
    assert server.process is not None
    return server.process.pid


def _wait_workers(server: Served, count: int, timeout: float = 90) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [p for p in _workers(server) if "spawn_main" in _descendants(_pid(server))[p]]
        if len(workers) == count:
            return workers
        time.sleep(0.2)  # waiting for processes to start, not for chain time
    raise AssertionError(f"not {count} workers: {_descendants(_pid(server))}")


def _relayers_answering(url: str, tries: int = 60) -> set[str]:
    """The relayer of whichever worker takes each new connection."""
    return {httpx.get(url + "/health", timeout=10).json()["relayer"] for _ in range(tries)}


@pytest.mark.slow
def test_each_process_killed_under_load_loses_no_acknowledged_intent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data, "--block-period", "1", "--workers", "2").start()
    http = httpx.Client(base_url=server.url, timeout=60)
    try:
        world = populate(World(node=None, http=http, admin=server.admin()))
        resident, dept = world.resident, world.dept
        _wait_workers(server, 2)
        assert len(_relayers_answering(server.url)) == 2  # each worker its own account
        live = [world.grant(resident, dept, ["income"]) for _ in range(3)]
        everything = Answers(granted=list(live))
        victims = ["chain", "worker"]
        for victim in victims:
            load = Load(server.url, world)
            load.add_grants(12, resident, dept)
            for consent_id in live[-2:]:
                load.add_accesses(6, dept, resident, consent_id)
            load.start()
            while True:  # kill once the round is being answered
                with load.answers.lock:
                    if len(load.answers.granted) >= 2:
                        break
                time.sleep(0.01)
            pid = _chain_process(server) if victim == "chain" else _workers(server)[0]
            os.kill(pid, signal.SIGKILL)
            answers = load.wait()
            assert 500 not in answers.statuses, answers.statuses
            wait_healthy(server.url)
            _wait_workers(server, 2)
            for name in ("granted", "served"):
                getattr(everything, name).extend(getattr(answers, name))
            everything.unanswered += answers.unanswered
            assert_nothing_acknowledged_lost(world, everything, serve=answers.granted)
            live += answers.granted
        assert len(_relayers_answering(server.url)) == 2
    finally:
        http.close()
        server.stop()
    assert server.process is not None and server.process.returncode is not None
    assert _descendants(_pid(server)) == {}  # a stop ends the chain and every worker
    with sqlite3.connect(data / "consent.sqlite3") as db:
        states = dict(db.execute("select state, count(*) from journal group by state").fetchall())
    assert _settled(states), states
