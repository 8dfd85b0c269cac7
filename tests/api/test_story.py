"""The consent story through the API, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import World
from wallets.grants import open_granted_fields


def run_story(world: World) -> None:
    resident, dept, dept2 = world.resident, world.dept, world.dept2
    consent_id = world.grant(resident, dept, ["address", "income", "name"])

    answer = world.query(dept, resident, consent_id, ["income", "name"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert sorted(body["fields"]) == ["income", "name"]
    opened = open_granted_fields(
        body["fields"],
        resident=resident.address,
        identity=dept,
        root={body["record"]["version"]: bytes.fromhex(body["record"]["root"][2:])},
    )
    assert {k: v.value for k, v in opened.items()} == {"income": "52000", "name": "Li Wei"}

    refused = world.query(dept2, resident, consent_id, ["income"])
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["reason"] == "not_granted"
    assert refused.json()["receipt"]["tx_hash"].startswith("0x")

    assert world.revoke(resident, consent_id).status_code == 200
    after = world.query(dept, resident, consent_id, ["income"])
    assert (after.status_code, after.json()["reason"]) == (403, "revoked")

    log = world.get(f"/residents/{resident.address}/access-log", resident).json()["data"]
    assert [(e["type"], e["reason"], e["department_name"]) for e in log] == [
        ("AccessDenied", "revoked", "Housing Bureau"),
        ("AccessDenied", "not_granted", "Tax Office"),
        ("AccessLogged", None, "Housing Bureau"),
    ]
    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"], report["problems"]
    assert report["signatures_verified"] > 10


def test_story_on_sqlite(world: World) -> None:
    run_story(world)


@pytest.mark.postgres
def test_story_on_postgresql(pg_world: World) -> None:
    run_story(pg_world)


def test_a_new_device_restores_the_record_from_the_api_and_the_keystore_alone(
    world: World, tmp_path: Path
) -> None:
    from api.client import ConsentApi
    from wallets.identity import Identity

    world.resident.save(tmp_path / "wallet", "correct horse", scrypt_n=2**10)
    device = Identity.load(tmp_path / "wallet", "correct horse")
    with ConsentApi("http://testserver", device, transport=world.http._transport) as api:
        restored = api.restore_record()
    assert {name: v.value for name, v in restored.items()} == {
        "name": "Li Wei",
        "income": "52000",
        "address": "1 Lake Rd",
        "phone": "138",
    }
