"""The whole story in the browser, three people in three browsers on one served node.

The admin sets up by API (a registrar enrols, a department, an issuer, an auditor).
Then, with the portal alone: a resident makes a wallet and a record; the department asks
for three fields; the resident approves two; the department reads them and sees the
issuer's attestation verified on chain; the resident revokes; the department is refused
in words; the resident's log shows both; the auditor verifies the chain and charts it.
Every request any of the three browsers sent is searched for every plaintext value, key
and salt: none is there. The README's screenshots come from this run (README, "Portal").
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.messages import explain
from ledger.codec import to_hex
from tests.api.conftest import FAST_SCRYPT, World
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_portal_department import attested
from tests.portal.test_portal_sign_in import create_wallet
from wallets.identity import Identity
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE
from wallets.record import RecordVersion

VALUES = {"name": "林小雨", "income": "61000", "address": "西湖区文三路 90 号"}


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    with admin_world(served) as world:
        world.grant_role("issuer", "issuer", ["income"])
        world.grant_role("auditor", "auditor")
        yield world


def saved(who: Identity, folder: Path) -> list[Path]:
    who.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return [folder / SIGNING_KEY_FILE, folder / ENCRYPTION_KEY_FILE]


def sign_in(portal: Watched, files: list[Path], lang: dict[str, str] = ZH) -> None:
    page = portal.page
    page.get_by_label(lang["signin.keystore"]).set_input_files([str(f) for f in files])
    page.get_by_label(lang["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=lang["signin.submit"], exact=True).click()
    page.locator("#session-address").wait_for(timeout=90_000)


def enrol(world: World, folder: Path) -> Identity:
    """The registrar enrols the address and X25519 key of a wallet made in the browser
    (what the resident shows at the counter); the wallet then opens in Python too."""
    document = json.loads((folder / ENCRYPTION_KEY_FILE).read_text())
    address = document["address"]
    answer = world.post(
        "/residents",
        world.registrar,
        world.body(
            world.registrar,
            "EnrollResident",
            {
                "resident": address,
                "idCommitment": secrets.token_bytes(32),
                "encryptionKey": document["public_keys"]["x25519"],
            },
        ),
    )
    assert answer.status_code == 201, answer.text
    resident = Identity.load(folder, PASSWORD)
    assert resident.address == address
    world.actors["resident"] = resident
    return resident


def stored_record(world: World, resident: Identity) -> RecordVersion:
    """The latest version opened by the resident's own wallet in Python (the CLI's way)."""
    stored = world.get(f"/residents/{resident.address}/record", resident).json()
    return RecordVersion.open(
        stored["fields"],
        resident,
        resident=resident.address,
        version=int(stored["version"]),
        root=stored["root"],
    )


def secrets_in(resident: Identity, dept: Identity, versions: list[RecordVersion]) -> list[str]:
    found = [
        PASSWORD,
        resident.account.key.hex(),
        to_hex(resident.x25519_private_key.private_bytes_raw()),
        dept.account.key.hex(),
        to_hex(dept.x25519_private_key.private_bytes_raw()),
    ]
    for value in VALUES.values():
        found += [value, json.dumps(value)[1:-1]]
    for record in versions:
        found += [record.field_key(n).hex() for n in record.field_names]
        found += [to_hex(v.salt) for v in record.values().values()]
    return found


@pytest.fixture
def browsers(chromium: Any, served: Served, artefacts: Path) -> Iterator[dict[str, Watched]]:
    from tests.portal.conftest import _RECORD, PHONE

    opened: dict[str, Watched] = {}
    contexts = []
    for who in ("resident", "dept", "auditor"):
        viewport = PHONE if who == "resident" else {"width": 1100, "height": 900}
        context = chromium.new_context(viewport=viewport, accept_downloads=True)
        context.add_init_script(_RECORD)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page, served.url, artefacts)
        page.on(
            "console",
            lambda m, w=watched: w.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e, w=watched: w.console_errors.append(str(e)))
        page.on(
            "request",
            lambda r, w=watched: w.requests.append(
                {"url": r.url, "headers": r.headers, "body": r.post_data or ""}
            ),
        )
        opened[who] = watched
    try:
        yield opened
    finally:
        for context in contexts:
            context.close()


def test_the_whole_story_in_three_browsers(
    browsers: dict[str, Watched], world: World, tmp_path: Path
) -> None:
    resident_view, dept_view, auditor_view = (browsers[w] for w in ("resident", "dept", "auditor"))
    me, clerk, auditor = resident_view.page, dept_view.page, auditor_view.page

    # -- the resident makes a wallet in the browser; the registrar enrols it -------------
    resident_view.open()
    keystore = create_wallet(resident_view, tmp_path)
    resident = enrol(world, keystore.parent)
    me.reload()
    sign_in(resident_view, [keystore, keystore.parent / ENCRYPTION_KEY_FILE])
    assert me.locator("#session-address").inner_text() == resident.address

    # -- ... and a record, one field per version, encrypted in the browser -------------
    me.locator("#record-version").wait_for(timeout=30_000)
    for version, (name, value) in enumerate(VALUES.items(), start=1):
        me.get_by_label(ZH["record.add.name"]).fill(name)
        me.get_by_label(ZH["record.add.value"]).fill(value)
        me.get_by_role("button", name=ZH["record.commit"]).click()
        saved_text = ZH["record.saved"].format(version=version)
        me.locator("#record-saved").filter(has_text=saved_text).wait_for(timeout=60_000)
    first = stored_record(world, resident)
    assert {n: v.value for n, v in first.values().items()} == VALUES  # Python reads it
    # The issuer attests the income (the resident showed it the value and its salt).
    world.records[resident.address] = first
    attested(world, world.issuer, resident, "income")

    # -- the department asks for three fields -------------------------------------------
    dept_view.open()
    sign_in(dept_view, saved(world.dept, tmp_path / "dept"))
    clerk.get_by_label(ZH["dept.request.resident"]).fill(resident.address)
    for name in VALUES:
        clerk.get_by_label(ZH[f"field.{name}"], exact=True).check()
    clerk.get_by_label(ZH["dept.request.purpose"]).select_option(label=ZH["purpose.HOUSING"])
    clerk.get_by_label(ZH["dept.request.days"]).fill("30")
    clerk.get_by_role("button", name=ZH["dept.request.submit"]).click()
    clerk.locator("#dept-request-said").wait_for(timeout=60_000)

    # -- the resident approves two of them ---------------------------------------------
    resident_view.go("requests")
    card = me.locator(".request")
    card.wait_for(timeout=30_000)
    assert "Housing Bureau" in card.inner_text()
    card.get_by_label(ZH["field.address"], exact=True).uncheck()
    card.get_by_role("button", name=ZH["requests.approve_chosen"]).click()
    me.locator("#requests-said").wait_for(timeout=60_000)
    (consent,) = world.get(f"/residents/{resident.address}/consents", resident).json()["data"]
    consent_id = int(consent["consent_id"])
    assert sorted(consent["fields"]) == ["income", "name"]

    # -- the department reads them, the attestation verified on chain in its browser ------
    dept_view.go("dept-consents")
    held = clerk.locator(f"#dept-consent-{consent_id}")
    held.wait_for(timeout=30_000)
    held.get_by_role("button", name=ZH["dept.read.submit"].format(consent=consent_id)).click()
    clerk.locator(f"#read-result-{consent_id}").wait_for(timeout=60_000)
    for name in ("name", "income"):
        shown = clerk.locator(f"#granted-{consent_id}-{name} .granted-value").inner_text()
        assert shown == VALUES[name]
    income = clerk.locator(f"#granted-{consent_id}-income").inner_text()
    assert "✓" in income
    assert ZH["dept.read.verified"].format(issuer=world.issuer.address) in income
    assert clerk.locator(f"#granted-{consent_id}-address").count() == 0
    dept_view.axe("story-dept-read")
    dept_view.screenshot("story-dept-read")

    # -- the resident sees the read, then revokes ----------------------------------------
    resident_view.go("consents")
    mine = me.locator(f"#consent-{consent_id}")
    mine.wait_for(timeout=30_000)
    uses = mine.locator(".consent-uses")
    assert uses.inner_text() == ZH["consents.uses_unlimited"].format(uses=1)
    me.get_by_role("button", name=ZH["lang.label"]).click()  # the README's shot is in English
    me.get_by_role("heading", name=EN["consents.heading"]).wait_for(timeout=10_000)
    resident_view.screenshot("story-resident-consents")
    me.locator("main").screenshot(path=str(resident_view.artefacts / "resident-dashboard.png"))
    me.get_by_role("button", name=EN["lang.label"]).click()
    me.get_by_role("heading", name=ZH["consents.heading"]).wait_for(timeout=10_000)
    mine.get_by_role("button", name=ZH["consents.revoke"].format(consent=consent_id)).click()
    rotated = ZH["consents.rotated"].format(consent=consent_id, version=4)
    me.locator("#consents-said").filter(has_text=rotated).wait_for(timeout=90_000)
    rotated_record = stored_record(world, resident)
    assert rotated_record.version == 4

    # -- the department is refused, in words ----------------------------------------------
    held.get_by_role("button", name=ZH["dept.read.submit"].format(consent=consent_id)).click()
    refused = explain({"status": 403, "reason": "revoked"}, language="zh-CN")  # api/locale
    held.get_by_role("alert").filter(has_text=refused).wait_for(timeout=60_000)

    # -- the resident's log shows both ---------------------------------------------------
    resident_view.go("log")
    me.locator("#log-entries").wait_for(timeout=30_000)
    kinds = [e.get_attribute("data-kind") for e in me.locator(".log-entry").all()]
    assert kinds[:2] == ["refused", "read"], kinds  # newest first
    refusal = me.locator(".log-entry").first.locator(".log-outcome").inner_text()
    assert ZH["audit.reason.revoked"] in refusal
    assert "Housing Bureau" in me.locator(".log-entry").first.inner_text()
    resident_view.axe("story-resident-log")
    resident_view.assert_fits_a_phone()
    resident_view.screenshot("story-resident-log")

    # -- meanwhile, by API: a second department reads for other residents -----------------
    tax = world.register_department("dept2", "Tax Office", "TX")
    for n in range(2):
        other = world.enroll(f"neighbour{n}")
        assert world.upload(other, {"name": f"Resident {n}", "income": "48000"}).status_code == 200
        granted = world.grant(other, tax, ["income"], max_uses=2)
        assert world.query(tax, other, granted, ["name"]).status_code == 403  # not granted
        for _ in range(3):  # the third is one use too many
            world.query(tax, other, granted, ["income"])

    # -- the auditor verifies and charts it -----------------------------------------------
    auditor_view.open()
    sign_in(auditor_view, saved(world.auditor, tmp_path / "auditor")[:1])
    auditor_view.go("audit-verify")
    auditor.get_by_role("button", name=ZH["audit.verify.run"]).click()
    auditor.locator("#verify-ok").wait_for(timeout=120_000)
    auditor_view.go("audit-charts")
    auditor.locator("#refusals-table").wait_for(timeout=60_000)
    refusals = auditor.locator("#refusals-table").inner_text()
    for reason in ("revoked", "uses_exhausted", "field_not_in_scope"):
        assert ZH[f"audit.reason.{reason}"] in refusals, refusals
    assert "Housing Bureau" in auditor.locator("#accesses-table").inner_text()
    auditor.get_by_role("button", name=ZH["lang.label"]).click()
    auditor.get_by_role("heading", name=EN["audit.charts.heading"]).wait_for(timeout=10_000)
    auditor.locator("#accesses-table").filter(has_text="Tax Office").wait_for(timeout=30_000)
    auditor_view.axe("story-auditor-charts")
    auditor_view.screenshot("story-auditor-charts")
    # The README's two pictures: the screens themselves, without the session card.
    auditor.locator("#screen").screenshot(path=str(auditor_view.artefacts / "auditor-charts.png"))

    # -- no browser sent a value, a key or a salt ------------------------------------------
    assert sum(len(v.requests) for v in browsers.values()) > 50  # the story happened
    assert_nothing_secret_sent(
        [resident_view, dept_view, auditor_view],
        secrets_in(resident, world.dept, [first, rotated_record]),
    )
    auditor_view.assert_clean()
    # The one 404 is the record asked for before its first version (the CLI asks so too).
    not_found = "Failed to load resource: the server responded with a status of 404 (Not Found)"
    assert resident_view.console_errors == [not_found]
    assert resident_view.csp_violations() == dept_view.csp_violations() == []
    forbidden = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert [e for e in dept_view.console_errors if e != forbidden] == []
