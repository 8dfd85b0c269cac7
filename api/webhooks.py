"""Webhooks: each subscriber's feed POSTed to its URL, signed per Standard Webhooks.

A subscription (``POST /webhooks``) starts at the chain position indexed when it was
made. :class:`WebhookDeliverer` (a thread of the node) sends each of its notifications
in chain order, one at a time: the body is the notification itself, ``webhook-id`` its
id (the receiver's idempotency key), ``webhook-timestamp`` the send time and
``webhook-signature`` ``v1,<HMAC-SHA256>`` by the ``standardwebhooks`` package. A non-2xx
answer or no answer is retried after :func:`retry_delay` (exponential backoff) until the
retry window ends; then the notification is marked ``failed`` and the next is sent.
Delivery is at least once: a crash between a receiver's 2xx and its record sends that
notification again. Every attempt is recorded in ``webhook_deliveries``, which
``GET /webhooks`` shows. Expiry reminders and anomalies reach webhooks like events, once
:class:`api.notifications.FeedSettler` has derived them.

Several processes sharing the database (instances, workers) each run a deliverer; a
webhook is sent by one of them at a time. A deliverer first claims the webhook's lease
(``lease_owner``, ``lease_until``) with one conditional ``UPDATE`` that only one process
wins, reads the cursor after the claim, and renews the lease in the transaction that
records each attempt, which writes nothing (the attempt counts as not made) if the lease
was lost meanwhile. A deliverer that stops frees its leases; one that dies holds them
until ``lease_until`` passes (:data:`_LEASE_SECONDS` past its last attempt and beyond
the send's timeout).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from standardwebhooks.webhooks import Webhook

from api.anomalies import holds_auditor_role
from api.notifications import feed_after, position_of
from api.schemas.notifications import NotificationOut
from api.tables import webhook_deliveries, webhooks
from ledger.store import Store

log = logging.getLogger("consent.webhooks")

#: Notifications one webhook may be sent in one round before the others get a turn.
_PER_ROUND = 50
_TICK_SECONDS = 0.25
#: How long a claim on a webhook lasts beyond one send's timeout, renewed at each attempt.
_LEASE_SECONDS = 30.0


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_id() -> str:
    return "wh_" + secrets.token_hex(12)


@dataclass(frozen=True)
class RetryPolicy:
    base: float
    cap: float
    window: float

    def delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: base, doubling each time, up to cap."""
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))

    def gives_up(self, first_attempt_at: float, now: float) -> bool:
        return now - first_attempt_at >= self.window


def signed_headers(secret: str, notification_id: str, body: str, now: float) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(int(now), tz=UTC)
    return {
        "content-type": "application/json",
        "webhook-id": notification_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": Webhook(secret).sign(notification_id, timestamp, body),
    }


class WebhookDeliverer:
    """The node's delivery loop: every tick, each due webhook is sent what follows its
    cursor, in order, stopping at the first failure (retried after its delay)."""

    def __init__(self, store: Store, policy: RetryPolicy, timeout: float) -> None:
        self.store = store
        self.policy = policy
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        #: This deliverer's name in ``webhooks.lease_owner`` (one per process and store).
        self.owner = "dl_" + secrets.token_hex(12)
        self.lease = timeout + _LEASE_SECONDS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._http.close()
        try:
            with self.store.begin() as c:
                c.execute(
                    update(webhooks)
                    .where(webhooks.c.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                )
        except Exception:  # a database away: the leases run out on their own
            log.warning("webhooks: could not free this deliverer's leases", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(_TICK_SECONDS):
            try:
                self.deliver_due()
            except Exception:  # a database away: the next tick tries again
                log.exception("webhook round failed")

    def deliver_due(self) -> int:
        """One round over every webhook; the number of notifications delivered."""
        with self.store.connect() as c:
            hooks = c.execute(select(webhooks)).mappings().all()
        return sum(self._deliver(hook) for hook in hooks if not self._stop.is_set())

    def _claim(self, hook_id: str, now: float) -> RowMapping | None:
        """The webhook as it stands once this deliverer holds its lease; ``None`` if
        another deliverer holds it."""
        with self.store.begin() as c:
            won = c.execute(
                update(webhooks)
                .where(
                    webhooks.c.id == hook_id,
                    or_(
                        webhooks.c.lease_owner.is_(None),
                        webhooks.c.lease_owner == self.owner,
                        webhooks.c.lease_until.is_(None),
                        webhooks.c.lease_until < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + self.lease)
            ).rowcount
            if won != 1:
                return None
            return c.execute(select(webhooks).where(webhooks.c.id == hook_id)).mappings().first()

    def _deliver(self, listed: RowMapping) -> int:
        now = time.time()
        if listed["next_attempt_at"] is not None and listed["next_attempt_at"] > now:
            return 0
        found = self._due(listed)
        if not found:
            return 0  # nothing to send: no claim, no write
        hook = self._claim(listed["id"], now)
        if hook is None:
            return 0
        if hook["next_attempt_at"] is not None and hook["next_attempt_at"] > now:
            return 0
        if (hook["cursor_block"], hook["cursor_index"]) != (
            listed["cursor_block"],
            listed["cursor_index"],
        ):
            found = self._due(hook)  # another deliverer sent some since the listing
        delivered = 0
        for notification in found:
            if self._stop.is_set() or not self._send(hook, notification):
                break
            delivered += 1
        return delivered

    def _due(self, hook: RowMapping) -> list[NotificationOut]:
        """What follows the webhook's cursor, up to a round's worth."""
        kinds = frozenset(json.loads(hook["events"])) or None
        position = (hook["cursor_block"], hook["cursor_index"])
        with self.store.connect() as c:
            # Anomalies and emergencies go to auditors; the deliverer has no chain, so it
            # asks the index.
            auditor = holds_auditor_role(c, hook["owner"])
            return feed_after(c, hook["owner"], position, _PER_ROUND, kinds, auditor=auditor)

    def _send(self, hook: RowMapping, notification: NotificationOut) -> bool:
        """POST one notification; True when the cursor may move past it."""
        body = notification.model_dump_json()
        now = time.time()
        code: int | None = None
        error: str | None = None
        try:
            answer = self._http.post(
                hook["url"],
                content=body.encode(),
                headers=signed_headers(hook["secret"], notification.id, body, now),
            )
            code = answer.status_code
            if not answer.is_success:
                error = f"answered {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with self.store.connect() as c, c.begin():
            renewed = c.execute(
                update(webhooks)
                .where(webhooks.c.id == hook["id"], webhooks.c.lease_owner == self.owner)
                .values(lease_until=time.time() + self.lease)
            ).rowcount
            if renewed != 1:
                log.warning(
                    "webhook %s: lost its lease while sending %s", hook["id"], notification.id
                )
                return False
            earlier = (
                c.execute(
                    select(webhook_deliveries).where(
                        webhook_deliveries.c.webhook_id == hook["id"],
                        webhook_deliveries.c.notification_id == notification.id,
                    )
                )
                .mappings()
                .first()
            )
            first = now if earlier is None else earlier["first_attempt_at"]
            attempts = 1 if earlier is None else earlier["attempts"] + 1
            if error is None:
                status, retry_at = "delivered", None
            elif self.policy.gives_up(first, now):
                status, retry_at = "failed", None
            else:
                status, retry_at = "retrying", now + self.policy.delay(attempts)
            record = {
                "status": status,
                "attempts": attempts,
                "last_attempt_at": now,
                "last_status_code": code,
                "last_error": error,
                "next_attempt_at": retry_at,
            }
            if earlier is None:
                c.execute(
                    webhook_deliveries.insert().values(
                        webhook_id=hook["id"],
                        notification_id=notification.id,
                        first_attempt_at=first,
                        **record,
                    )
                )
            else:
                c.execute(
                    update(webhook_deliveries)
                    .where(
                        webhook_deliveries.c.webhook_id == hook["id"],
                        webhook_deliveries.c.notification_id == notification.id,
                    )
                    .values(**record)
                )
            moved: dict[str, Any] = {"next_attempt_at": retry_at}
            if retry_at is None:  # delivered or given up: the next one is due
                block, index = position_of(notification)
                moved |= {"cursor_block": block, "cursor_index": index}
            c.execute(update(webhooks).where(webhooks.c.id == hook["id"]).values(**moved))
        if status == "failed":
            log.warning(
                "webhook %s: gave up on %s after %d attempts", hook["id"], notification.id, attempts
            )
        return retry_at is None


def last_delivery(c: Connection, webhook_id: str) -> RowMapping | None:
    return (
        c.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.last_attempt_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
