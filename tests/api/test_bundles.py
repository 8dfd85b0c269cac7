"""Run at most once through the HTTP API: the admin defines a three-department service,
a resident grants it with one signature, each department reads exactly its fields, one
revocation ends all three, a widened bundle changes nothing, and every consent of it is
a consent everywhere (status, FHIR, its bundle)."""

from __future__ import annotations

from typing import Any

from fhir.resources.consent import Consent

from api.messages import explain
from ledger.vocabulary import name_to_bytes32
from tests.api.bundles import (
    SERVICE,
    bundle_body,
    bundle_items,
    define_service,
    revoke_bundle_body,
    three_departments,
)
from tests.api.conftest import World, ids
from wallets.grants import open_granted_fields


def read(world: World, dept: Any, consent_id: int, fields: list[str]) -> dict[str, str]:
    resident = world.resident
    answer = world.query(dept, resident, consent_id, fields)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    opened = open_granted_fields(
        body["fields"],
        resident=resident.address,
        identity=dept,
        root={body["record"]["version"]: bytes.fromhex(body["record"]["root"][2:])},
    )
    return {k: v.value for k, v in opened.items()}


def test_services_are_defined_by_the_admin_and_listed_by_name(world: World) -> None:
    assert world.get("/services", None).json() == {"services": []}
    answer = define_service(world)
    assert answer.status_code == 200, answer.text
    (listed,) = world.get("/services", None).json()["services"]
    defined = answer.json()
    assert defined.pop("acceptance")["journal_id"] > 0  # the relayer's signed acceptance
    assert listed == defined
    assert (listed["service"], listed["name"]) == (SERVICE, "新生儿出生登记")
    assert [
        (i["department_name"], i["fields"], i["purpose"], i["max_uses"]) for i in listed["items"]
    ] == [
        ("Housing Bureau", ["address", "name"], "HOUSING", 5),
        ("Tax Office", ["income", "name"], "SOCIAL_ASSISTANCE", 0),
        ("Health Commission", ["name", "phone"], "HEALTHCARE", 1),
    ]
    refused = world.post(
        "/admin/services",
        world.resident,
        world.body(world.resident, "DefineService", {
            "service": name_to_bytes32("X"), "name": "x", "items": [],
        }),
    )  # fmt: skip
    assert refused.status_code == 403, refused.text


def test_one_signature_grants_three_departments_each_its_own_fields(world: World) -> None:
    assert define_service(world).status_code == 200
    d1, d2, d3 = three_departments(world)

    answer = world.post(
        "/bundles", world.resident, bundle_body(world, world.resident, bundle_items(world))
    )

    assert answer.status_code == 201, answer.text
    granted = answer.json()
    assert len(granted["consent_ids"]) == 3
    c1, c2, c3 = granted["consent_ids"]
    assert read(world, d1, c1, ["address", "name"]) == {"address": "1 Lake Rd", "name": "Li Wei"}
    assert read(world, d2, c2, ["income"]) == {"income": "52000"}
    assert read(world, d3, c3, ["phone"]) == {"phone": "138"}
    assert world.query(d1, world.resident, c1, ["income"]).json()["reason"] == "field_not_in_scope"
    assert world.query(d2, world.resident, c1, ["name"]).json()["reason"] == "not_granted"

    bundle = world.get(f"/bundles/{granted['bundle_id']}", world.resident).json()
    assert (bundle["service"], bundle["service_name"], bundle["status"]) == (
        SERVICE, "新生儿出生登记", "active",
    )  # fmt: skip
    assert [c["consent_id"] for c in bundle["consents"]] == [c1, c2, c3]
    assert {c["grant"]["type"] for c in bundle["consents"]} == {"GrantBundle"}
    one = world.get(f"/consents/{c2}", world.resident).json()
    assert (one["bundle_id"], one["grant"]["type"]) == (granted["bundle_id"], "GrantBundle")
    mine = world.get(f"/residents/{world.resident.address}/consents", world.resident).json()
    assert {c["consent_id"]: c["bundle_id"] for c in mine["data"]} == {
        c1: granted["bundle_id"], c2: granted["bundle_id"], c3: granted["bundle_id"],
    }  # fmt: skip
    # each consent of it is a FHIR Consent like any other (c3 allowed one use: used up)
    for consent_id, status in ((c1, "active"), (c2, "active"), (c3, "inactive")):
        resource = world.get(f"/consents/{consent_id}/fhir", world.resident).json()
        assert Consent.model_validate(resource).status == status
    assert world.get(f"/bundles/{granted['bundle_id']}", world.resident2).status_code == 403
    assert world.get(f"/bundles/{granted['bundle_id']}", world.auditor).status_code == 200
    assert world.get("/bundles/99", world.auditor).status_code == 404


def test_one_revocation_ends_all_three_in_one_block(world: World) -> None:
    assert define_service(world).status_code == 200
    d1, d2, d3 = three_departments(world)
    granted = world.post(
        "/bundles", world.resident, bundle_body(world, world.resident, bundle_items(world))
    ).json()
    bundle_id = granted["bundle_id"]

    stranger = world.post(
        f"/bundles/{bundle_id}/revoke",
        world.resident2,
        revoke_bundle_body(world, world.resident2, bundle_id),
    )
    assert stranger.status_code == 403, stranger.text
    answer = world.post(
        f"/bundles/{bundle_id}/revoke",
        world.resident,
        revoke_bundle_body(world, world.resident, bundle_id),
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked"] == granted["consent_ids"]
    for dept, consent_id in zip((d1, d2, d3), granted["consent_ids"], strict=True):
        refused = world.query(dept, world.resident, consent_id, ["name"])
        assert (refused.status_code, refused.json()["reason"]) == (403, "revoked")
    bundle = world.get(f"/bundles/{bundle_id}", world.resident).json()
    assert bundle["status"] == "revoked"
    assert {c["status"] for c in bundle["consents"]} == {"revoked"}
    blocks = {
        world.get(f"/consents/{c}", world.resident).json()["revoked_at"]
        for c in granted["consent_ids"]
    }
    assert len(blocks) == 1
    again = world.post(
        f"/bundles/{bundle_id}/revoke",
        world.resident,
        revoke_bundle_body(world, world.resident, bundle_id),
    )
    assert again.status_code == 409, again.text
    assert world.get("/audit/verify", world.auditor).json()["ok"]


def test_a_widened_bundle_is_refused_naming_its_item_and_changes_nothing(world: World) -> None:
    assert define_service(world).status_code == 200
    before = world.get("/audit/events", world.auditor, limit=500).json()["data"]
    wide = bundle_items(world, **{"1_fields": ids("address", "income", "name")})

    answer = world.post("/bundles", world.resident, bundle_body(world, world.resident, wide))

    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    # the item's own named error, with its index
    assert problem["error"] == "ConsentDirectoryBundleFieldOutsideService"
    assert (problem["bundle_item"], problem["arguments"]["index"]) == (1, 1)
    assert problem["arguments"]["field"] == "0x" + name_to_bytes32("address").hex()
    assert explain(problem) == (
        "Item 2 of the bundle: It asks for the field `address`, which its service does not"
        " cover: a bundle may only narrow its service."
    )
    assert explain(problem, language="zh-CN").startswith("一次性授权第 2 项：")  # noqa: RUF001
    assert world.get("/audit/events", world.auditor, limit=500).json()["data"] == before


def test_a_bundle_item_naming_a_field_id_that_is_no_name_is_a_problem_that_changes_nothing(
    world: World,
) -> None:
    """A field id of 0xff bytes cannot be a schema name (nor a key's name): the answer was
    a 500 from decoding it for the keys check."""
    assert define_service(world).status_code == 200
    valid = bundle_body(world, world.resident, bundle_items(world))
    items = bundle_items(world, **{"0_fields": ["0x" + "ff" * 32]})
    message = {**valid["message"], "items": items}
    del message["nonce"], message["deadline"]
    body = world.body(
        world.resident,
        "GrantBundle",
        message,
        wrapped_keys=valid["wrapped_keys"],
        version=valid["version"],
    )
    before = world.get("/audit/events", world.auditor, limit=500).json()["data"]

    answer = world.post("/bundles", world.resident, body)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "items[0].fields[0]" in answer.json()["detail"]
    assert world.get("/audit/events", world.auditor, limit=500).json()["data"] == before


def test_a_narrowed_bundle_grants_as_narrowed_and_keys_must_match_it(world: World) -> None:
    assert define_service(world).status_code == 200
    narrow = bundle_items(world, **{"0_fields": ids("name"), "0_maxUses": 2})
    body = bundle_body(world, world.resident, narrow)
    extra = dict(body["wrapped_keys"])
    d1 = three_departments(world)[0]
    extra[d1.address] = bundle_body(world, world.resident, bundle_items(world))["wrapped_keys"][
        d1.address
    ]  # keys for a field the narrowed item does not grant
    assert (
        world.post("/bundles", world.resident, {**body, "wrapped_keys": extra}).status_code == 422
    )

    answer = world.post("/bundles", world.resident, body)

    assert answer.status_code == 201, answer.text
    first = answer.json()["consent_ids"][0]
    consent = world.get(f"/consents/{first}", world.resident).json()
    assert (consent["fields"], consent["max_uses"]) == (["name"], 2)
