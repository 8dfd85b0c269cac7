"""The client reads Server-Sent Events as the HTML standard defines them."""

from __future__ import annotations

from api.client_notifications import parse_sse


def test_events_are_parsed_with_ids_and_joined_data_lines_and_comments_skipped() -> None:
    lines = [
        "retry: 1000", "",
        ": keep-alive", "",
        "id: 7-0", "event: access_logged", 'data: {"a":', "data: 1}", "",
        "id: 7-1", "data:plain", "",
        "event: no_data", "",
    ]  # fmt: skip
    assert list(parse_sse(lines)) == [
        {"id": "7-0", "event": "access_logged", "data": '{"a":\n1}'},
        {"id": "7-1", "data": "plain"},
    ]
