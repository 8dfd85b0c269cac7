"""The resident's log, renewal and reload screens in a browser on a served node: the
access log shows what GET /residents/{a}/access-log serves, in words and with its
receipts; an expired consent renewed in the browser is a new Grant the department reads
with; a reload mid-approval keeps the ticked fields; nothing the browser sends or keeps
holds a field value or a key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.embedded import EmbeddedChain
from tests.api.conftest import World
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_portal_resident import (
    VALUES,
    enrolled,
    file_request,
    secrets_of,
    sign_in_resident,
)
from wallets.grants import open_granted_fields

DAY = 86400


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar and a department by API, as the admin sets them up."""
    with admin_world(served) as world:
        yield world


def listed(answer: Any) -> list[dict[str, Any]]:
    body = answer.json()
    return list(body["data"] if isinstance(body, dict) else body)


def travel(served: Served, world: World, seconds: int) -> None:
    """Chain time moved ``seconds`` forward on the served node: the node stopped, its
    embedded chain opened here and moved (``time_travel`` keeps the offset on disk), the
    node served again at the same address. Tokens are signed for again afterwards."""
    before = world.now()
    served.stop()
    with EmbeddedChain(served.data_dir / "chain.sqlite3", block_period=0) as chain:
        chain.time_travel(seconds)
    served.start()
    world.tokens.clear()
    assert world.now() >= before + seconds


def test_the_log_shows_reads_and_refusals_in_words_with_their_receipts(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "watched")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    out_of_scope = world.query(world.dept, resident, consent_id, ["address"])
    assert out_of_scope.status_code == 403, out_of_scope.text
    assert world.revoke(resident, consent_id).status_code < 300
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 403
    served = listed(world.get(f"/residents/{resident.address}/access-log", resident))
    assert [(e["type"], e["reason"]) for e in served] == [
        ("AccessDenied", "revoked"),
        ("AccessDenied", "field_not_in_scope"),
        ("AccessLogged", None),
    ]

    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("log")
    page.locator("#log-entries").wait_for(timeout=30_000)
    shown = page.locator(".log-entry")
    assert shown.count() == 3
    for index, entry in enumerate(served):
        receipt = entry["receipt"]
        item = shown.nth(index)  # newest first, as served
        assert item.get_attribute("id") == f"log-{receipt['block_number']}-{receipt['log_index']}"
        text = item.inner_text()
        assert "Housing Bureau" in text
        assert ZH["purpose.HOUSING"] in text
        assert item.locator(".log-fields").inner_text() == ", ".join(
            ZH[f"field.{n}"] for n in entry["fields"]
        )
        # The receipt as the chain logged it, to check on chain.
        assert item.locator(".log-tx").inner_text() == receipt["tx_hash"]
        assert ZH["log.block"].format(block=receipt["block_number"]) in text
        when = datetime.fromtimestamp(entry["block_timestamp"], UTC)
        stamp = item.locator("time").get_attribute("datetime") or ""
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) == when
    read, scope, revoked = (shown.nth(i) for i in (2, 1, 0))
    assert read.get_attribute("data-kind") == "read"
    assert (
        read.locator(".log-outcome").inner_text().strip().endswith(ZH["log.read_use"].format(use=1))
    )
    for item, reason in ((scope, "field_not_in_scope"), (revoked, "revoked")):
        # A refusal says so in words and with its own mark, not by colour alone.
        assert item.get_attribute("data-kind") == "refused"
        outcome = item.locator(".log-outcome").inner_text()
        assert ZH["log.refused_because"].format(reason=ZH[f"audit.reason.{reason}"]) in outcome
        assert "✕" in outcome
    assert ZH["field.address"] in scope.inner_text()
    portal.axe("resident-log")
    portal.assert_fits_a_phone()
    portal.screenshot("resident-log")
    # In English too, every word from the strings (no key shown).
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["log.heading"], exact=True).wait_for(timeout=10_000)
    reason = EN["audit.reason.field_not_in_scope"]
    assert EN["log.refused_because"].format(reason=reason) in scope.inner_text()
    text = page.locator("main").inner_text()
    assert not re.search(r"\b(nav|log|reason|field|purpose)\.[a-z_]+", text), text
    portal.axe("resident-log-en")
    portal.assert_clean()
    assert_nothing_secret_sent(
        portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, world.records[resident.address])]
    )


def test_an_expired_consent_renewed_in_the_browser_is_a_new_grant_the_department_reads(
    portal: Watched, world: World, served: Served, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "renewer")
    assert world.upload(resident, VALUES).status_code == 200
    old = world.grant(resident, world.dept, ["income"], days=2)
    travel(served, world, 3 * DAY)
    assert world.get(f"/consents/{old}", resident).json()["status"] == "expired"
    assert world.query(world.dept, resident, old, ["income"]).status_code == 403

    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("consents")
    card = page.locator(f"#consent-{old}")
    card.wait_for(timeout=30_000)
    assert card.locator(".consent-status").inner_text() == ZH["consents.status.expired"]
    days = card.get_by_label(ZH["consents.renew_days"].format(consent=old))
    assert days.input_value() == "2"  # the original duration by default
    portal.axe("my-consents-expired")
    portal.assert_fits_a_phone()
    days.fill("10")
    card.get_by_role("button", name=ZH["consents.renew"].format(consent=old)).click()
    said = page.locator("#consents-said")
    said.wait_for(timeout=60_000)
    assert portal.progress_seen(ZH["consents.renewing"])

    consents = listed(world.get(f"/residents/{resident.address}/consents", resident))
    assert len(consents) == 2
    renewed = next(c for c in consents if int(c["consent_id"]) != old)
    new = int(renewed["consent_id"])
    assert said.inner_text() == ZH["consents.renewed"].format(consent=old, days=10, renewed=new)
    page.locator(f"#consent-{new}").wait_for(timeout=30_000)
    portal.screenshot("my-consents-renewed")
    portal.assert_clean()
    assert renewed["department"] == world.dept.address
    assert renewed["fields"] == ["income"]
    assert renewed["purpose"] == "HOUSING"
    assert renewed["valid_until"] - renewed["valid_from"] == 10 * DAY
    assert renewed["status"] == "active"
    assert world.get(f"/consents/{old}", resident).json()["status"] == "expired"

    read = world.query(world.dept, resident, new, ["income"])
    assert read.status_code == 200, read.text
    record = world.records[resident.address]
    opened = open_granted_fields(
        read.json()["fields"], resident=resident.address, identity=world.dept, root=record.root
    )
    assert opened["income"].value == VALUES["income"]  # the key the browser wrapped opens
    assert_nothing_secret_sent(portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, record)])


def test_a_reload_while_approving_a_request_keeps_the_ticked_fields(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "midway")
    assert world.upload(resident, VALUES).status_code == 200
    file_request(world, resident, ["name", "income", "address"])
    sign_in_resident(portal, folder)
    page = portal.page
    portal.go("requests")
    card = page.locator(".request")
    card.wait_for(timeout=30_000)
    card.get_by_label(ZH["field.address"], exact=True).uncheck()

    page.reload()
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["unlock.submit"]).click()
    card = page.locator(".request")
    card.wait_for(timeout=60_000)
    assert not card.get_by_label(ZH["field.address"], exact=True).is_checked()
    assert card.get_by_label(ZH["field.name"], exact=True).is_checked()
    assert card.get_by_label(ZH["field.income"], exact=True).is_checked()
    # What the tab keeps for it is the field names, nothing else.
    kept = page.evaluate(
        "Object.keys(sessionStorage).filter(k => k.startsWith('portal.request.'))"
        ".map(k => sessionStorage.getItem(k))"
    )
    assert [json.loads(k) for k in kept] == [["income", "name"]]

    card.get_by_role("button", name=ZH["requests.approve_chosen"]).click()
    page.locator("#requests-said").wait_for(timeout=60_000)
    consents = listed(world.get(f"/residents/{resident.address}/consents", resident))
    assert [sorted(c["fields"]) for c in consents] == [["income", "name"]]
    assert (
        page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('portal.request.'))")
        == []
    )
    portal.assert_clean()
    assert_nothing_secret_sent(
        portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, world.records[resident.address])]
    )


def test_unsaved_record_edits_ask_before_leaving_and_are_kept_nowhere(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "editor")
    assert world.upload(resident, VALUES).status_code == 200
    sign_in_resident(portal, folder)
    page = portal.page
    page.get_by_label(ZH["field.income"], exact=True).fill("99999")
    page.get_by_label(ZH["record.add.value"]).fill("13900139000")
    stored = page.evaluate("JSON.stringify([{...sessionStorage}, {...localStorage}])")
    assert "99999" not in stored and "13900139000" not in stored
    # Leaving now asks first (the browser's own prompt); staying keeps the edits.
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    dialog = asked.value
    assert dialog.type == "beforeunload"
    dialog.dismiss()
    assert not page.is_closed()
    assert page.get_by_label(ZH["field.income"], exact=True).input_value() == "99999"
