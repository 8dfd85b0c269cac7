"""Webhooks: a department's consent events reach its receiver signed per Standard
Webhooks, in chain order, after the receiver comes back from an outage; each attempt
is visible in ``GET /webhooks``; only departments and auditors subscribe, only to their
own feed, and a removed webhook is sent nothing more."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from api.webhooks import RetryPolicy, WebhookDeliverer
from ledger.store import Store
from tests.api.conftest import World, make_world
from tests.api.test_served import free_port
from tests.postgres import pg_schema

FAST_RETRIES = {"webhook_backoff_base": 0.05, "webhook_backoff_max": 0.4}


class Receiver:
    """A real HTTP receiver on a local port, started and stopped by the test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fast_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        yield from make_world(tmp_path, **FAST_RETRIES)
        return
    with pg_schema() as url:
        yield from make_world(tmp_path, database_url=url, **FAST_RETRIES)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    try:
        yield r
    finally:
        r.stop()


def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    """Wait for the node's delivery thread (wall-clock work, not chain time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the webhook deliverer")


def hooks(world: World, who: Any) -> list[dict[str, Any]]:
    answer = world.get("/webhooks", who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_receiver_back_from_an_outage_gets_every_event_signed_in_chain_order(
    fast_world: World, receiver: Receiver
) -> None:
    w = fast_world
    created = w.post("/webhooks", w.dept, {"url": receiver.url, "events": []})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    first = w.grant(w.resident, w.dept, ["name"])
    second = w.grant(w.resident2, w.dept, ["income"])
    assert w.revoke(w.resident, first).status_code == 200
    w.grant(w.resident, w.dept2, ["name"])  # another department's: not sent

    # The receiver is down: the first notification is retried, nothing moves past it.
    (retrying,) = until(
        lambda: [h for h in hooks(w, w.dept) if (h["last_delivery"] or {}).get("attempts", 0) >= 3]
    )
    assert retrying["last_delivery"]["status"] == "retrying"
    assert retrying["last_delivery"]["last_status_code"] is None
    assert "ConnectError" in retrying["last_delivery"]["last_error"]
    assert retrying["delivered"] == 0

    receiver.start()
    until(lambda: len(receiver.received) >= 3)
    feed = w.get("/notifications", w.dept).json()["data"]
    assert [n["kind"] for n in feed] == ["consent_granted", "consent_granted", "consent_revoked"]
    verified = [Webhook(secret).verify(body, headers) for headers, body in receiver.received]
    assert verified == feed  # every one, exactly the notification, in chain order
    assert [h["webhook-id"] for h, _ in receiver.received] == [n["id"] for n in feed]
    assert [n["consent_id"] for n in verified] == [first, second, first]
    (done,) = until(lambda: [h for h in hooks(w, w.dept) if h["delivered"] == 3])
    assert done["last_delivery"]["status"] == "delivered"
    assert done["last_delivery"]["last_status_code"] == 204
    assert done["failed"] == 0 and "secret" not in done
    forged = dict(receiver.received[0][0])
    forged["webhook-signature"] = "v1," + "A" * 44
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(receiver.received[0][1], forged)


def test_a_webhook_sends_only_its_kinds_and_nothing_once_removed(
    fast_world: World, receiver: Receiver
) -> None:
    w = fast_world
    receiver.start()
    hook = w.post("/webhooks", w.dept, {"url": receiver.url, "events": ["consent_revoked"]})
    assert hook.status_code == 201, hook.text
    consent = w.grant(w.resident, w.dept, ["name"])
    assert w.revoke(w.resident, consent).status_code == 200
    until(lambda: receiver.received)
    (only,) = [Webhook(hook.json()["secret"]).verify(b, h) for h, b in receiver.received]
    assert (only["kind"], only["consent_id"]) == ("consent_revoked", consent)

    assert (
        w.http.delete(f"/webhooks/{hook.json()['id']}", headers=w.headers(w.dept2)).status_code
        == 404
    )
    gone = w.http.delete(f"/webhooks/{hook.json()['id']}", headers=w.headers(w.dept))
    assert gone.status_code == 204
    assert hooks(w, w.dept) == []
    later = w.grant(w.resident, w.dept, ["name"])
    assert w.revoke(w.resident, later).status_code == 200
    feed = w.get("/notifications", w.dept).json()["data"]
    assert feed[-1]["kind"] == "consent_revoked" and feed[-1]["consent_id"] == later
    assert len(receiver.received) == 1


def test_only_departments_and_auditors_subscribe_and_bad_subscriptions_change_nothing(
    world: World,
) -> None:
    ok = {"url": "http://127.0.0.1:9/hook", "events": []}
    assert world.post("/webhooks", world.resident, ok).status_code == 403
    assert world.post("/webhooks", None, ok).status_code == 401
    for bad in (
        {"url": "ftp://example.org/x", "events": []},
        {"url": "http://127.0.0.1:9/hook", "events": ["value_leaked"]},
        {"url": "http://" + "a" * 3000, "events": []},
    ):
        answer = world.post("/webhooks", world.dept, bad)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert hooks(world, world.dept) == []
    assert world.post("/webhooks", world.auditor, ok).status_code == 201
    assert [h["url"] for h in hooks(world, world.auditor)] == [ok["url"]]
    assert hooks(world, world.dept) == []
    assert (
        world.http.delete("/webhooks/nonsense", headers=world.headers(world.auditor)).status_code
        == 422
    )


def test_retries_back_off_doubling_to_a_cap_and_give_up_after_the_window() -> None:
    policy = RetryPolicy(base=1.0, cap=600.0, window=3600.0)
    assert [policy.delay(n) for n in range(1, 12)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600,
    ]  # fmt: skip
    assert not policy.gives_up(first_attempt_at=100.0, now=3699.0)
    assert policy.gives_up(first_attempt_at=100.0, now=3700.0)


def test_deliverers_of_several_processes_send_each_notification_once(
    fast_world: World, receiver: Receiver
) -> None:
    """Instances sharing a database each run a deliverer: the lease lets one send."""
    w = fast_world
    assert w.node is not None
    others = [Store(w.node.store.url) for _ in range(3)]
    deliverers = [WebhookDeliverer(store, RetryPolicy(0.05, 0.4, 600), 5.0) for store in others]
    receiver.start()
    for deliverer in deliverers:
        deliverer.start()
    try:
        created = w.post("/webhooks", w.dept, {"url": receiver.url, "events": []})
        assert created.status_code == 201, created.text
        granted = [w.grant(w.resident, w.dept, ["name"]) for _ in range(4)]
        granted += [w.grant(w.resident2, w.dept, ["income"]) for _ in range(4)]
        until(lambda: [h for h in hooks(w, w.dept) if h["delivered"] == len(granted)])
        time.sleep(1.0)  # four ticks of every deliverer: none sends anything again
    finally:
        for deliverer in deliverers:
            deliverer.stop()
        for store in others:
            store.close()
    sent = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(sent) == len(set(sent)) == len(granted)
