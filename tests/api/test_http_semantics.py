"""HTTP details a client relies on: HEAD wherever GET is (as ``Allow`` says), and audit
filters that take an address in any case."""

from __future__ import annotations

import pytest

from tests.api.conftest import World


@pytest.mark.parametrize("path", ["/health", "/eip712", "/schema", "/departments", "/docs"])
def test_head_answers_like_get_without_a_body(world: World, path: str) -> None:
    get = world.http.get(path)
    head = world.http.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    allow = world.http.request("TRACE", path).headers["allow"]
    assert "HEAD" in allow and "GET" in allow


def test_audit_filters_take_an_address_in_any_case(world: World) -> None:
    world.grant(world.resident, world.dept, ["income"])
    exact = world.get("/audit/events", world.auditor, resident=world.resident.address).json()
    lower = world.get(
        "/audit/events", world.auditor, resident=world.resident.address.lower()
    ).json()
    assert exact["data"] and lower["data"] == exact["data"]
    wrong_case = (
        "0x"
        + "".join(  # mixed case that is no checksum
            c.upper() if c.islower() else c.lower() for c in world.resident.address[2:]
        )
    )
    swapped = world.get("/audit/events", world.auditor, resident=wrong_case)
    assert swapped.status_code == 200 and swapped.json()["data"] == exact["data"]
    bad = world.get("/audit/events", world.auditor, department="0x1234")
    assert bad.status_code == 422
    export = world.get(
        "/audit/export", world.auditor, resident=world.resident.address.lower(), format="jsonl"
    )
    assert export.status_code == 200 and export.text.count("\n") >= 2  # events + end line
