"""Auditors and residents read services and bundles by name: a service defined and
renamed, a bundle granted, read under and revoked verifies, and its events, the export
and the resident's access log name the bundle and the service as it was named then."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.vocabulary import name_to_bytes32
from tests.api.bundles import (
    SERVICE,
    bundle_body,
    bundle_items,
    define_service,
    revoke_bundle_body,
    service_items,
    three_departments,
)
from tests.api.conftest import World

FIRST_NAME, SECOND_NAME = "新生儿出生登记", "新生儿出生一件事"


@pytest.fixture(params=["world", "pg_world"], ids=["sqlite", "postgresql"])
def any_world(request: pytest.FixtureRequest) -> Iterator[World]:
    yield request.getfixturevalue(request.param)


def rename_service(world: World, name: str) -> Any:
    message = {"service": name_to_bytes32(SERVICE), "name": name, "items": service_items(world)}
    return world.post(
        "/admin/services", world.admin, world.body(world.admin, "DefineService", message)
    )


def events_of(world: World, *types: str) -> list[dict[str, Any]]:
    answer = world.get("/audit/events", world.auditor, type=list(types), limit=1000)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_bundle_granted_read_and_revoked_verifies_and_is_named(any_world: World) -> None:
    world = any_world
    resident = world.resident
    assert define_service(world).status_code == 200
    d1, d2, _ = three_departments(world)
    plain = world.grant(resident, d1, ["income"])
    granted = world.post("/bundles", resident, bundle_body(world, resident, bundle_items(world)))
    assert granted.status_code == 201, granted.text
    bundle_id, (c1, c2, c3) = granted.json()["bundle_id"], granted.json()["consent_ids"]
    assert world.query(d1, resident, c1, ["address"]).status_code == 200
    assert world.query(d2, resident, c1, ["name"]).json()["reason"] == "not_granted"
    assert world.query(d1, resident, plain, ["income"]).status_code == 200
    assert rename_service(world, SECOND_NAME).status_code == 200
    revoked = world.post(
        f"/bundles/{bundle_id}/revoke", resident, revoke_bundle_body(world, resident, bundle_id)
    )
    assert revoked.status_code == 200, revoked.text

    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"], report["problems"]
    assert report["problems"] == []

    defined = events_of(world, "ServiceDefined")
    assert [(e["service"], e["service_name"], e["bundle_id"]) for e in defined] == [
        (SERVICE, FIRST_NAME, None),
        (SERVICE, SECOND_NAME, None),
    ]
    assert [e["args"]["name"] for e in defined] == [FIRST_NAME, SECOND_NAME]
    (bundle_granted,) = events_of(world, "BundleGranted")
    (bundle_revoked,) = events_of(world, "BundleRevoked")
    # each named as the service was named when it happened
    assert (
        bundle_granted["bundle_id"],
        bundle_granted["service"],
        bundle_granted["service_name"],
    ) == (bundle_id, SERVICE, FIRST_NAME)
    assert (
        bundle_revoked["bundle_id"],
        bundle_revoked["service"],
        bundle_revoked["service_name"],
    ) == (bundle_id, SERVICE, SECOND_NAME)
    consent_events = events_of(world, "ConsentGranted", "ConsentRevoked")
    named = {(e["type"], e["consent_id"]): (e["bundle_id"], e["service"]) for e in consent_events}
    assert named == {
        ("ConsentGranted", plain): (None, None),
        **{("ConsentGranted", c): (bundle_id, SERVICE) for c in (c1, c2, c3)},
        **{("ConsentRevoked", c): (bundle_id, SERVICE) for c in (c1, c2, c3)},
    }

    log = world.get(f"/residents/{resident.address}/access-log", resident, limit=1000).json()
    entries = [
        (e["type"], e["consent_id"], e["bundle_id"], e["service"], e["service_name"])
        for e in log["data"]
    ]
    assert entries == [
        ("AccessLogged", plain, None, None, None),
        ("AccessDenied", c1, bundle_id, SERVICE, FIRST_NAME),
        ("AccessLogged", c1, bundle_id, SERVICE, FIRST_NAME),
    ]
    assert all(e["department_name"] for e in log["data"])  # the earlier members stay

    export = world.get("/audit/export", world.auditor, format="jsonl")
    *records, end = [json.loads(line) for line in export.text.splitlines()]
    assert records == world.get("/audit/events", world.auditor, limit=1000).json()["data"]
    assert end == {"end": True, "events": len(records)}
    assert bundle_revoked in records
    table = world.get("/audit/export", world.auditor, format="csv")
    *rows, _ = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["bundle_id"], r["service"], r["service_name"]) for r in rows] == [
        (str(e["bundle_id"] or ""), e["service"] or "", e["service_name"] or "") for e in records
    ]
