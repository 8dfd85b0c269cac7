"""The caller's notifications: the feed's pages, the live stream followed across
dropped connections, and webhook subscriptions.

:meth:`NotificationFlows.follow_notifications` reads ``/notifications/stream`` (Server-Sent
Events) and, when the connection drops or the server restarts, reconnects with
``Last-Event-ID`` set to the last notification it yielded, so a follower misses none and
sees none twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from api.client_errors import ApiProblem, ApiUnreachable
from api.client_transport import ApiTransport

#: Between reconnections of a dropped stream, in seconds (the server's ``retry:`` hint
#: is 1 s too).
RECONNECT_SECONDS = 1.0


def parse_sse(lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events from the lines of a stream: ``{"id", "event", "data"}`` per
    event with data (comments and ``retry:`` lines skipped), as the HTML standard reads
    them: several ``data:`` lines join with newlines."""
    message: dict[str, str] = {}
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield {**message, "data": "\n".join(data)}
            message, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name in ("id", "event"):
            message[name] = value


class NotificationFlows(ApiTransport):
    def notifications(self) -> list[dict[str, Any]]:
        """The whole feed so far, oldest first."""
        return list(self.pages("/notifications"))

    def add_webhook(self, url: str, events: list[str]) -> dict[str, Any]:
        """Subscribe ``url`` (department, auditor); the answer holds the signing secret."""
        return dict(self.request("POST", "/webhooks", json={"url": url, "events": events}))

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/webhooks")["data"])

    def remove_webhook(self, webhook_id: str) -> None:
        self.request("DELETE", f"/webhooks/{webhook_id}")

    def follow_notifications(self, last_event_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Each notification as the server indexes it, for ever: after
        ``last_event_id`` if given, else from now on. A dropped connection is reopened
        every :data:`RECONNECT_SECONDS` from the last one yielded; a refusal (401 after
        signing in again, 422) ends the iteration with :class:`ApiProblem`."""
        position = last_event_id
        while True:
            try:
                for event in self._events(position):
                    notification = json.loads(event["data"])
                    position = event.get("id", position)
                    yield notification
            except ApiUnreachable:
                pass
            time.sleep(RECONNECT_SECONDS)  # a server away: wait before asking again

    def _events(self, last_event_id: str | None) -> Iterator[dict[str, str]]:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}", "Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            try:
                with self._http.stream(
                    "GET",
                    "/notifications/stream",
                    headers=headers,
                    timeout=httpx.Timeout(30, read=None),  # silence is normal on a stream
                ) as response:
                    if response.status_code == 401 and attempt == 1:
                        self.forget_token()
                        continue
                    if not response.is_success:
                        response.read()
                        raise ApiProblem.from_response(response)
                    yield from parse_sse(response.iter_lines())
                    return
            except httpx.TransportError as exc:
                raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc
