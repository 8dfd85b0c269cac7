"""The resident's screens in a browser on a served node: the record opened, edited and
committed in the browser reads back in Python; nothing the browser sends holds a field
value or a key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ledger.codec import to_hex
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import FAST_SCRYPT, World, ids
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from wallets.identity import Identity
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE
from wallets.record import RecordVersion

VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd"}


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar and a department by API, as the admin sets them up."""
    with admin_world(served) as world:
        yield world


def enrolled(world: World, tmp_path: Path, role: str) -> tuple[Identity, Path]:
    """A resident enrolled by the registrar, its key files saved as the CLI saves them."""
    resident = world.enroll(role)
    folder = tmp_path / role
    resident.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return resident, folder


def sign_in_resident(portal: Watched, folder: Path) -> None:
    page = portal.page
    portal.open()
    page.get_by_label(ZH["signin.keystore"]).set_input_files(
        [str(folder / SIGNING_KEY_FILE), str(folder / ENCRYPTION_KEY_FILE)]
    )
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.locator("#record-version").wait_for(timeout=90_000)


def secrets_of(resident: Identity, record: RecordVersion) -> list[str]:
    keys = [to_hex(resident.x25519_private_key.private_bytes_raw()), resident.account.key.hex()]
    return keys + [record.field_key(n).hex() for n in record.field_names]


def test_my_record_opens_edits_and_commits_in_the_browser(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "resident")
    assert world.upload(resident, VALUES).status_code == 200
    sign_in_resident(portal, folder)
    page = portal.page
    assert page.locator("#record-version").inner_text() == ZH["record.version"].format(version=1)
    for name, value in VALUES.items():
        assert page.get_by_label(ZH[f"field.{name}"], exact=True).input_value() == value
    portal.axe("my-record")
    portal.assert_fits_a_phone()
    portal.screenshot("my-record")

    page.get_by_label(ZH["field.income"], exact=True).fill("61000")
    page.get_by_label(ZH["record.add.name"]).fill("phone")
    page.get_by_label(ZH["record.add.value"]).fill("13800138000")
    page.get_by_role("button", name=ZH["record.commit"]).click()
    page.locator("#record-saved").wait_for(timeout=60_000)
    assert page.locator("#record-saved").inner_text() == ZH["record.saved"].format(version=2)
    assert portal.progress_seen(ZH["record.committing"])
    portal.axe("my-record-saved")
    portal.screenshot("my-record-saved")
    portal.assert_clean()

    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    assert stored["version"] == 2
    opened = RecordVersion.open(
        stored["fields"], resident, resident=resident.address, version=2, root=stored["root"]
    )
    expected = {**VALUES, "income": "61000", "phone": "13800138000"}
    assert {n: v.value for n, v in opened.values().items()} == expected
    # An unchanged value keeps its salt (an issuer's attestation of it still matches).
    first = world.records[resident.address].values()
    assert opened.values()["name"].salt == first["name"].salt
    assert opened.values()["income"].salt != first["income"].salt

    plain = [*VALUES.values(), "61000", "13800138000", PASSWORD]
    assert_nothing_secret_sent(
        portal,
        plain
        + secrets_of(resident, opened)
        + secrets_of(resident, world.records[resident.address]),
    )
    put = [
        r
        for r in portal.requests
        if r["url"].endswith(f"/residents/{resident.address}/record") and r["body"]
    ]
    assert len(put) == 1 and json.loads(put[0]["body"])["message"]["version"] == 2


def test_a_first_record_made_in_the_browser_reads_in_python(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "newcomer")
    sign_in_resident(portal, folder)
    page = portal.page
    assert page.locator("#record-version").inner_text() == ZH["record.none"]
    page.get_by_label(ZH["record.add.name"]).fill("name")
    page.get_by_label(ZH["record.add.value"]).fill("王芳")
    page.get_by_role("button", name=ZH["record.commit"]).click()
    page.locator("#record-saved").wait_for(timeout=60_000)
    assert page.get_by_label(ZH["field.name"], exact=True).input_value() == "王芳"
    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    opened = RecordVersion.open(
        stored["fields"], resident, resident=resident.address, version=1, root=stored["root"]
    )
    assert opened.values()["name"].value == "王芳"
    assert_nothing_secret_sent(
        portal, ["王芳", json.dumps("王芳")[1:-1], *secrets_of(resident, opened)]
    )
    # The one 404 is GET /residents/{a}/record before a first version (the CLI asks so too).
    not_found = "Failed to load resource: the server responded with a status of 404 (Not Found)"
    assert portal.console_errors == [not_found]
    assert portal.csp_violations() == []


def file_request(world: World, resident: Identity, fields: list[str], days: int = 30) -> None:
    """The department files an access request by API, as `consent request create` does."""
    dept = world.dept
    body = world.body(
        dept,
        "AccessRequest",
        {
            "department": dept.address,
            "resident": resident.address,
            "fields": ids(*fields),
            "purpose": name_to_bytes32("HOUSING"),
            "duration": days * 86400,
        },
    )
    answer = world.post("/access-requests", dept, body)
    assert answer.status_code == 201, answer.text


def test_a_request_approved_narrowed_grants_exactly_the_ticked_fields(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "asked")
    assert world.upload(resident, VALUES).status_code == 200
    file_request(world, resident, ["name", "income", "address"])
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("requests")
    card = page.locator(".request")
    card.wait_for(timeout=30_000)
    assert "Housing Bureau" in card.inner_text()
    assert ZH["purpose.HOUSING"] in card.inner_text()  # the purpose in words, not its code
    assert ZH["requests.days"].format(days=30) in card.inner_text()
    portal.axe("requests-waiting")
    portal.assert_fits_a_phone()
    portal.screenshot("requests-waiting")

    card.get_by_label(ZH["field.address"], exact=True).uncheck()
    card.get_by_role("button", name=ZH["requests.approve_chosen"]).click()
    page.locator("#requests-said").wait_for(timeout=60_000)
    page.locator("#requests-empty").wait_for(timeout=30_000)
    # Every string of the resident's screens comes from the strings, in either language.
    page.get_by_role("button", name=ZH["lang.label"]).click()
    for screen in ("record", "requests", "consents"):
        nav = page.get_by_role("navigation", name=EN["nav.label"])
        nav.get_by_role("link", name=EN[f"nav.{screen}"], exact=True).click()
        heading = page.get_by_role("heading", name=EN[f"{screen}.heading"], exact=True)
        heading.wait_for(timeout=30_000)
        # The new screen's heading takes the focus, as a page load would announce it.
        expect(heading).to_be_focused(timeout=10_000)  # once the screen has rendered
        text = page.locator("main").inner_text()
        assert not re.search(r"\b(nav|record|requests|consents|field|error)\.[a-z_]+", text), text
    portal.axe("resident-en")
    portal.screenshot("resident-en")
    portal.assert_clean()

    consents = world.get(f"/residents/{resident.address}/consents", resident).json()
    consents = consents["data"] if isinstance(consents, dict) else consents
    assert len(consents) == 1
    consent = consents[0]
    assert sorted(consent["fields"]) == ["income", "name"]
    assert consent["department"] == world.dept.address
    read = world.query(world.dept, resident, int(consent["consent_id"]), ["income"])
    assert read.status_code == 200, read.text  # the browser's wrapped key opens for it
    refused = world.query(world.dept, resident, int(consent["consent_id"]), ["address"])
    assert refused.status_code >= 400
    record = world.records[resident.address]
    assert_nothing_secret_sent(portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, record)])
    requests = world.get(f"/residents/{resident.address}/access-requests", resident).json()
    requests = requests["data"] if isinstance(requests, dict) else requests
    assert [r["status"] for r in requests] != ["pending"]


def test_my_consents_show_status_time_and_uses_and_revoke(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "granter")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"], days=3, max_uses=5)
    survivor = world.grant(resident, world.dept, ["name"])
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("consents")
    card = page.locator(f"#consent-{consent_id}")
    card.wait_for(timeout=30_000)
    assert card.locator(".consent-status").inner_text() == ZH["consents.status.active"]
    assert card.locator(".consent-uses").inner_text() == ZH["consents.uses_of"].format(
        uses=1, max=5
    )
    assert "Housing Bureau" in card.inner_text() and ZH["field.income"] in card.inner_text()
    assert ZH["time.left_days"].format(days=2, hours=23) in card.inner_text()
    portal.axe("my-consents")
    portal.assert_fits_a_phone()
    portal.screenshot("my-consents")

    card.get_by_role("button", name=ZH["consents.revoke"].format(consent=consent_id)).click()
    said = ZH["consents.rotated"].format(consent=consent_id, version=2)
    page.locator("#consents-said").filter(has_text=said).wait_for(timeout=60_000)
    status = card.locator(".consent-status")
    page.wait_for_function(
        "([el, want]) => el.innerText === want",
        arg=[status.element_handle(), ZH["consents.status.revoked"]],
        timeout=30_000,
    )
    assert card.get_by_role("button").count() == 0
    portal.axe("my-consents-revoked")
    portal.screenshot("my-consents-revoked")
    portal.assert_clean()

    served = world.get(f"/consents/{consent_id}", resident).json()
    assert served["status"] == "revoked"
    refused = world.query(world.dept, resident, consent_id, ["income"])
    assert refused.status_code >= 400
    # Rotated as `consent revoke` does: version 2 under fresh keys, a fresh salt for the
    # exposed field only, and the surviving consent re-wrapped for the new keys.
    assert page.locator("#consents-said").inner_text() == said
    record_version = ZH["record.version"].format(version=2)
    portal.go("record")
    page.locator("#record-version").filter(has_text=record_version).wait_for(timeout=30_000)
    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    rotated = RecordVersion.open(
        stored["fields"], resident, resident=resident.address, version=2, root=stored["root"]
    )
    first = world.records[resident.address]
    assert {n: v.value for n, v in rotated.values().items()} == VALUES
    assert rotated.values()["income"].salt != first.values()["income"].salt
    assert rotated.values()["name"].salt == first.values()["name"].salt
    assert all(rotated.field_key(n) != first.field_key(n) for n in VALUES)
    read = world.query(world.dept, resident, survivor, ["name"])
    assert read.status_code == 200, read.text
    assert int(read.json()["fields"]["name"]["version"]) == 2
    assert_nothing_secret_sent(
        portal,
        [*VALUES.values(), PASSWORD, *secrets_of(resident, first), *secrets_of(resident, rotated)],
    )


def test_a_decline_is_signed_with_its_reason_and_another_identitys_key_file_is_refused(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "decliner")
    _, other = enrolled(world, tmp_path, "other")
    assert world.upload(resident, VALUES).status_code == 200
    file_request(world, resident, ["phone"])
    page = portal.page
    portal.open()
    page.get_by_label(ZH["signin.keystore"]).set_input_files(
        [str(folder / SIGNING_KEY_FILE), str(other / ENCRYPTION_KEY_FILE)]
    )
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.get_by_role("alert").filter(has_text=ZH["error.bad_file"]).wait_for(timeout=60_000)
    assert not any(r["url"].endswith("/auth/challenge") for r in portal.requests)

    sign_in_resident(portal, folder)
    portal.go("requests")
    card = page.locator(".request")
    card.wait_for(timeout=30_000)
    # Approving a field the record lacks is refused in the browser, in words.
    card.get_by_role("button", name=ZH["requests.approve_all"]).click()
    missing = ZH["requests.missing_fields"].format(version=1, fields="phone")
    card.get_by_role("alert").filter(has_text=missing).wait_for(timeout=30_000)
    card.get_by_label(ZH["requests.decline_reason"]).select_option("TOO_MANY_FIELDS")
    card.get_by_role("button", name=ZH["requests.decline"]).click()
    page.locator("#requests-empty").wait_for(timeout=60_000)
    reason = ZH["requests.reason.TOO_MANY_FIELDS"]
    assert page.locator("#requests-said").inner_text() == ZH["requests.declined"].format(
        reason=reason
    )
    # Declined on chain: both sides see it so, with the reason; listed as answered here.
    (asked,) = world.get(f"/residents/{resident.address}/access-requests", resident).json()["data"]
    assert (asked["status"], asked["reason"]) == ("declined", "TOO_MANY_FIELDS")
    (filed,) = [
        r
        for r in world.get("/access-requests", world.dept).json()["data"]
        if r["request_id"] == asked["request_id"]
    ]
    assert filed["status"] == "declined"
    answered = page.locator(f"#answered-{asked['request_id']}")
    assert answered.locator(".answered-status").inner_text() == ZH["requests.status.declined"]
    portal.axe("requests-answered")
    portal.go("consents")
    page.locator("#consents-empty").wait_for(timeout=30_000)
    consents = world.get(f"/residents/{resident.address}/consents", resident).json()
    assert (consents["data"] if isinstance(consents, dict) else consents) == []
    portal.assert_clean()


def test_a_record_without_the_residents_own_signed_commit_is_not_shown(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    """The server (here: a route that alters its answer) cannot swap in envelopes or an
    unsigned version: the browser checks the resident's CommitRecord as the CLI does."""
    resident, folder = enrolled(world, tmp_path, "guarded")
    assert world.upload(resident, VALUES).status_code == 200
    swapped = world.get(f"/residents/{resident.address}/record", resident).json()
    del swapped["commit"]  # envelopes, version and root as served, but unsigned

    def altered(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(swapped))

    portal.page.route(f"**/residents/{resident.address}/record", altered)
    portal.open()
    page = portal.page
    page.get_by_label(ZH["signin.keystore"]).set_input_files(
        [str(folder / SIGNING_KEY_FILE), str(folder / ENCRYPTION_KEY_FILE)]
    )
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.locator("#record-error").filter(has_text=ZH["error.untrusted_record"]).wait_for(
        timeout=60_000
    )
    assert page.get_by_label(ZH["field.income"], exact=True).count() == 0


def test_rotation_refuses_a_consent_whose_terms_differ_from_the_signed_grant(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    """The served list says the consent covered `name` only, its Grant signs `income`: the
    revocation stands, the rotation is refused in words, no new version is committed."""
    resident, folder = enrolled(world, tmp_path, "misled")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    listed = world.get(f"/residents/{resident.address}/consents", resident).json()
    for consent in listed["data"]:
        consent["fields"] = ["name"]

    def altered(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(listed))

    portal.page.route(f"**/residents/{resident.address}/consents", altered)
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("consents")
    card = page.locator(f"#consent-{consent_id}")
    card.wait_for(timeout=30_000)
    card.get_by_role("button", name=ZH["consents.revoke"].format(consent=consent_id)).click()
    prefix = ZH["consents.rotation_failed"].split("{detail}")[0].format(consent=consent_id)
    page.get_by_role("alert").filter(has_text=prefix).wait_for(timeout=60_000)
    assert world.get(f"/consents/{consent_id}", resident).json()["status"] == "revoked"
    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    assert stored["version"] == 1


def test_a_reload_keeps_the_screen_and_token_and_asks_only_for_the_password(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "reloader")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("consents")
    page.locator(f"#consent-{consent_id}").wait_for(timeout=30_000)
    signed_in = [r for r in portal.requests if r["url"].endswith("/auth/token")]

    page.reload()
    page.get_by_role("heading", name=ZH["unlock.heading"]).wait_for(timeout=30_000)
    assert resident.address in page.locator("main").inner_text()
    portal.axe("unlock")
    page.get_by_label(ZH["signin.password"], exact=True).fill("not the password")
    page.get_by_role("button", name=ZH["unlock.submit"]).click()
    page.get_by_role("alert").filter(has_text=ZH["error.wrong_password"]).wait_for(timeout=60_000)
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["unlock.submit"]).click()
    # Back on the same screen, with the same token: no second sign-in.
    page.locator(f"#consent-{consent_id}").wait_for(timeout=60_000)
    assert page.locator('#nav-consents[aria-current="page"]').count() == 1
    assert [r for r in portal.requests if r["url"].endswith("/auth/token")] == signed_in
    # Nothing decrypted was kept: the tab's storage holds the files as they were chosen.
    kept = page.evaluate("sessionStorage.getItem('portal.session')")
    record = world.records[resident.address]
    for secret in [*VALUES.values(), PASSWORD, *secrets_of(resident, record)]:
        assert secret.lower().removeprefix("0x") not in kept.lower()

    page.get_by_role("button", name=ZH["session.signout"]).click()
    page.get_by_role("heading", name=ZH["signin.open.heading"]).wait_for(timeout=30_000)
    assert page.evaluate("sessionStorage.getItem('portal.session')") is None
    page.reload()
    page.get_by_role("heading", name=ZH["signin.open.heading"]).wait_for(timeout=30_000)
    portal.assert_clean()


def test_a_contract_refusal_is_said_in_the_screens_language_from_the_message_table(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    """The department withdraws while the resident looks at its request: the resident's
    decline is refused on chain (ConsentLedgerRequestAnswered, 409), and the screen says
    the table's Chinese sentence, not the server's English detail."""
    resident, folder = enrolled(world, tmp_path, "late")
    assert world.upload(resident, VALUES).status_code == 200
    file_request(world, resident, ["income"])
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("requests")
    card = page.locator(".request")
    card.wait_for(timeout=30_000)
    (asked,) = world.get(f"/residents/{resident.address}/access-requests", resident).json()["data"]
    request_id = asked["request_id"]
    body = world.body(
        world.dept, "WithdrawRequest", {"department": world.dept.address, "requestId": request_id}
    )
    withdrawn = world.post(f"/access-requests/{request_id}/withdraw", world.dept, body)
    assert withdrawn.status_code == 200, withdrawn.text

    card.get_by_role("button", name=ZH["requests.decline"]).click()
    alert = card.get_by_role("alert")
    alert.wait_for(timeout=60_000)
    said = alert.inner_text()
    template = json.loads(
        (Path(__file__).resolve().parents[2] / "api/locale/zh-CN.json").read_text("utf-8")
    )["errors"]["ConsentLedgerRequestAnswered"]
    for words in re.split(r"\{[^}]*\}", template):
        assert words in said, (words, said)
    assert "{" not in said and "already answered" not in said
    (after,) = world.get(f"/residents/{resident.address}/access-requests", resident).json()["data"]
    assert after["status"] == "withdrawn"
