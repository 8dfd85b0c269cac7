"""Each actor's feed is its indexed chain events: a resident learns of requests and of
every access served or refused, a department of consents granted and revoked; nobody
sees another's, no notification holds a value or key, and the live stream (Server-Sent
Events over real HTTP) resumes from ``Last-Event-ID`` across a server restart without
losing or repeating one."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import World, populate
from tests.api.test_served import Served

SECRETS = ("Li Wei", "52000", "1 Lake Rd")


def feed(world: World, who: Any, **params: Any) -> list[dict[str, Any]]:
    answer = world.get("/notifications", who, **params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_resident_hears_of_every_access_and_a_department_of_its_consents(world: World) -> None:
    consent = world.grant(world.resident, world.dept, ["income", "name"])
    assert world.query(world.dept, world.resident, consent, ["name"]).status_code == 200
    denied = world.query(world.dept, world.resident, consent, ["address"])
    assert denied.status_code == 403, denied.text
    assert world.revoke(world.resident, consent).status_code == 200

    mine = feed(world, world.resident)
    assert [(n["kind"], n["consent_id"]) for n in mine] == [
        ("access_logged", consent),
        ("access_denied", consent),
    ]
    assert mine[0]["fields"] == ["name"] and mine[0]["purpose"] == "HOUSING"
    assert mine[1]["reason"] == "field_not_in_scope"
    assert all(n["department"] == world.dept.address for n in mine)

    theirs = feed(world, world.dept)
    assert [n["kind"] for n in theirs] == ["consent_granted", "consent_revoked"]
    assert theirs[0]["fields"] == ["income", "name"]

    assert feed(world, world.resident2) == [] and feed(world, world.dept2) == []
    text = json.dumps([mine, theirs])
    assert not any(secret in text for secret in SECRETS)
    ids = [n["id"] for n in mine + theirs]
    assert len(set(ids)) == 4 and all(n["created_at"] > 0 for n in mine + theirs)


def test_pages_of_the_feed_join_into_the_whole_feed_in_chain_order(world: World) -> None:
    consent = world.grant(world.resident, world.dept, ["name"])
    for _ in range(4):
        assert world.query(world.dept, world.resident, consent, ["name"]).status_code == 200
    whole = feed(world, world.resident)
    assert len(whole) == 4
    pages, cursor = [], None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        body = world.get("/notifications", world.resident, **params).json()
        pages += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == whole
    positions = [tuple(int(p) for p in n["id"].split("-")) for n in whole]
    assert positions == sorted(positions)


def test_the_feed_needs_a_token_and_a_stream_a_well_formed_last_event_id(world: World) -> None:
    assert world.get("/notifications", None).status_code == 401
    assert world.get("/notifications/stream", None).status_code == 401
    bad = world.http.get(
        "/notifications/stream",
        headers={**world.headers(world.resident), "Last-Event-ID": "yesterday"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


class Stream:
    """A real SSE client on its own thread: every event parsed, in arrival order."""

    def __init__(self, url: str, token: str, last_event_id: str | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(60, read=None))
        self._opened = threading.Event()
        self.status: int | None = None
        self._thread = threading.Thread(target=self._read, args=(headers,), daemon=True)
        self._thread.start()
        assert self._opened.wait(30), "the stream did not open"
        assert self.status == 200

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", "/notifications/stream", headers=headers) as answer:
                self.status = answer.status_code
                assert answer.headers["content-type"].startswith("text/event-stream")
                self._opened.set()
                message: dict[str, str] = {}
                for line in answer.iter_lines():
                    if line == "":
                        if "data" in message:
                            self.events.put(
                                {
                                    "id": message["id"],
                                    "event": message["event"],
                                    "data": json.loads(message["data"]),
                                }
                            )
                        message = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        message[name] = value
        except httpx.HTTPError:
            pass  # the server went away: the test's restart
        finally:
            self._opened.set()

    def take(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        return [self.events.get(timeout=timeout) for _ in range(count)]

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    served = Served(tmp_path / "data", "--block-period", "0").start()
    try:
        yield served
    finally:
        served.stop()


def _world(server: Served, http: httpx.Client) -> World:
    return World(node=None, http=http, admin=server.admin())


@pytest.mark.slow
def test_the_stream_delivers_each_notification_once_across_a_server_restart(
    server: Served,
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        world = populate(_world(server, http))
        token = world.headers(world.resident)["Authorization"].split()[1]
        before = feed(world, world.resident)
        stream = Stream(server.url, token)  # from now on
        consent = world.grant(world.resident, world.dept, ["name"])
        for _ in range(3):
            assert world.query(world.dept, world.resident, consent, ["name"]).status_code == 200
        live = stream.take(3)
        assert [e["event"] for e in live] == ["access_logged"] * 3
        assert [e["data"]["id"] for e in live] == [e["id"] for e in live]
        stream.close()
    server.stop()

    server.start()  # the same data directory in a new process
    with httpx.Client(base_url=server.url, timeout=60) as http:
        again = World(
            node=None, http=http, admin=server.admin(), actors=world.actors, records=world.records
        )
        assert again.query(again.dept, again.resident, consent, ["name"]).status_code == 200
        resumed = Stream(
            server.url,
            again.headers(again.resident)["Authorization"].split()[1],
            last_event_id=live[-1]["id"],
        )
        assert again.query(again.dept, again.resident, consent, ["name"]).status_code == 200
        missed = resumed.take(2)  # one from while it was away, one live
        resumed.close()
        whole = feed(again, again.resident)
    assert [n["id"] for n in whole] == [n["id"] for n in before] + [e["id"] for e in live + missed]
    assert [e["data"] for e in live + missed] == whole[len(before) :]
    assert resumed.events.empty()
