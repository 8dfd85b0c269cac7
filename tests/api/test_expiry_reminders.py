"""A consent expiring in 7 days and in 1 day is told to both its resident and its
department, in chain time: after time travel and not before, never for a consent revoked
or used up, never for a time before the grant; each reminder has an id that sorts in
chain order and stays the same across restarts, and reaches webhooks like any event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from api.node import open_node
from api.settings import Settings
from tests.api.conftest import World, make_world, populate
from tests.api.test_notifications import SECRETS, Stream
from tests.api.test_served import Served, free_port
from tests.api.test_webhooks import Receiver, until
from tests.postgres import pg_schema

DAY = 86_400


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        yield from make_world(tmp_path)
        return
    with pg_schema() as url:
        yield from make_world(tmp_path, database_url=url)


def feed(world: World, who: Any) -> list[dict[str, Any]]:
    answer = world.get("/notifications", who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def reminders(world: World, who: Any) -> list[tuple[int, str]]:
    return [
        (n["consent_id"], n["expires_in"])
        for n in feed(world, who)
        if n["kind"] == "consent_expiring"
    ]


def valid_until(world: World, resident: Any, consent: int) -> int:
    answer = world.get(f"/consents/{consent}", resident)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["valid_until"])


def travel_to(world: World, when: int) -> int:
    """Mine a block stamped at ``when`` (or a moment later) and index it, as the
    follower would; the block's number."""
    assert world.node is not None
    world.node.chain.time_travel(max(0, when - world.now()))
    return world.node.indexer.catch_up()


def position(notification: dict[str, Any]) -> tuple[int, int, int]:
    block, _, rest = notification["id"].partition("-")
    rank = {"r": 1, "a": 2}.get(rest[0], 0)
    return int(block), rank, int(rest.lstrip("ra"))


def test_both_sides_are_reminded_7_days_and_1_day_before_expiry_and_not_before(
    any_world: World,
) -> None:
    w = any_world
    kept = w.grant(w.resident, w.dept, ["income", "name"], days=10)
    short = w.grant(w.resident2, w.dept2, ["name"], days=3)  # shorter than 7 days
    revoked = w.grant(w.resident2, w.dept, ["name"], days=10)
    assert w.revoke(w.resident2, revoked).status_code == 200
    spent = w.grant(w.resident, w.dept2, ["name"], days=10, max_uses=1)
    assert w.query(w.dept2, w.resident, spent, ["name"]).status_code == 200
    ends = valid_until(w, w.resident, kept)
    ends_short = valid_until(w, w.resident2, short)
    everyone = (w.resident, w.resident2, w.dept, w.dept2)
    assert all(reminders(w, who) == [] for who in everyone)

    travel_to(w, ends_short - DAY - 120)
    assert all(reminders(w, who) == [] for who in everyone)
    block = travel_to(w, ends_short - DAY)
    assert reminders(w, w.resident2) == reminders(w, w.dept2) == [(short, "1d")]
    assert reminders(w, w.resident) == reminders(w, w.dept) == []
    (told,) = [n for n in feed(w, w.resident2) if n["kind"] == "consent_expiring"]
    assert told == {
        "id": f"{block}-r0",
        "kind": "consent_expiring",
        "created_at": told["created_at"],
        "block_number": block,
        "tx_hash": None,
        "resident": w.resident2.address,
        "department": w.dept2.address,
        "consent_id": short,
        "request_id": None,
        "fields": ["name"],
        "purpose": "HOUSING",
        "reason": None,
        "delegate": None,
        "powers": None,
        "signed_by": None,
        "access_id": None,
        "review_due": None,
        "outcome": None,
        "valid_until": ends_short,
        "expires_in": "1d",
        "rule": None,
        "threshold": None,
        "window_start": None,
        "window_end": None,
        "event_ids": None,
    }
    assert ends_short - DAY <= told["created_at"] < ends_short - DAY + 60
    assert [n for n in feed(w, w.dept2) if n["kind"] == "consent_expiring"] == [told]

    travel_to(w, ends - 7 * DAY - 120)
    assert reminders(w, w.resident) == reminders(w, w.dept) == []
    travel_to(w, ends - 7 * DAY)
    assert reminders(w, w.resident) == reminders(w, w.dept) == [(kept, "7d")]
    travel_to(w, ends - DAY - 120)
    assert reminders(w, w.dept) == [(kept, "7d")]
    travel_to(w, ends - DAY)
    for who in (w.resident, w.dept):
        assert reminders(w, who) == [(kept, "7d"), (kept, "1d")]
    assert reminders(w, w.resident2) == reminders(w, w.dept2) == [(short, "1d")]

    theirs = feed(w, w.dept)  # in chain order with the events, after its block's events
    assert [(n["kind"], n["consent_id"]) for n in theirs] == [
        ("consent_granted", kept),
        ("consent_granted", revoked),
        ("consent_revoked", revoked),
        ("consent_expiring", kept),
        ("consent_expiring", kept),
    ]
    assert [position(n) for n in theirs] == sorted(position(n) for n in theirs)
    assert theirs[3]["fields"] == ["income", "name"] and theirs[3]["valid_until"] == ends
    assert not any(secret in json.dumps(theirs) for secret in SECRETS)


def test_a_jump_past_both_times_tells_only_the_1_day_one_and_past_expiry_nothing(
    world: World,
) -> None:
    w = world
    consent = w.grant(w.resident, w.dept, ["name"], days=10)
    ends = valid_until(w, w.resident, consent)
    travel_to(w, ends - DAY // 2)  # past the 7-day and the 1-day time at once
    assert reminders(w, w.resident) == reminders(w, w.dept) == [(consent, "1d")]

    late = w.grant(w.resident2, w.dept2, ["name"], days=2)
    travel_to(w, valid_until(w, w.resident2, late) + 60)  # past its expiry at once
    assert reminders(w, w.resident2) == reminders(w, w.dept2) == []
    assert reminders(w, w.dept) == [(consent, "1d")]
    pages, cursor = [], None
    while True:
        params = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        body = w.get("/notifications", w.dept, **params).json()
        pages += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == feed(w, w.dept)  # reminders page like events, by their position


def test_a_department_webhook_is_sent_its_reminder_keyed_by_its_id(
    any_world: World, receiver: Receiver
) -> None:
    w = any_world
    receiver.start()
    hook = w.post("/webhooks", w.dept, {"url": receiver.url, "events": ["consent_expiring"]})
    assert hook.status_code == 201, hook.text
    consent = w.grant(w.resident, w.dept, ["name"], days=8)
    travel_to(w, valid_until(w, w.resident, consent) - 7 * DAY)
    until(lambda: receiver.received)
    (told,) = [n for n in feed(w, w.dept) if n["kind"] == "consent_expiring"]
    ((headers, body),) = receiver.received
    assert Webhook(hook.json()["secret"]).verify(body, headers) == told
    assert headers["webhook-id"] == told["id"]
    (done,) = until(
        lambda: [h for h in w.get("/webhooks", w.dept).json()["data"] if h["delivered"]]
    )
    assert done["last_delivery"]["notification_id"] == told["id"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    try:
        yield r
    finally:
        r.stop()


def _travel_offline(data: Path, when: int) -> None:
    """Move the stopped server's embedded chain to ``when`` (one block), in this process."""
    node = open_node(Settings(data_dir=data, block_period=0))
    try:
        head = int(node.chain.w3.eth.get_block("latest")["timestamp"])
        node.chain.time_travel(max(0, when - head))
    finally:
        node.close()


def _token(world: World, who: Any) -> str:
    return str(world.headers(who)["Authorization"].split()[1])


@pytest.mark.slow
def test_a_reminder_keeps_its_id_across_restarts_and_a_stream_resumes_past_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    server = Served(data, "--block-period", "0").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            world = populate(World(node=None, http=http, admin=server.admin()))
            consent = world.grant(world.resident, world.dept, ["name"], days=8)
            ends = valid_until(world, world.resident, consent)
            before = feed(world, world.dept)
        assert [n["kind"] for n in before] == ["consent_granted"]
        server.stop()
        _travel_offline(data, ends - 7 * DAY)

        server.start()  # a new process: it indexes the block and places the reminder
        with httpx.Client(base_url=server.url, timeout=60) as http:
            again = World(None, http, server.admin(), actors=world.actors, records=world.records)
            first = feed(again, again.dept)
            (reminder,) = first[1:]
            assert first == [*before, reminder] and reminder["kind"] == "consent_expiring"
            assert feed(again, again.resident) == [reminder]
            stream = Stream(server.url, _token(again, again.dept), last_event_id=before[-1]["id"])
            (got,) = stream.take(1)
            stream.close()
            assert (got["id"], got["event"], got["data"]) == (
                reminder["id"],
                "consent_expiring",
                reminder,
            )
        server.stop()

        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            third = World(None, http, server.admin(), actors=world.actors, records=world.records)
            assert feed(third, third.dept) == first  # the same ids, the same notifications
            stream = Stream(server.url, _token(third, third.resident), last_event_id=reminder["id"])
            assert third.query(third.dept, third.resident, consent, ["name"]).status_code == 200
            (after,) = stream.take(1)
            stream.close()
            assert after["event"] == "access_logged"
            assert feed(third, third.resident) == [reminder, after["data"]]
            assert stream.events.empty()
    finally:
        server.stop()
