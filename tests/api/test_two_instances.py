"""Two `consent serve` instances on one anvil and one PostgreSQL database, each with its
own data directory and relayer account, the second using the first one's deployment
(its ``deployment.json`` copied, as README "Deployment" says): both take writes at the
same time, each serves what the other recorded, and both keep one consistent read model
that ``/audit/verify`` finds in order."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from sqlalchemy import create_engine, select

from ledger.deployment import DEPLOYMENT_FILE
from ledger.store import journal
from ledger.vocabulary import role_id
from tests.api.conftest import World, populate
from tests.api.test_served import Served
from tests.postgres import pg_schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@dataclass
class Pair:
    a: World
    b: World
    database_url: str
    relayers: tuple[str, str]


def same_cast(world: World, http: httpx.Client) -> World:
    """``world``'s actors and records, talking to another instance (own sign-ins)."""
    return World(
        node=None, http=http, admin=world.admin, actors=world.actors, records=world.records
    )


@pytest.fixture
def pair(tmp_path: Path, anvil_node_url: str) -> Iterator[Pair]:
    with pg_schema() as database_url:
        shared = ("--chain-url", anvil_node_url, "--database-url", database_url)
        first = Served(tmp_path / "a", *shared).start()
        second: Served | None = None
        try:
            a = populate(
                World(
                    node=None,
                    http=httpx.Client(base_url=first.url, timeout=60),
                    admin=first.admin(),
                )
            )
            # The second instance: a relayer key of its own, made a relayer by the admin,
            # and the first instance's deployment.
            key = secrets.token_bytes(32)
            relayer = Account.from_key(key).address
            answer = a.post(
                "/admin/roles",
                a.admin,
                a.body(
                    a.admin,
                    "GrantRole",
                    {"role": role_id("relayer"), "account": relayer, "fields": []},
                ),
            )
            assert answer.status_code == 201, answer.text
            (tmp_path / "b").mkdir()
            (tmp_path / "b" / "relayer.key").write_text("0x" + key.hex() + "\n")
            shutil.copy(tmp_path / "a" / DEPLOYMENT_FILE, tmp_path / "b" / DEPLOYMENT_FILE)
            second = Served(tmp_path / "b", *shared, "--admin", a.admin.address).start()
            b = same_cast(a, httpx.Client(base_url=second.url, timeout=60))
            health_a, health_b = a.http.get("/health").json(), b.http.get("/health").json()
            assert health_a["contracts"] == health_b["contracts"]
            assert (health_a["relayer"], health_b["relayer"]) != (relayer, relayer)
            assert health_b["relayer"] == relayer
            yield Pair(a, b, database_url, (health_a["relayer"], relayer))
        finally:
            if second is not None:
                second.stop()
            first.stop()


def audit_view(world: World) -> list[tuple[object, ...]]:
    events = world.get("/audit/events", world.auditor, limit=1000).json()["data"]
    return [tuple(sorted((k, str(v)) for k, v in event.items())) for event in events]


def test_two_instances_share_one_database_and_serve_each_others_writes(pair: Pair) -> None:
    a, b = pair.a, pair.b
    # Residents enrolled and their records put through B, beside A's two.
    for name in ("resident3", "resident4"):
        b.enroll(name)
        answer = b.upload(getattr(b, name), {"name": "Ada", "income": "41000", "phone": "139"})
        assert answer.status_code == 200, answer.text

    def grants(world: World, resident: str, dept: str) -> list[int]:
        return [
            world.grant(getattr(world, resident), getattr(world, dept), ["name"]) for _ in range(3)
        ]

    # Writes through both at once: two residents' grants through A, two through B.
    with ThreadPoolExecutor(4) as pool:
        jobs = {
            "resident": pool.submit(grants, a, "resident", "dept"),
            "resident2": pool.submit(grants, a, "resident2", "dept2"),
            "resident3": pool.submit(grants, b, "resident3", "dept"),
            "resident4": pool.submit(grants, b, "resident4", "dept2"),
        }
        granted = {name: job.result() for name, job in jobs.items()}
    every = sorted(cid for ids in granted.values() for cid in ids)
    assert len(set(every)) == 12

    # A grant through A is queried through B, and one through B through A.
    through_b = b.query(b.dept, b.resident, granted["resident"][0], ["name"])
    assert through_b.status_code == 200, through_b.text
    through_a = a.query(a.dept2, a.resident4, granted["resident4"][0], ["name"])
    assert through_a.status_code == 200, through_a.text
    assert sorted(through_a.json()["fields"]) == ["name"]

    # Each instance lists every consent to a department, whichever instance relayed it.
    by_dept = {
        "dept": set(granted["resident"] + granted["resident3"]),
        "dept2": set(granted["resident2"] + granted["resident4"]),
    }
    for world in (a, b):
        for dept, expected in by_dept.items():
            answer = world.get("/consents", getattr(world, dept), limit=100)
            assert answer.status_code == 200, answer.text
            assert {c["consent_id"] for c in answer.json()["data"]} == expected

    # B's notification stream carries what A relayed (B's process indexed none of it).
    with b.http.stream(
        "GET", "/notifications/stream", headers=b.headers(b.dept2), timeout=10
    ) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        consent_id = a.grant(a.resident2, a.dept2, ["name"])
        answered = time.monotonic()
        seen = ""
        while f'"consent_id":{consent_id}' not in seen:
            seen = next(lines)
        assert time.monotonic() - answered < 3  # B's follower polls every second

    # Every journal entry names the relayer that took it on; both relayers took some.
    engine = create_engine(pair.database_url)
    try:
        with engine.connect() as c:
            owners = c.execute(select(journal.c.relayer, journal.c.state)).all()
    finally:
        engine.dispose()
    assert {relayer for relayer, _ in owners} == set(pair.relayers)
    assert {state for _, state in owners} == {"done"}

    # One read model: the same audit log through both; and both verify it.
    assert audit_view(a) == audit_view(b)
    for world in (a, b):
        report = world.get("/audit/verify", world.auditor).json()
        assert report["ok"], report["problems"]
