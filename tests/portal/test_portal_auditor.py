"""The auditor's screens in a browser on a served node: the log the browser pages through,
filters, exports and charts is the one GET /audit/events and GET /audit/export serve, and
the verification the browser shows is the server's."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.vocabulary import hex32_label
from tests.api.conftest import FAST_SCRYPT, World
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world
from wallets.keystore import SIGNING_KEY_FILE

VALUES = {"name": "Li Wei", "income": "52000", "address": "1 Lake Rd"}
PAGE = 10


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """Two departments reading two residents' records: served accesses, a refusal for a
    field out of scope and one for a revoked consent; and an auditor."""
    with admin_world(served) as world:
        housing = world.dept
        tax = world.register_department("dept2", "Tax Office", "TX")
        world.grant_role("auditor", "auditor")
        first, second = world.enroll("resident"), world.enroll("resident2")
        for resident in (first, second):
            assert world.upload(resident, VALUES).status_code == 200
        housing_consent = world.grant(first, housing, ["income", "name"])
        for _ in range(2):
            assert world.query(housing, first, housing_consent, ["income"]).status_code == 200
        out_of_scope = world.query(housing, first, housing_consent, ["address"])
        assert out_of_scope.status_code != 200
        tax_consent = world.grant(first, tax, ["income"])
        assert world.query(tax, first, tax_consent, ["income"]).status_code == 200
        assert world.revoke(first, tax_consent).status_code in (200, 201)
        assert world.query(tax, first, tax_consent, ["income"]).status_code != 200
        second_consent = world.grant(second, housing, ["name"])
        assert world.query(housing, second, second_consent, ["name"]).status_code == 200
        yield world


@pytest.fixture(scope="module")
def auditor_folder(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("auditor")
    world.auditor.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return folder


def api_events(world: World, **filters: Any) -> list[dict[str, Any]]:
    """Every event under ``filters``, page by page, as the API serves them."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**filters, "limit": 1000} | ({"cursor": cursor} if cursor else {})
        page = world.get("/audit/events", world.auditor, **params).json()
        events += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return events


def sign_in_auditor(portal: Watched, folder: Path, screen: str) -> None:
    page = portal.page
    portal.open()
    page.get_by_label(ZH["signin.keystore"]).set_input_files([str(folder / SIGNING_KEY_FILE)])
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.locator("#session-address").wait_for(timeout=60_000)
    portal.go(screen)


def shown_rows(portal: Watched) -> list[dict[str, str]]:
    """The events table's rows as a person reads them."""
    return list(
        portal.page.evaluate(
            """() => [...document.querySelectorAll('table.events tbody tr')].map(tr => {
                const cells = [...tr.querySelectorAll('td')].map(td => td.innerText.trim());
                return {type: cells[1], department: cells[2], resident: cells[3],
                        fields: cells[4], purpose: cells[5], reason: cells[6],
                        tx: tr.querySelector('.event-tx').innerText.trim(),
                        position: tr.querySelector('.hint').innerText.trim()};
            })"""
        )
    )


def department_names(world: World) -> dict[str, str]:
    return {
        d["address"]: d["name"] for d in world.get("/departments", world.auditor).json()["data"]
    }


def expected_rows(world: World, events: list[dict[str, Any]]) -> list[dict[str, str]]:
    names = {
        d["address"]: d["name"] for d in world.get("/departments", world.auditor).json()["data"]
    }

    def purpose(event: dict[str, Any]) -> str | None:
        # An event of a consent that names no purpose (a refusal, a revocation) is shown
        # with its consent's, as the CLI's Namer shows it.
        if "purpose" in event["args"]:
            return hex32_label(event["args"]["purpose"])
        if event["consent_id"] is None:
            return None
        return str(world.get(f"/consents/{event['consent_id']}", world.auditor).json()["purpose"])

    def words(event: dict[str, Any]) -> dict[str, str]:
        args = event["args"]
        fields = args.get("fields") or ([args["field"]] if "field" in args else [])
        reason = args.get("reason")
        return {
            "type": ZH[f"audit.type.{event['type']}"],
            "department": names.get(event["department"], event["department"] or ""),
            "resident": event["resident"] or "",
            "fields": ", ".join(ZH[f"field.{hex32_label(f)}"] for f in fields),
            "purpose": ZH[f"purpose.{purpose(event)}"] if purpose(event) else "",
            "reason": ZH[f"audit.reason.{hex32_label(reason)}"] if reason else "",
            "tx": event["tx_hash"],
            "position": ZH["audit.events.position"].format(
                block=event["block_number"], log=event["log_index"]
            ),
        }

    return [words(e) for e in events]


def wait_for_page(portal: Watched, number: int) -> None:
    """Until page ``number`` is shown (the table is cleared while a page loads)."""
    prefix = ZH["audit.events.caption"].split("{count}")[0].format(page=number)
    portal.page.wait_for_function(
        """prefix => {
            const caption = document.querySelector('#events-caption');
            return caption && caption.innerText.startsWith(prefix);
        }""",
        arg=prefix,
        timeout=30_000,
    )


def read_every_page(portal: Watched) -> list[dict[str, str]]:
    """Every row, following "next page" until it is disabled."""
    page = portal.page
    rows: list[dict[str, str]] = []
    number = 1
    while True:
        wait_for_page(portal, number)
        rows += shown_rows(portal)
        if page.locator("#events-next").is_disabled():
            return rows
        page.locator("#events-next").click()
        number += 1


def apply_filters(portal: Watched, department: str | None = None, limit: int | None = PAGE) -> None:
    page = portal.page
    if department is not None:
        page.get_by_label(ZH["audit.filter.department"], exact=True).select_option(label=department)
    if limit is not None:
        page.get_by_label(ZH["audit.filter.limit"], exact=True).select_option(str(limit))
    page.get_by_role("button", name=ZH["audit.filter.apply"]).click()


def test_the_log_pages_through_every_event_and_a_filter_narrows_it_and_survives_a_reload(
    portal: Watched, world: World, auditor_folder: Path
) -> None:
    sign_in_auditor(portal, auditor_folder, "audit-events")
    page = portal.page
    everything = api_events(world)
    assert len(everything) > 3 * PAGE  # several pages
    apply_filters(portal)
    rows = read_every_page(portal)
    assert rows == expected_rows(world, everything)
    # The refusals are said in words, with the fields asked for.
    denied = [r for r in rows if r["type"] == ZH["audit.type.AccessDenied"]]
    assert {r["reason"] for r in denied} == {
        ZH["audit.reason.field_not_in_scope"],
        ZH["audit.reason.revoked"],
    }
    assert ZH["field.address"] in [r["fields"] for r in denied]
    assert {r["purpose"] for r in denied} == {ZH["purpose.HOUSING"]}
    portal.axe("auditor-events")
    portal.assert_fits_a_phone()
    portal.screenshot("auditor-events")

    # Previous goes back through the pages seen to the first.
    last_page = -(-len(everything) // PAGE)
    for number in range(last_page - 1, 0, -1):
        page.locator("#events-previous").click()
        wait_for_page(portal, number)
    assert page.locator("#events-previous").is_disabled()
    assert shown_rows(portal) == expected_rows(world, everything[:PAGE])

    housing = world.dept.address
    apply_filters(portal, department="Housing Bureau")
    narrowed = expected_rows(world, api_events(world, department=housing))
    assert 0 < len(narrowed) < len(everything)
    assert read_every_page(portal) == narrowed
    assert {r["department"] for r in narrowed} == {"Housing Bureau"}
    sent = [r["url"] for r in portal.requests if "/audit/events?" in r["url"]]
    assert f"department={housing}" in sent[-1]

    # A reload asks for the password again and keeps the filter.
    page.reload()
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["unlock.submit"]).click()
    page.locator("#events-caption").wait_for(timeout=60_000)
    # (the directory's departments, and so the chosen option, may come after the page)
    from playwright.sync_api import expect  # as conftest: only where the browser runs

    expect(page.get_by_label(ZH["audit.filter.department"], exact=True)).to_have_value(housing)
    assert read_every_page(portal) == narrowed

    # A type narrows further; a resident by address; a malformed address is said in words.
    page.get_by_label(ZH["audit.filter.type"], exact=True).select_option("AccessDenied")
    apply_filters(portal, limit=None)
    refused = api_events(world, department=housing, type="AccessDenied")
    assert read_every_page(portal) == expected_rows(world, refused) and len(refused) == 1
    page.get_by_role("button", name=ZH["audit.filter.clear"]).click()
    second = world.resident2.address
    page.get_by_label(ZH["audit.filter.resident"], exact=True).fill(second.lower())
    apply_filters(portal, limit=None)
    theirs = api_events(world, resident=second)
    assert read_every_page(portal) == expected_rows(world, theirs)
    assert {r["resident"] for r in expected_rows(world, theirs)} == {second}
    page.get_by_label(ZH["audit.filter.resident"], exact=True).fill("0x1234")
    apply_filters(portal, limit=None)
    expect(page.locator("#events-error")).to_have_text(ZH["audit.filter.bad_resident"])
    assert page.locator("table.events").count() == 0
    portal.assert_clean()

    # In English too, nothing shows a string's key.
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["audit.events.heading"], exact=True).wait_for()
    text = page.locator("main").inner_text()
    assert "audit." not in text and EN["audit.type.AccessLogged"] in text


def downloaded(portal: Watched, button: str) -> tuple[str, bytes]:
    with portal.page.expect_download(timeout=60_000) as info:
        portal.page.get_by_role("button", name=button).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_exports_download_what_the_api_exports_for_the_same_filters(
    portal: Watched, world: World, auditor_folder: Path
) -> None:
    sign_in_auditor(portal, auditor_folder, "audit-events")
    page = portal.page
    page.locator("#events-caption").wait_for(timeout=30_000)
    name, csv = downloaded(portal, ZH["audit.export.csv"])
    assert name.endswith(".csv")
    assert csv == world.get("/audit/export", world.auditor, format="csv").content
    assert portal.progress_seen(ZH["audit.export.downloading"].format(format="CSV"))

    apply_filters(portal, department="Tax Office")
    page.locator("#events-caption").wait_for(timeout=30_000)
    tax = world.dept2.address
    for fmt in ("csv", "jsonl"):
        name, body = downloaded(portal, ZH[f"audit.export.{fmt}"])
        assert name.endswith(f".{fmt}")
        expected = world.get("/audit/export", world.auditor, format=fmt, department=tax).content
        assert body == expected
    lines = body.decode().splitlines()
    assert json.loads(lines[-1]) == {"end": True, "events": len(lines) - 1}
    assert {json.loads(line)["department"] for line in lines[:-1]} == {tax}
    # Dates are whole UTC days: from the first second of `since` to the end of `until`.
    day = datetime.fromtimestamp(json.loads(lines[0])["block_timestamp"], UTC).strftime("%Y-%m-%d")
    page.get_by_label(ZH["audit.filter.since"], exact=True).fill(day)
    page.get_by_label(ZH["audit.filter.until"], exact=True).fill(day)
    apply_filters(portal, limit=None)
    page.locator("#events-caption").wait_for(timeout=30_000)
    start = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    _, body = downloaded(portal, ZH["audit.export.jsonl"])
    window = {"department": tax, "since": start, "until": start + 86400}
    assert body == world.get("/audit/export", world.auditor, format="jsonl", **window).content
    assert len(body.decode().splitlines()) == len(lines)  # every event is of that day
    said = page.locator("#export-said").inner_text()
    assert said.startswith(ZH["audit.export.done"].split("{count}")[0] + str(len(lines) - 1))
    # The token went as a header (a fetch), never in the URL.
    exports = [r for r in portal.requests if "/audit/export?" in r["url"]]
    assert len(exports) == 4
    for request in exports:
        bearer = request["headers"]["authorization"].removeprefix("Bearer ")
        assert bearer and bearer not in request["url"]
    assert f"department={tax}" in exports[-1]["url"]
    assert f"since={start}&until={start + 86400}" in exports[-1]["url"]
    portal.axe("auditor-export")
    portal.assert_fits_a_phone()
    portal.assert_clean()


def test_verify_shows_the_servers_verdict(
    portal: Watched, world: World, auditor_folder: Path
) -> None:
    sign_in_auditor(portal, auditor_folder, "audit-verify")
    page = portal.page
    portal.axe("auditor-verify-before")
    page.get_by_role("button", name=ZH["audit.verify.run"]).click()
    page.locator("#verify-ok").wait_for(timeout=120_000)
    verdict = world.get("/audit/verify", world.auditor).json()
    assert verdict["ok"] is True
    expected = ZH["audit.verify.ok"].format(
        events=verdict["events"],
        signatures=verdict["signatures_verified"],
        block=verdict["to_block"],
    )
    assert page.locator("#verify-ok").inner_text().strip() == f"✓ {expected}"
    assert portal.progress_seen(ZH["audit.verify.running"])
    portal.axe("auditor-verify")
    portal.assert_fits_a_phone()
    portal.screenshot("auditor-verify")
    portal.assert_clean()


def test_charts_count_accesses_per_department_day_and_refusals_by_reason(
    portal: Watched, world: World, auditor_folder: Path
) -> None:
    sign_in_auditor(portal, auditor_folder, "audit-charts")
    page = portal.page
    page.locator("#accesses-table").wait_for(timeout=60_000)
    names = {
        d["address"]: d["name"] for d in world.get("/departments", world.auditor).json()["data"]
    }
    events = api_events(world)

    def day(seconds: int) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")

    accesses = Counter(
        (names[e["department"]], day(e["block_timestamp"]))
        for e in events
        if e["type"] == "AccessLogged"
    )
    shown = page.evaluate(
        """() => [...document.querySelectorAll('#accesses-table td')]
            .map(td => [td.dataset.department, td.dataset.day, Number(td.innerText)])"""
    )
    assert {(d, s): n for d, s, n in shown if n} == dict(accesses)
    assert {d for d, _ in accesses} == {"Housing Bureau", "Tax Office"}

    refusals = Counter(
        hex32_label(e["args"]["reason"]) for e in events if e["type"] == "AccessDenied"
    )
    shown_refusals = page.evaluate(
        """() => [...document.querySelectorAll('#refusals-table tbody tr')]
            .map(tr => [tr.dataset.reason, tr.querySelector('th').innerText,
                        Number(tr.querySelector('td').innerText)])"""
    )
    assert {r: n for r, _, n in shown_refusals} == dict(refusals)
    assert {r: label for r, label, _ in shown_refusals} == {
        r: ZH[f"audit.reason.{r}"] for r in refusals
    }
    # Both charts were drawn: their canvases hold painted pixels.
    for canvas in ("#chart-accesses", "#chart-refusals"):
        painted = page.evaluate(
            """sel => { const c = document.querySelector(sel);
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""",
            canvas,
        )
        assert painted > 0, canvas
        label = page.locator(canvas).get_attribute("aria-label") or ""
        assert label and "audit." not in label
    total = sum(accesses.values())
    assert str(total) in (page.locator("#chart-accesses").get_attribute("aria-label") or "")
    portal.axe("auditor-charts")
    portal.assert_fits_a_phone()
    portal.screenshot("auditor-charts")

    # A department filter narrows the counts to it.
    apply_filters(portal, department="Tax Office", limit=None)
    page.wait_for_function(
        "() => document.querySelectorAll('#accesses-table thead th').length === 2",
        timeout=60_000,
    )
    tax_only = {(d, s): n for (d, s), n in accesses.items() if d == "Tax Office"}
    shown = page.evaluate(
        """() => [...document.querySelectorAll('#accesses-table td')]
            .map(td => [td.dataset.department, td.dataset.day, Number(td.innerText)])"""
    )
    assert {(d, s): n for d, s, n in shown if n} == tax_only
    portal.assert_clean()


def test_verify_lists_each_problem_with_its_transaction(
    portal: Watched, world: World, served: Served, auditor_folder: Path
) -> None:
    """A read-model row altered behind the server's back: the browser lists what the
    server's verification finds, each problem in words with its transaction."""
    served_access = next(e for e in api_events(world) if e["type"] == "AccessLogged")
    where = (served_access["block_number"], served_access["log_index"])
    database = served.data_dir / "consent.sqlite3"
    with sqlite3.connect(database) as c:
        (kept,) = c.execute(
            "SELECT args FROM events WHERE block_number = ? AND log_index = ?", where
        ).fetchone()
        altered = json.dumps({**json.loads(kept), "use": 99})
        c.execute(
            "UPDATE events SET args = ? WHERE block_number = ? AND log_index = ?", (altered, *where)
        )
    try:
        sign_in_auditor(portal, auditor_folder, "audit-verify")
        page = portal.page
        page.get_by_role("button", name=ZH["audit.verify.run"]).click()
        page.locator("#verify-problems").wait_for(timeout=120_000)
        verdict = world.get("/audit/verify", world.auditor).json()
        assert verdict["ok"] is False and verdict["problems"]
        assert "event_altered" in {p["kind"] for p in verdict["problems"]}
        shown = page.evaluate(
            """() => [...document.querySelectorAll('#verify-problems li')].map(li => [
                li.querySelector('h3').innerText, li.querySelector('.problem-detail').innerText,
                li.querySelector('.problem-tx')?.innerText ?? null])"""
        )
        assert shown == [
            [
                ZH.get(f"audit.problem.{p['kind']}", p["kind"]),
                ZH["audit.verify.detail"].format(detail=p["detail"]),
                (p["receipt"] or {}).get("tx_hash"),
            ]
            for p in verdict["problems"]
        ]
        assert served_access["tx_hash"] in [tx for _, _, tx in shown]
        assert page.locator("#verify-failed").inner_text().strip() == ZH[
            "audit.verify.failed"
        ].format(problems=len(verdict["problems"]), events=verdict["events"])
        portal.axe("auditor-verify-problems")
        portal.assert_fits_a_phone()
        portal.screenshot("auditor-verify-problems")
        portal.assert_clean()
    finally:
        with sqlite3.connect(database) as c:
            c.execute(
                "UPDATE events SET args = ? WHERE block_number = ? AND log_index = ?",
                (kept, *where),
            )
    assert world.get("/audit/verify", world.auditor).json()["ok"] is True


#: The charts' counting run in Node on the very module the browser loads.
COUNT_IN_NODE = """
import { readFileSync } from "node:fs";
const { events, names, module } = JSON.parse(readFileSync(0, "utf8"));
const { accessesPerDepartmentDay, refusalsByReason } = await import(module);
process.stdout.write(JSON.stringify({
  accesses: accessesPerDepartmentDay(events, names),
  refusals: refusalsByReason(events),
}));
"""


def test_the_charts_split_accesses_by_utc_day_and_department() -> None:
    """Over days the served chain cannot reach (its time is the wall clock): events either
    side of UTC midnight, two departments and one not in the directory, refusals."""
    executable = shutil.which("node")
    assert executable is not None, "node is required (./dev setup installs it)"
    midnight = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    housing, tax, unknown = "0x" + "aB" * 20, "0x" + "22" * 20, "0x" + "33" * 20
    names = {housing: "Housing Bureau", tax: "Tax Office"}
    reason = {r: "0x" + r.encode().ljust(32, b"\0").hex() for r in ("revoked", "expired")}
    events: list[dict[str, Any]] = [
        {"type": "AccessLogged", "department": housing, "block_timestamp": midnight - 1},
        {
            "type": "AccessLogged",
            "department": housing.lower(),  # an address in any case names its department
            "block_timestamp": midnight,
        },
        {"type": "AccessLogged", "department": tax, "block_timestamp": midnight + 86_399},
        {"type": "AccessLogged", "department": tax, "block_timestamp": midnight + 86_400 * 3},
        {"type": "AccessLogged", "department": unknown, "block_timestamp": midnight},
        {"type": "ConsentGranted", "department": tax, "block_timestamp": midnight},
        {
            "type": "AccessDenied",
            "department": tax,
            "block_timestamp": midnight,
            "args": {"reason": reason["revoked"]},
        },
        {
            "type": "AccessDenied",
            "department": tax,
            "block_timestamp": midnight,
            "args": {"reason": reason["revoked"]},
        },
        {
            "type": "AccessDenied",
            "department": housing,
            "block_timestamp": midnight,
            "args": {"reason": reason["expired"]},
        },
    ]
    module = (Path(__file__).resolve().parents[2] / "api/portal/src/app/auditCounts.js").as_uri()
    result = subprocess.run(
        [executable, "--input-type=module", "-e", COUNT_IN_NODE],
        input=json.dumps(
            {"events": events, "names": {a.lower(): n for a, n in names.items()}, "module": module}
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert result.returncode == 0, result.stderr
    counted = json.loads(result.stdout)

    def day(seconds: int) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")

    def named(address: str) -> str:
        return {a.lower(): n for a, n in names.items()}.get(address.lower(), address)

    expected = Counter(
        (named(e["department"]), day(e["block_timestamp"]))
        for e in events
        if e["type"] == "AccessLogged"
    )
    accesses = counted["accesses"]
    assert accesses["days"] == sorted({d for _, d in expected})
    assert len(accesses["days"]) == 3  # the last second of a day is still that day
    assert accesses["departments"] == sorted({n for n, _ in expected})
    assert {
        (who, d): n for who, per_day in accesses["counts"].items() for d, n in per_day.items()
    } == dict(expected)
    assert counted["refusals"] == [["revoked", 2], ["expired", 1]]
