"""Faults under load, against `consent serve` as a real process: the database restarted,
the chain node stopped and started, and the service itself killed with SIGKILL again
and again. The service answers 503 (never 500) while a dependency is down, recovers
without a restart, and loses no acknowledged intent."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import World, populate
from tests.api.faults import (
    Answers,
    Load,
    PersistentAnvil,
    PrivatePostgres,
    assert_nothing_acknowledged_lost,
    wait_healthy,
)
from tests.api.test_served import Served

#: Kills of `consent serve` in a row, each under load and each restart picking up what the
#: kills before it left (a journal mid-flight, a half-answered round). Three rounds: the
#: first kill, a kill of a process that itself recovered from one, and one more on top.
SIGKILL_ROUNDS = 3

#: Statuses a write may get while a dependency is away; anything else is a bug.
_DURING_OUTAGE = {200, 201, 503}


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):  # already stopped by a failing test
            cluster.stop("fast")
        cluster.remove()


def _journal_states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(text("select state, count(*) from journal group by state")).all()
    finally:
        engine.dispose()
    return {str(state): int(n) for state, n in rows}


def _settled(states: dict[str, int]) -> bool:
    return "submitted" not in states and "queued" not in states


def _wait_settled(url: str, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        states = _journal_states(url)
        if _settled(states) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)  # the relayer settles on its own rounds


def _outage_statuses(answers: Answers) -> set[int]:
    return set(answers.statuses) - _DURING_OUTAGE


@pytest.mark.slow
def test_postgres_restarted_mid_load_answers_503_and_loses_nothing(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    server = Served(
        tmp_path / "data", "--block-period", "0", "--database-url", postgres.url
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            world = populate(World(node=None, http=http, admin=server.admin()))
            consent_id = world.grant(world.resident, world.dept, ["income"])
            load = Load(server.url, world)
            load.add_grants(60, world.resident, world.dept)
            load.add_accesses(60, world.dept, world.resident, consent_id)
            load.start()
            time.sleep(0.5)  # let the load get going before the database goes away
            postgres.stop("immediate")
            down = httpx.get(server.url + "/health", timeout=30)
            assert down.status_code == 503, down.text
            time.sleep(2)  # an outage of a couple of seconds under load
            postgres.start()
            answers = load.wait()
            wait_healthy(server.url)
            assert not _outage_statuses(answers), answers.statuses
            assert 503 in answers.statuses, answers.statuses  # the outage was met
            # and the same process takes writes again, without a restart
            after = Load(server.url, world)
            after.add_grants(10, world.resident, world.dept)
            again = after.start().wait()
            assert again.statuses == {201: 10}, again.statuses
            answers.granted += again.granted
            assert_nothing_acknowledged_lost(world, answers)
            assert _settled(_wait_settled(postgres.url))
    finally:
        server.stop()


@pytest.mark.slow
def test_chain_node_stopped_mid_load_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    anvil = PersistentAnvil(tmp_path)
    anvil.start()
    server = Served(tmp_path / "data", "--chain-url", anvil.url).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            world = populate(World(node=None, http=http, admin=server.admin()))
            consent_id = world.grant(world.resident, world.dept, ["income"])
            load = Load(server.url, world)
            load.add_grants(60, world.resident, world.dept)
            load.add_accesses(60, world.dept, world.resident, consent_id)
            load.start()
            time.sleep(0.5)
            anvil.stop()
            down = httpx.get(server.url + "/health", timeout=30)
            assert down.status_code == 503, down.text
            time.sleep(2)
            anvil.start()
            answers = load.wait()
            wait_healthy(server.url)
            assert not _outage_statuses(answers), answers.statuses
            assert 503 in answers.statuses, answers.statuses
            after = Load(server.url, world)
            after.add_grants(10, world.resident, world.dept)
            again = after.start().wait()
            assert again.statuses == {201: 10}, again.statuses
            answers.granted += again.granted
            assert_nothing_acknowledged_lost(world, answers)
    finally:
        server.stop()
        anvil.stop()
    with sqlite3.connect(tmp_path / "data" / "consent.sqlite3") as db:
        states = dict(db.execute("select state, count(*) from journal group by state").fetchall())
    assert _settled(states), states


@pytest.mark.slow
def test_repeated_sigkills_under_mixed_load_lose_no_acknowledged_intent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Served(data, "--block-period", "1").start()
    http = httpx.Client(base_url=server.url, timeout=60)
    world = populate(World(node=None, http=http, admin=server.admin()))
    resident, dept = world.resident, world.dept
    live = [world.grant(resident, dept, ["income"]) for _ in range(3)]
    everything = Answers(granted=list(live))
    kills = 0
    try:
        for _ in range(SIGKILL_ROUNDS):
            load = Load(server.url, world)
            load.add_grants(12, resident, dept)
            for consent_id in live[-2:]:
                load.add_accesses(6, dept, resident, consent_id)
            load.add_revoke(resident, live.pop(0))
            load.start()
            while True:  # kill once the round is being answered
                with load.answers.lock:
                    if len(load.answers.granted) >= 2:
                        break
                time.sleep(0.01)
            server.kill()
            kills += 1
            answers = load.stop()
            assert 500 not in answers.statuses, answers.statuses
            everything.granted += answers.granted
            everything.revoked += answers.revoked
            everything.revoke_sent += answers.revoke_sent
            everything.served += answers.served
            everything.unanswered += answers.unanswered
            server = Served(data, "--block-period", "1").start()
            world.http.close()
            world.http = httpx.Client(base_url=server.url, timeout=60)
            assert_nothing_acknowledged_lost(world, everything, serve=answers.granted)
            live += [c for c in answers.granted if c not in everything.revoke_sent]
            assert len(live) >= 2
    finally:
        world.http.close()
        server.stop()
    assert kills == SIGKILL_ROUNDS
    assert everything.unanswered > 0  # the kills fell on requests in flight
    print(
        f"{kills} kills: {len(everything.granted)} grants, {len(everything.revoked)} revocations,"
        f" {len(everything.served)} accesses acknowledged and kept;"
        f" {everything.unanswered} requests cut off by a kill"
    )
    with sqlite3.connect(data / "consent.sqlite3") as db:
        states = dict(db.execute("select state, count(*) from journal group by state").fetchall())
    assert _settled(states), states
