"""The resident's services screen (办事) in a browser on a served node: a service of three
departments, defined by the admin over HTTP, is granted in the browser with one
signature, one item narrowed; each department reads exactly its own fields; a refusal of
one item is said naming that item; "revoke all" in my consents ends all three."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from api.messages import explain
from ledger.vocabulary import name_to_bytes32
from tests.api.bundles import DAY, define_service, service_items, three_departments
from tests.api.conftest import World
from tests.api.test_served import Served
from tests.portal.conftest import EN, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_portal_resident import enrolled, secrets_of, sign_in_resident
from wallets.grants import open_granted_fields
from wallets.identity import Identity
from wallets.record import RecordVersion

VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd", "phone": "13800"}
SERVICE_NAME = "新生儿出生登记"


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """The admin's world with three departments and the newborn service over HTTP, and a
    purpose policy set after it: housing for at most 20 days (the service asks 30). The
    health item allows 3 uses, so its department's read leaves its consent in force."""
    with admin_world(served) as world:
        world.register_department("dept2", "Tax Office", "TO")
        three_departments(world)
        items = service_items(world)
        items[2]["maxUses"] = 3
        answer = define_service(world, items)
        assert answer.status_code == 200, answer.text
        policy = world.body(
            world.admin,
            "SetPurposePolicy",
            {"purpose": name_to_bytes32("HOUSING"), "fields": [], "maxDuration": 20 * DAY},
        )
        answer = world.post("/admin/purpose-policies", world.admin, policy)
        assert answer.status_code == 200, answer.text
        yield world


def read(
    world: World, dept: Identity, resident: Identity, consent_id: int, fields: list[str]
) -> dict[str, str]:
    """What `dept` reads of `fields` under `consent_id`, decrypted with its own key."""
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


def consents_of(world: World, resident: Identity) -> list[dict[str, Any]]:
    mine = world.get(f"/residents/{resident.address}/consents", resident).json()
    return sorted(mine["data"], key=lambda c: c["consent_id"])


def test_a_service_granted_narrowed_with_one_signature_and_revoked_at_once(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "parent")
    assert world.upload(resident, VALUES).status_code == 200
    d1, d2, d3 = three_departments(world)
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("services")
    page.get_by_role("button", name=ZH["services.choose"].format(service=SERVICE_NAME)).click()
    items = [page.locator(f"#service-item-{i}") for i in range(3)]
    items[0].wait_for(timeout=30_000)
    # the button that was pressed is gone: the keyboard lands on what replaced it
    expect(page.locator("#service-heading")).to_be_focused(timeout=10_000)
    # Every item in words: its department by name, fields, purpose, duration and cap.
    at_most = ZH["services.uses_at_most"]
    expected = [
        ("Housing Bureau", ["address", "name"], "HOUSING", 30, at_most.format(uses=5)),
        ("Tax Office", ["income", "name"], "SOCIAL_ASSISTANCE", 60, ZH["services.uses_no_cap"]),
        ("Health Commission", ["name", "phone"], "HEALTHCARE", 10, at_most.format(uses=3)),
    ]
    for item, (department, fields, purpose, days, cap) in zip(items, expected, strict=True):
        text = item.inner_text()
        assert ZH["services.item"].format(item=items.index(item) + 1, department=department) in text
        assert ZH[f"purpose.{purpose}"] in text and purpose not in text
        assert ZH["requests.days"].format(days=days) in text and cap in text
        for name in fields:
            assert item.get_by_label(ZH[f"field.{name}"], exact=True).is_checked()
    portal.axe("services")
    portal.assert_fits_a_phone()
    portal.screenshot("services")

    # As the service asks, housing is beyond its purpose's policy: refused, naming item 1.
    with page.expect_response(
        lambda r: r.url.endswith("/bundles") and r.request.method == "POST"
    ) as refused:
        page.get_by_role("button", name=ZH["services.grant"]).click()
    problem = refused.value.json()
    assert refused.value.status == 422
    assert (problem["error"], problem["bundle_item"], problem["arguments"]["index"]) == (
        "ConsentDirectoryBundleWindowTooLong", 0, 0,
    )  # fmt: skip
    assert problem["arguments"]["maxDuration"] == 20 * DAY  # the policy's, not the service's
    error = page.locator("#services-error")
    error.wait_for(timeout=30_000)
    # the item's own sentence; the screen names the item itself (number and department)
    own = {k: v for k, v in problem.items() if k != "bundle_item"}
    reason = explain(own, language="zh-CN")
    assert error.inner_text() == ZH["services.item_refused"].format(
        item=1, department="Housing Bureau", reason=reason
    )
    assert consents_of(world, resident) == []  # nothing of it granted
    portal.axe("services-refused")

    # Narrowed: housing gets the name only, for 7 days and 2 uses; signed once.
    items[0].get_by_label(ZH["field.address"], exact=True).uncheck()
    page.get_by_label(ZH["services.days"].format(department="Housing Bureau")).fill("7")
    page.get_by_label(ZH["services.uses"].format(department="Housing Bureau")).fill("2")
    page.get_by_role("button", name=ZH["services.grant"]).click()
    said = page.locator("#services-said")
    page.locator("#services-said, #services-error").wait_for(timeout=90_000)
    assert not error.is_visible(), error.inner_text()  # the sentence, if it was refused
    expect(said).to_be_focused(timeout=10_000)
    assert portal.progress_seen(ZH["services.granting"])
    portal.axe("services-granted")
    portal.assert_fits_a_phone()
    portal.screenshot("services-granted")
    posts = [r for r in portal.requests if r["url"].endswith("/bundles") and r["body"]]
    assert len(posts) == 2  # the refused one and this one: one signature each

    c1, c2, c3 = consents_of(world, resident)
    bundle_id = c1["bundle_id"]
    assert said.inner_text() == ZH["services.granted"].format(
        service=SERVICE_NAME, bundle=bundle_id, count=3
    )
    assert {c["bundle_id"] for c in (c1, c2, c3)} == {bundle_id}
    terms = [
        (
            c["department"],
            c["fields"],
            c["purpose"],
            c["valid_until"] - c["valid_from"],
            c["max_uses"],
        )
        for c in (c1, c2, c3)
    ]
    assert terms == [
        (d1.address, ["name"], "HOUSING", 7 * DAY, 2),
        (d2.address, ["income", "name"], "SOCIAL_ASSISTANCE", 60 * DAY, 0),
        (d3.address, ["name", "phone"], "HEALTHCARE", 10 * DAY, 3),
    ]
    # Each department opens its own fields with its own key; nothing beyond them.
    assert read(world, d1, resident, c1["consent_id"], ["name"]) == {"name": "Li Wei"}
    beyond = world.query(d1, resident, c1["consent_id"], ["address"]).json()
    assert beyond["reason"] == "field_not_in_scope"
    assert read(world, d2, resident, c2["consent_id"], ["income"]) == {"income": "52000"}
    assert read(world, d3, resident, c3["consent_id"], ["phone"]) == {"phone": "13800"}

    # My consents: the bundle as one card with its three; revoke all, one signature.
    portal.go("consents")
    card = page.locator(f"#bundle-{bundle_id}")
    card.wait_for(timeout=30_000)
    expect_title = ZH["consents.bundle_title"].format(bundle=bundle_id, service=SERVICE_NAME)
    page.get_by_role("heading", name=expect_title).wait_for(timeout=30_000)
    assert card.locator(".consent").count() == 3
    for c in (c1, c2, c3):  # each still revocable on its own
        assert (
            card.get_by_role(
                "button", name=ZH["consents.revoke"].format(consent=c["consent_id"])
            ).count()
            == 1
        )
    portal.axe("consents-bundle")
    portal.assert_fits_a_phone()
    portal.screenshot("consents-bundle")
    card.get_by_role("button", name=ZH["consents.revoke_bundle"].format(bundle=bundle_id)).click()
    ids = ", ".join(str(c["consent_id"]) for c in (c1, c2, c3))
    rotated = ZH["consents.bundle_rotated"].format(bundle=bundle_id, consents=ids, version=2)
    page.locator("#consents-said", has_text=rotated).wait_for(timeout=90_000)
    card.locator(".bundle-status", has_text=ZH["consents.bundle_status.revoked"]).wait_for(
        timeout=30_000
    )
    # The one console error is the refused bundle's 422, which the screen said in words.
    unprocessable = "Failed to load resource: the server responded with a status of 422"
    assert [e[: len(unprocessable)] for e in portal.console_errors] == [unprocessable]
    assert portal.csp_violations() == []

    bundle = world.get(f"/bundles/{bundle_id}", resident).json()
    assert bundle["status"] == "revoked"
    assert [c["status"] for c in bundle["consents"]] == ["revoked"] * 3
    assert [c["status"] for c in consents_of(world, resident)] == ["revoked"] * 3
    for dept, c, field in ((d1, c1, "name"), (d2, c2, "income"), (d3, c3, "phone")):
        after = world.query(dept, resident, c["consent_id"], [field])
        assert (after.status_code, after.json()["reason"]) == (403, "revoked")

    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    latest = RecordVersion.open(
        stored["fields"], resident, resident=resident.address, version=2, root=stored["root"]
    )
    assert {n: v.value for n, v in latest.values().items()} == VALUES
    assert_nothing_secret_sent(
        portal,
        [
            *VALUES.values(),
            *secrets_of(resident, world.records[resident.address]),
            *secrets_of(resident, latest),
        ],
    )


def test_a_widened_item_is_refused_in_the_browser_and_one_consent_of_a_bundle_revoked_alone(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "widener")
    assert world.upload(resident, VALUES).status_code == 200
    sign_in_resident(portal, folder)
    page = portal.page
    page.get_by_role("button", name=ZH["lang.label"]).click()  # in English this time
    portal.go("services")
    choose = page.get_by_role("button", name=EN["services.choose"].format(service=SERVICE_NAME))
    choose.click()
    page.get_by_role("button", name=EN["services.back"]).click()  # and back to the list:
    expect(page.locator("#services-heading")).to_be_focused(timeout=10_000)  # focus kept
    choose.click()
    tax = page.locator("#service-item-1")
    tax.wait_for(timeout=30_000)
    text = page.locator("main").inner_text()
    assert EN["purpose.SOCIAL_ASSISTANCE"] in text and EN["field.income"] in text
    assert not re.search(r"\b(nav|services|consents|field|purpose|error)\.[a-z_]+", text), text
    portal.axe("services-en")

    # Longer than the service allows (60 days): said for that item, nothing sent.
    page.get_by_label(EN["services.days"].format(department="Tax Office")).fill("61")
    page.get_by_role("button", name=EN["services.grant"]).click()
    error = page.locator("#services-error")
    error.wait_for(timeout=10_000)
    assert error.inner_text() == EN["services.bad_duration"].format(item=2, department="Tax Office")
    # No field ticked for an item: said too.
    page.get_by_label(EN["services.days"].format(department="Tax Office")).fill("60")
    page.get_by_label(EN["services.days"].format(department="Housing Bureau")).fill("20")
    for name in ("name", "phone"):
        page.locator("#service-item-2").get_by_label(EN[f"field.{name}"], exact=True).uncheck()
    page.get_by_role("button", name=EN["services.grant"]).click()
    no_fields = EN["services.no_fields"].format(item=3, department="Health Commission")
    page.locator("#services-error", has_text=no_fields).wait_for(timeout=10_000)
    assert not [r for r in portal.requests if r["url"].endswith("/bundles")]

    page.locator("#service-item-2").get_by_label(EN["field.phone"], exact=True).check()
    page.get_by_role("button", name=EN["services.grant"]).click()
    page.locator("#services-said").wait_for(timeout=90_000)
    c1, c2, c3 = consents_of(world, resident)
    assert c3["fields"] == ["phone"]
    assert c1["valid_until"] - c1["valid_from"] == 20 * DAY

    # One consent of the bundle revoked alone: the others stay in force.
    portal.go("consents")
    page.locator(f"#bundle-{c1['bundle_id']}").wait_for(timeout=30_000)
    page.get_by_role("button", name=EN["consents.revoke"].format(consent=c2["consent_id"])).click()
    said = EN["consents.rotated"].format(consent=c2["consent_id"], version=2)
    page.locator("#consents-said", has_text=said).wait_for(timeout=90_000)
    portal.assert_clean()
    assert [c["status"] for c in consents_of(world, resident)] == ["active", "revoked", "active"]
    bundle = world.get(f"/bundles/{c1['bundle_id']}", resident).json()
    assert bundle["status"] == "active"
    d1, _, d3 = three_departments(world)
    # The survivors' keys were re-wrapped for the rotated record: they still read.
    assert read(world, d1, resident, c1["consent_id"], ["name"]) == {"name": "Li Wei"}
    assert read(world, d3, resident, c3["consent_id"], ["phone"]) == {"phone": "13800"}
