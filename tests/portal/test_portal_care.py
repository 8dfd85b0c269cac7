"""The resident's delegates and emergency-directive screens in a browser on a served
node, and the access log's marks for what they lead to: a delegate appointed in the
browser opens the record with the keys the browser wrapped for it and grants in the
resident's name, the log names it as signer; removing it in the browser rotates the
record so its keys open nothing new. A directive left in the browser lets the ambulance
read exactly its fields under break the glass, the log marks that read; withdrawn in the
browser, the next emergency access is refused, and marked so. Nothing the browser sends
holds a field value or a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import World
from tests.api.test_delegates import appoint, grant_as
from tests.api.test_emergency import emergency_access, give_emergency_role
from tests.api.test_served import Served
from tests.portal.conftest import PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_portal_resident import (
    VALUES,
    enrolled,
    file_request,
    secrets_of,
    sign_in_resident,
)
from wallets.delegation import open_as_delegate
from wallets.grants import open_granted_fields
from wallets.identity import Identity
from wallets.record import RecordVersion

#: The fields the admin lets the ambulance service read in an emergency.
EMERGENCY_FIELDS = ("address", "name")


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar, the Housing Bureau and an ambulance service with the emergency role."""
    with admin_world(served) as world:
        ambulance = world.register_department("ambulance", "120 Emergency Centre", "EMS")
        give_emergency_role(world, ambulance, EMERGENCY_FIELDS)
        yield world


#: What the browser logs for a 404 it was told to expect: no directive yet (GET
#: /emergency-directives/{a}), as for no record yet.
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"


def assert_clean_but_absent(portal: Watched) -> None:
    """No console error but the 404s of what is not there yet; no CSP violation."""
    assert [e for e in portal.console_errors if e != NOT_FOUND] == []
    assert portal.csp_violations() == []


def served_record(world: World, resident: Identity, reader: Identity) -> dict[str, object]:
    answer = world.get(f"/residents/{resident.address}/record", reader)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_delegate_appointed_in_the_browser_acts_for_the_resident_until_removed_there(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "parent")
    assert world.upload(resident, VALUES).status_code == 200
    daughter = world.enroll("daughter")
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("delegates")
    page.locator("#delegates-none").wait_for(timeout=30_000)
    page.get_by_label(ZH["delegates.appoint.address"]).fill(daughter.address.lower())
    page.get_by_label(ZH["power.grant"]).check()  # read is ticked already
    page.get_by_label(ZH["delegates.appoint.days"]).fill("30")
    page.get_by_role("button", name=ZH["delegates.appoint.submit"]).click()
    card = page.locator(f"#delegate-{daughter.address.lower()}")
    card.wait_for(timeout=60_000)
    assert portal.progress_seen(ZH["delegates.appointing"])
    assert card.locator(".delegate-status").inner_text() == ZH["delegates.status.active"]
    assert card.locator(".delegate-powers").inner_text() == ", ".join(
        (ZH["power.grant"], ZH["power.read"])
    )
    portal.axe("delegates")
    portal.assert_fits_a_phone()
    portal.screenshot("delegates")

    listed = world.get(f"/residents/{resident.address}/delegates", resident).json()["data"]
    assert [(d["delegate"], d["powers"], d["key_versions"]) for d in listed] == [
        (daughter.address, ["grant", "read"], [1])
    ]
    # The daughter opens the record with the keys the browser wrapped for her.
    stored = served_record(world, resident, daughter)
    record = world.records[resident.address]
    held = stored["wrapped_keys"]
    assert isinstance(held, dict)
    opened = open_as_delegate(
        stored["fields"],  # type: ignore[arg-type]
        held,
        daughter,
        resident=resident.address,
        version=1,
        owner_public_key=resident.encryption_public_key,
        root=str(stored["root"]),
    )
    assert {n: v.value for n, v in opened.values().items()} == VALUES
    # She grants in his name; his log says she signed it.
    granted = grant_as(world, daughter, resident, world.dept, ["income"])
    assert granted.status_code == 201, granted.text
    consent_id = int(granted.json()["consent_id"])
    portal.go("log")
    entry = page.locator('.log-entry[data-kind="delegated"]')
    entry.wait_for(timeout=30_000)
    assert ZH["log.delegated.ConsentGranted"] in entry.inner_text()
    assert entry.locator(".log-signer code").inner_text() == daughter.address
    portal.axe("resident-log-delegated")

    # Removed in the browser: the record is rotated away from what she held.
    portal.go("delegates")
    card = page.locator(f"#delegate-{daughter.address.lower()}")
    card.get_by_role(
        "button", name=ZH["delegates.remove"].format(delegate=daughter.address)
    ).click()
    said = page.locator("#delegates-said")
    said.wait_for(timeout=90_000)
    assert said.inner_text() == ZH["delegates.rotated"].format(delegate=daughter.address, version=2)
    assert card.locator(".delegate-status").inner_text() == ZH["delegates.status.removed"]
    assert_clean_but_absent(portal)
    assert world.get(f"/residents/{resident.address}/record", daughter).status_code == 403
    latest = served_record(world, resident, resident)
    rotated = RecordVersion.open(
        latest["fields"],  # type: ignore[arg-type]
        resident,
        resident=resident.address,
        version=2,
        root=str(latest["root"]),
    )
    assert {n: v.value for n, v in rotated.values().items()} == VALUES
    for name in VALUES:  # her cached keys of version 1 open nothing of version 2
        assert rotated.field_key(name) != record.field_key(name)
        assert rotated.values()[name].salt != record.values()[name].salt
    # The consent that stays live reads the new version with the keys re-wrapped for it.
    read = world.query(world.dept, resident, consent_id, ["income"])
    assert read.status_code == 200, read.text
    assert read.json()["fields"]["income"]["version"] == 2
    assert_nothing_secret_sent(portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, record)])


def test_a_directive_left_in_the_browser_is_read_in_an_emergency_and_marked_in_the_log(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "patient")
    assert world.upload(resident, VALUES).status_code == 200
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("directive")
    page.locator("#directive-none").wait_for(timeout=30_000)
    # Only the emergency service is offered, with the fields its role and the record share.
    options = page.locator("#directive-department option")
    assert options.all_inner_texts() == ["120 Emergency Centre"]
    form = page.locator("#directive-form")
    assert form.locator('input[type="checkbox"]').count() == len(EMERGENCY_FIELDS)
    form.get_by_label(ZH["field.name"], exact=True).check()
    form.get_by_label(ZH["field.address"], exact=True).check()
    form.get_by_role("button", name=ZH["directive.form.submit"]).click()
    page.locator("#directive-said").wait_for(timeout=60_000)
    assert page.locator(".directive-status").inner_text() == ZH["directive.status.active"]
    assert page.locator(".directive-fields").inner_text() == ", ".join(
        ZH[f"field.{n}"] for n in ("address", "name")
    )
    portal.axe("directive")
    portal.assert_fits_a_phone()
    portal.screenshot("directive")

    ambulance = world.ambulance
    answer = emergency_access(world, ambulance, resident, ["address", "name"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    values = open_granted_fields(
        body["fields"],
        resident=resident.address,
        identity=ambulance,
        root=world.records[resident.address].root,
    )
    assert {n: v.value for n, v in values.items()} == {
        "address": VALUES["address"],
        "name": VALUES["name"],
    }
    outside = emergency_access(world, ambulance, resident, ["income"])
    assert outside.status_code == 403, outside.text

    # Withdrawn in the browser: the next emergency access is refused.
    page.get_by_role("button", name=ZH["directive.withdraw"]).click()
    page.locator(".directive-status", has_text=ZH["directive.status.withdrawn"]).wait_for(
        timeout=60_000
    )
    refused = emergency_access(world, ambulance, resident, ["name"])
    assert (refused.status_code, refused.json()["reason"]) == (403, "no_directive")

    portal.go("log")
    page.locator("#log-entries").wait_for(timeout=30_000)
    read = page.locator('.log-entry[data-kind="emergency"]')
    assert read.count() == 1
    text = read.inner_text()
    assert f"{body['access_id']}" in text and "⚠" in text
    assert ZH["purpose.EMERGENCY"] in text
    kinds = page.locator('.log-entry[data-kind="emergency_refused"]')
    assert kinds.count() == 2
    assert ZH["care.refusal.no_directive"] in kinds.nth(0).inner_text()
    assert ZH["care.refusal.field_not_in_directive"] in kinds.nth(1).inner_text()
    portal.axe("resident-log-emergency")
    portal.screenshot("resident-log-emergency")
    assert_clean_but_absent(portal)
    assert_nothing_secret_sent(
        portal,
        [*VALUES.values(), PASSWORD, *secrets_of(resident, world.records[resident.address])],
    )


def test_a_delegate_signs_in_as_itself_and_acts_for_the_resident_the_screens_say_for_whom(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    parent = world.enroll("elder")
    assert world.upload(parent, VALUES).status_code == 200
    son, folder = enrolled(world, tmp_path, "son")
    appointed = appoint(world, parent, son, 1 | 2 | 8, days=30)  # grant, revoke, read
    assert appointed.status_code == 201, appointed.text
    file_request(world, parent, ["income", "name"])

    sign_in_resident(portal, folder)
    page = portal.page
    acting = page.get_by_label(ZH["acting.label"])
    acting.select_option(parent.address)
    banner = page.locator("#acting-banner")
    banner.wait_for(timeout=10_000)
    powers = ", ".join(ZH[f"power.{p}"] for p in ("grant", "revoke", "read"))
    assert (
        banner.inner_text()
        .strip()
        .endswith(ZH["acting.banner"].format(resident=parent.address, powers=powers))
    )
    # Only the screens a delegate uses, each about the parent.
    links = page.locator("nav a").all_inner_texts()
    assert ZH["nav.delegates"] not in " ".join(links)
    assert ZH["nav.directive"] not in " ".join(links)
    version = ZH["record.version"].format(version=1)
    page.locator("#record-version", has_text=version).wait_for(timeout=30_000)
    for name, value in VALUES.items():  # opened with the keys wrapped for the son
        assert page.get_by_label(ZH[f"field.{name}"], exact=True).input_value() == value
    portal.axe("acting-for-record")
    portal.assert_fits_a_phone()
    portal.screenshot("acting-for-record")

    portal.go("requests")
    card = page.locator(".request")
    card.wait_for(timeout=30_000)
    card.get_by_role("button", name=ZH["requests.approve_all"]).click()
    page.locator("#requests-said").wait_for(timeout=60_000)
    (consent,) = world.get(f"/residents/{parent.address}/consents", parent).json()["data"]
    assert consent["resident"] == parent.address
    assert consent["grant"]["message"]["resident"] == parent.address
    read = world.query(world.dept, parent, int(consent["consent_id"]), ["income", "name"])
    assert read.status_code == 200, read.text
    values = open_granted_fields(
        read.json()["fields"],
        resident=parent.address,
        identity=world.dept,
        root=world.records[parent.address].root,
    )
    assert {n: v.value for n, v in values.items()} == {
        "income": VALUES["income"],
        "name": VALUES["name"],
    }
    log = world.get(f"/residents/{parent.address}/access-log", parent).json()["data"]
    assert [(e["type"], e["signed_by"]) for e in log if e["type"] == "ConsentGranted"] == [
        ("ConsentGranted", son.address)
    ]

    portal.go("log")
    entry = page.locator('.log-entry[data-kind="delegated"]')
    entry.wait_for(timeout=30_000)
    assert entry.locator(".log-signer code").inner_text() == son.address
    portal.go("consents")
    cid = consent["consent_id"]
    revoke = page.get_by_role("button", name=ZH["consents.revoke"].format(consent=cid))
    revoke.click()
    page.locator("#consents-said").wait_for(timeout=60_000)
    after = world.get(f"/consents/{cid}", parent).json()
    assert after["status"] == "revoked"
    portal.axe("acting-for-consents")
    portal.assert_fits_a_phone()

    # Back to himself: his own (empty) record, the parent's screens gone.
    acting.select_option("")
    page.locator("#acting-banner").wait_for(state="detached", timeout=10_000)
    portal.go("record")
    page.locator("#record-version", has_text=ZH["record.none"]).wait_for(timeout=30_000)
    assert_clean_but_absent(portal)
    assert_nothing_secret_sent(
        portal, [*VALUES.values(), PASSWORD, *secrets_of(parent, world.records[parent.address])]
    )
