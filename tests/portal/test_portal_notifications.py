"""Live notifications in a browser on a served node: while the page is open, what the
chain records reaches the signed-in actor's badge and live region through
``GET /notifications/stream`` (read with fetch and the bearer token, never a token in a
URL); the list says it in words and opening it clears the badge; the stream resumes with
``Last-Event-ID`` after the server restarts and closes on sign-out. The portal's
event-stream parser reads what the server writes, cut anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from api.notifications import sse_message
from api.schemas.notifications import NotificationOut
from tests.api.conftest import FAST_SCRYPT, World
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_crypto_interop import node
from tests.portal.test_portal_resident import VALUES, enrolled, secrets_of
from wallets.identity import Identity
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE

STREAM = "/notifications/stream"
#: How long a notification may take from the API's answer to the badge: the node indexes
#: the block, the stream polls every 0.25 s, the page renders.
LIVE = 15_000
HOUSING = ("department", "Housing Bureau")


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar, the Housing Bureau, the Tax Office and an auditor, by API."""
    with admin_world(served) as world:
        world.register_department("tax", "Tax Office", "TX")
        world.grant_role("auditor", "auditor")
        yield world


def feed(world: World, who: Identity) -> list[dict[str, Any]]:
    """``who``'s notifications as the API serves them, oldest first."""
    answer = world.get("/notifications", who, limit=1000)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def is_stream(url: str) -> bool:
    return url.split("?")[0].endswith(STREAM)


def stream_requests(portal: Watched) -> list[dict[str, Any]]:
    return [r for r in portal.requests if is_stream(r["url"])]


def badge(portal: Watched) -> Any:
    return portal.page.locator("#notifications-badge")


def sign_in_with(portal: Watched, folder: Path, *, encryption: bool = True) -> Any:
    """Signed in with the key files in ``folder``; the stream's first answer."""
    page = portal.page
    files = [folder / SIGNING_KEY_FILE] + ([folder / ENCRYPTION_KEY_FILE] if encryption else [])
    portal.open()
    with page.expect_response(lambda r: is_stream(r.url), timeout=90_000) as opened:
        page.get_by_label(ZH["signin.keystore"]).set_input_files([str(f) for f in files])
        page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
        page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.locator("#session-address").wait_for(timeout=60_000)
    return opened.value


def world_token_of(portal: Watched) -> str:
    """The bearer token the page signed in with (kept in the tab's session storage)."""
    kept = portal.page.evaluate("sessionStorage.getItem('portal.session')")
    return str(json.loads(kept)["token"]["access_token"])


def assert_entry(
    entry: Any,
    served: dict[str, Any],
    *,
    kind: str,
    who: tuple[str, str],
    lang: dict[str, str] = ZH,
) -> None:
    """A listed notification says what the API's says, in words; ``who`` is the other
    party as ``(notifications.<label>, shown as)``."""
    assert entry.get_attribute("data-kind") == served["kind"] == kind
    assert entry.locator(".notification-kind").inner_text() == lang[f"notifications.kind.{kind}"]
    label, name = who
    assert entry.locator("dt").first.inner_text() == lang[f"notifications.{label}"]
    assert entry.locator(".notification-who").inner_text() == name
    assert entry.locator(".notification-fields").inner_text() == ", ".join(
        lang[f"field.{n}"] for n in served["fields"]
    )
    purpose = entry.locator(".notification-purpose")
    if served["purpose"] is None:  # a refusal names the fields asked, not a purpose
        assert purpose.count() == 0
    else:
        assert purpose.inner_text() == lang[f"purpose.{served['purpose']}"]
    assert entry.locator(".notification-consent").inner_text() == str(served["consent_id"])
    block = lang["notifications.block"].format(block=served["block_number"])
    assert entry.locator(".notification-block").inner_text() == block
    stamp = entry.locator("time").get_attribute("datetime") or ""
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert when == datetime.fromtimestamp(served["created_at"], UTC)


def test_an_access_recorded_while_the_page_is_open_raises_the_badge_and_the_list_clears_it(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "watcher")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income", "name"])
    page = portal.page

    opened = sign_in_with(portal, folder)
    assert opened.status == 200
    assert opened.headers["content-type"].startswith("text/event-stream")
    first = opened.request.headers
    # The bearer token in its header, never in the URL; a list never read starts at the top.
    assert first["authorization"] == f"Bearer {world_token_of(portal)}"
    assert first.get("last-event-id") == "0-0"
    assert "?" not in opened.url
    page.locator("#record-version").wait_for(timeout=60_000)
    expect(page.locator("#nav-notifications")).to_be_visible()
    expect(badge(portal)).to_have_count(0)  # nothing yet: a grant is the department's news

    # A department reads the record through the real API while the page stays open.
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    expect(badge(portal)).to_have_text("1", timeout=LIVE)
    [read] = feed(world, resident)
    assert read["kind"] == "access_logged" and read["department"] == world.dept.address
    kind = ZH["notifications.kind.access_logged"]
    said = ZH["notifications.live.one_from"].format(kind=kind, who=HOUSING[1])
    live = page.locator("#notifications-live")
    assert live.get_attribute("aria-live") == "polite"
    expect(live).to_have_text(said, timeout=LIVE)
    # The link says the count in words too (the digit is hidden from screen readers).
    link = page.locator("#nav-notifications")
    unread = ZH["nav.notifications"] + ZH["notifications.unread"].format(count=1)
    spaced = r"\s*".join(re.escape(c) for c in unread.replace(" ", ""))
    expect(link).to_have_accessible_name(re.compile(spaced))
    portal.assert_fits_a_phone()
    portal.screenshot("notifications-badge")
    assert len(stream_requests(portal)) == 1  # one stream, not polling

    # Opening the list shows it in words and marks it read: the badge clears.
    link.focus()
    page.keyboard.press("Enter")
    page.locator('#nav-notifications[aria-current="page"]').wait_for(timeout=10_000)
    heading = page.get_by_role("heading", name=ZH["notifications.heading"], exact=True)
    expect(heading).to_be_focused(timeout=10_000)
    entry = page.locator(f"#notification-{read['id']}")
    entry.wait_for(timeout=30_000)
    assert_entry(entry, read, kind="access_logged", who=HOUSING)
    assert entry.locator(".notification-new").inner_text() == ZH["notifications.new"]
    expect(badge(portal)).to_have_count(0)
    expect(page.locator("#notifications-status")).to_have_text(ZH["notifications.status.open"])
    key = f"portal.notifications.read.{resident.address.lower()}"
    assert page.evaluate(f"localStorage.getItem('{key}')") == read["id"]
    portal.axe("notifications")
    portal.assert_fits_a_phone()
    portal.screenshot("notifications-list")

    # Elsewhere again, a second event raises the badge again; reopening shows both.
    portal.go("log")
    assert world.query(world.dept, resident, consent_id, ["address"]).status_code == 403
    expect(badge(portal)).to_have_text("1", timeout=LIVE)
    portal.go("notifications")
    refused = feed(world, resident)[-1]
    assert refused["kind"] == "access_denied" and refused["reason"] == "field_not_in_scope"
    entries = page.locator(".notification")
    expect(entries).to_have_count(2, timeout=30_000)
    assert entries.nth(0).get_attribute("id") == f"notification-{refused['id']}"  # newest first
    assert entries.nth(1).get_attribute("id") == f"notification-{read['id']}"
    reason = ZH["audit.reason.field_not_in_scope"]
    assert entries.nth(0).locator(".notification-reason").inner_text() == reason
    assert entries.nth(0).locator(".notification-new").count() == 1
    assert entries.nth(1).locator(".notification-new").count() == 0  # read before
    expect(badge(portal)).to_have_count(0)

    # While the list is open, what arrives joins it at the top, already read.
    assert world.query(world.dept, resident, consent_id, ["name"]).status_code == 200
    expect(entries).to_have_count(3, timeout=LIVE)
    newest = feed(world, resident)[-1]
    assert entries.nth(0).get_attribute("id") == f"notification-{newest['id']}"
    expect(badge(portal)).to_have_count(0)
    assert page.evaluate(f"localStorage.getItem('{key}')") == newest["id"]

    # In English, every word from the strings.
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["notifications.heading"], exact=True).wait_for()
    assert_entry(entries.nth(1), refused, kind="access_denied", who=HOUSING, lang=EN)
    text = page.locator("main").inner_text()
    assert not re.search(r"\b(nav|notifications|field|purpose|audit)\.[a-z_.]+", text), text
    portal.axe("notifications-en")
    portal.assert_clean()
    assert_nothing_secret_sent(
        portal, [*VALUES.values(), PASSWORD, *secrets_of(resident, world.records[resident.address])]
    )

    # Signing out closes the stream, and nothing opens it again.
    asked = len(stream_requests(portal))
    with page.expect_event("requestfailed", lambda r: is_stream(r.url), timeout=10_000) as ended:
        page.get_by_role("button", name=EN["session.signout"]).click()
    assert ended.value.failure == "net::ERR_ABORTED"
    page.get_by_role("heading", name=EN["signin.open.heading"]).wait_for(timeout=30_000)
    expect(page.locator("#notifications-live")).to_have_count(0)
    # A reconnection would come within the server's retry (1 s); three seconds see none.
    page.wait_for_timeout(3000)
    assert len(stream_requests(portal)) == asked


def test_a_department_sees_consents_granted_before_and_while_it_is_signed_in(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    tax = world.tax
    folder = tmp_path / "tax"
    tax.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    resident, _ = enrolled(world, tmp_path, "taxpayer")
    assert world.upload(resident, VALUES).status_code == 200
    earlier = world.grant(resident, tax, ["income"])

    sign_in_with(portal, folder)
    page = portal.page
    # Granted before this browser ever showed the list: unread.
    expect(badge(portal)).to_have_text("1", timeout=LIVE)
    said = ZH["notifications.live.one_from"].format(
        kind=ZH["notifications.kind.consent_granted"], who=resident.address
    )
    live = page.locator("#notifications-live")
    expect(live).to_have_text(said, timeout=LIVE)
    live.locator("p").evaluate("p => p.setAttribute('data-first', '')")
    later = world.grant(resident, tax, ["address", "income"])
    expect(badge(portal)).to_have_text("2", timeout=LIVE)
    # Said again, in a new node of its own (the same words are announced again).
    expect(live.locator("p:not([data-first])")).to_have_text(said, timeout=LIVE)

    portal.go("notifications")
    granted = feed(world, tax)
    assert [(n["kind"], n["consent_id"]) for n in granted] == [
        ("consent_granted", earlier),
        ("consent_granted", later),
    ]
    entries = page.locator(".notification")
    expect(entries).to_have_count(2, timeout=30_000)
    for entry, served in zip([entries.nth(1), entries.nth(0)], granted, strict=True):
        assert entry.get_attribute("id") == f"notification-{served['id']}"
        assert_entry(entry, served, kind="consent_granted", who=("resident", resident.address))
        assert entry.locator(".notification-new").count() == 1
    expect(badge(portal)).to_have_count(0)
    portal.axe("notifications-department")
    portal.assert_fits_a_phone()
    portal.screenshot("notifications-department")

    # A revocation reaches it on another screen.
    portal.go("dept-consents")
    assert world.revoke(resident, earlier).status_code < 300
    expect(badge(portal)).to_have_text("1", timeout=LIVE)
    portal.go("notifications")
    first = page.locator(".notification").first
    expect(first).to_have_attribute("data-kind", "consent_revoked", timeout=30_000)
    assert (
        first.locator(".notification-kind").inner_text() == ZH["notifications.kind.consent_revoked"]
    )
    assert first.locator(".notification-consent").inner_text() == str(earlier)
    portal.assert_clean()


def test_the_stream_resumes_after_a_restart_with_last_event_id_and_misses_nothing(
    portal: Watched, world: World, served: Served, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "resumer")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    page = portal.page
    sign_in_with(portal, folder)
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    expect(badge(portal)).to_have_text("1", timeout=LIVE)
    [seen] = feed(world, resident)

    # The server restarts (the stream drops); until the test lets it, the page cannot
    # reconnect, and an access is recorded meanwhile: only Last-Event-ID brings it back.
    page.route(f"**{STREAM}", lambda route: route.abort())
    served.stop()
    served.start()
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    missed = feed(world, resident)[-1]
    refused = lambda r: is_stream(r.url) and r.failure == "net::ERR_FAILED"  # noqa: E731
    with page.expect_event("requestfailed", refused, timeout=60_000):
        pass  # a reconnection tried and held back (those queued meanwhile count)
    expect(badge(portal)).to_have_text("1")
    before = len(stream_requests(portal))
    page.unroute(f"**{STREAM}")
    expect(badge(portal)).to_have_text("2", timeout=45_000)
    resumed = stream_requests(portal)[before:]
    assert resumed and resumed[-1]["headers"].get("last-event-id") == seen["id"]
    assert all(r["headers"].get("authorization", "").startswith("Bearer ") for r in resumed)

    portal.go("notifications")
    entries = page.locator(".notification")
    expect(entries).to_have_count(2, timeout=30_000)
    assert entries.nth(0).get_attribute("id") == f"notification-{missed['id']}"
    # Only the connection failures the test caused were reported.
    assert all(e.startswith("Failed to load resource: net::") for e in portal.console_errors)

    # A reload keeps what was read: unlocked again, the badge stays clear, and the stream
    # starts after the last notification read.
    with page.expect_request(lambda r: is_stream(r.url), timeout=90_000) as again:
        page.reload()
        page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
        page.get_by_role("button", name=ZH["unlock.submit"]).click()
    assert again.value.headers.get("last-event-id") == missed["id"]
    page.locator("#notifications-list").wait_for(timeout=60_000)
    expect(badge(portal)).to_have_count(0)


def test_a_long_feed_shows_the_newest_first_and_older_ones_by_keyboard(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    resident, folder = enrolled(world, tmp_path, "popular")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    for _ in range(22):
        assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    served = feed(world, resident)
    assert len(served) == 22

    sign_in_with(portal, folder)
    page = portal.page
    # Never read in this browser: all of them are unread, said once for the burst.
    expect(badge(portal)).to_have_text("22", timeout=LIVE)
    many = ZH["notifications.live.many"].format(count=22)
    expect(page.locator("#notifications-live")).to_have_text(many, timeout=LIVE)
    portal.go("notifications")
    entries = page.locator(".notification")
    expect(entries).to_have_count(20, timeout=30_000)
    assert entries.nth(0).get_attribute("id") == f"notification-{served[-1]['id']}"
    older = page.get_by_role("button", name=ZH["notifications.older"].format(count=2))
    older.focus()
    page.keyboard.press("Enter")
    expect(entries).to_have_count(22)
    # The keyboard lands on the first entry the button revealed; the button is gone.
    expect(page.locator(f"#notification-{served[1]['id']}")).to_be_focused()
    assert entries.nth(21).get_attribute("id") == f"notification-{served[0]['id']}"
    expect(page.locator("#notifications-older")).to_have_count(0)
    expect(badge(portal)).to_have_count(0)
    portal.axe("notifications-long")
    portal.assert_clean()


def test_an_auditor_has_the_notifications_screen_and_its_live_stream(
    portal: Watched, world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "auditor"
    world.auditor.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    opened = sign_in_with(portal, folder, encryption=False)
    assert opened.status == 200
    portal.go("notifications")
    page = portal.page
    page.locator("#notifications-empty").wait_for(timeout=30_000)
    expect(page.locator("#notifications-status")).to_have_text(ZH["notifications.status.open"])
    portal.axe("notifications-auditor")
    portal.screenshot("notifications-auditor")
    portal.assert_fits_a_phone()
    portal.assert_clean()


def stream_text(world: World, resident: Identity) -> str:
    """What GET /notifications/stream writes for ``resident``'s feed, keep-alives included."""
    parts = ["retry: 1000\n\n"]
    for served in feed(world, resident):
        parts += [sse_message(NotificationOut.model_validate(served)), ": keep-alive\n\n"]
    return "".join(parts)


def test_the_portals_parser_reads_the_servers_stream_cut_anywhere(
    world: World, tmp_path: Path
) -> None:
    resident, _ = enrolled(world, tmp_path, "parsed")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    assert world.query(world.dept, resident, consent_id, ["address"]).status_code == 403
    served = feed(world, resident)
    text = stream_text(world, resident)
    expected = [{"id": n["id"], "event": n["kind"], "data": n} for n in served]
    # Cut at every place, and with each line ending the standard allows.
    crlf = text.replace("\n", "\r\n")
    cases = [[text[:i], text[i:]] for i in range(len(text) + 1)]
    cases += [[crlf[:i], crlf[i:]] for i in range(len(crlf) + 1)]
    cases.append(list(text.replace("\n", "\r")))  # one character at a time, CR only
    cases.append(["\ufeff" + text])
    answers = node("sse.mjs", "parse", cases=cases)["ok"]
    assert len(answers) == len(cases)
    for case, answer in zip(cases, answers, strict=True):
        got = [{**e, "data": json.loads(e["data"])} for e in answer["events"]]
        assert got == expected, case
        assert answer["retry"] == 1000
        assert answer["lastEventId"] == served[-1]["id"]
