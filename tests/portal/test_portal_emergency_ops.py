"""Emergency access and supervision in a browser on a served node (issue 15, item 6): an
ambulance service holding the emergency role breaks the glass on a resident's directive
in the browser and reads the decrypted values, its justification salted there (only the
hash is sent) and offered as a file to keep; a resident with no directive, and a field
the directive no longer names, are refused in words; the auditor finds the access pending
in the review queue, checks the kept justification file in the browser and reviews it
justified, and the API's queue then shows the outcome and the hash of the notes the
browser salted; an access burst raises an anomaly the auditor reads with its events and
closes; and after its deadline in chain time an unreviewed access is overdue, in words
and with a mark, and reviewing it then is late."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from api.messages import explain
from ledger import contract_errors as ce
from ledger.codec import to_hex
from ledger.vocabulary import (
    EMERGENCY_REASONS,
    EMERGENCY_REFUSALS,
    EMERGENCY_REVIEW_PERIOD,
    REVIEW_OUTCOMES,
    hex32_label,
    role_id,
)
from tests.api.conftest import FAST_SCRYPT, World
from tests.api.test_emergency import (
    PATIENT,
    ROLE_FIELDS,
    give_emergency_role,
    leave_directive,
)
from tests.api.test_emergency import emergency_access as api_emergency_access
from tests.api.test_served import Served
from tests.portal.conftest import (
    EN,
    PASSWORD,
    ZH,
    Watched,
    admin_world,
    assert_nothing_secret_sent,
)
from tests.portal.strings import LANGS, strings
from tests.portal.test_crypto_interop import node
from tests.portal.test_portal_auditor import sign_in_auditor
from tests.portal.test_portal_department import sign_in
from tests.portal.test_portal_resident_log import travel
from tests.portal.test_problems_in_node import as_served
from wallets.emergency import JUSTIFICATION, REVIEW_NOTES, SaltedText
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE

APP = Path(__file__).resolve().parents[2] / "api" / "portal" / "src" / "app"
DIRECTIVE = ["health_summary", "phone"]
JUSTIFICATION_TEXT = "Found collapsed at the bus stop, not responding; no relative reachable."
NOTES_TEXT = "The crew log and the hospital admission confirm the collapse."
VALUES = {"name": "Zhao Lei", "income": "61000"}
ZERO = "0x" + "00" * 20
#: The browser reports a refused or absent resource it asked for; nothing else may go wrong.
LOADS_REFUSED = tuple(
    f"Failed to load resource: the server responded with a status of {status}"
    for status in ("403 (Forbidden)", "404 (Not Found)")
)


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar, the Housing Bureau, an ambulance service holding the emergency role
    for the fields of tests/api/test_emergency.py, and an auditor."""
    with admin_world(served) as world:
        ambulance = world.register_department("ambulance", "120 Emergency Centre", "EMS")
        give_emergency_role(world, ambulance, ROLE_FIELDS)
        world.grant_role("auditor", "auditor")
        yield world


@pytest.fixture(scope="module")
def ambulance_files(world: World, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("ambulance")
    world.ambulance.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return [folder / SIGNING_KEY_FILE, folder / ENCRYPTION_KEY_FILE]


@pytest.fixture(scope="module")
def auditor_folder(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("auditor")
    world.auditor.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return folder


def patient_with_directive(world: World, role: str) -> Any:
    """An enrolled resident whose record holds PATIENT, with a directive for the
    ambulance naming DIRECTIVE."""
    patient = world.enroll(role)
    assert world.upload(patient, PATIENT).status_code == 200
    leave_directive(world, patient, world.ambulance, DIRECTIVE)
    return patient


def accessed_by_api(world: World, patient: Any, text: str) -> tuple[int, SaltedText]:
    """An emergency access of the patient's health summary made by the ambulance's API
    client, with ``text`` salted as its justification."""
    salted = SaltedText.new(JUSTIFICATION, text)
    answer = api_emergency_access(
        world, world.ambulance, patient, ["health_summary"], justification=salted
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["access_id"]), salted


def queue(world: World, status: str) -> dict[int, dict[str, Any]]:
    answer = world.get("/audit/emergency-accesses", world.auditor, status=status, limit=1000)
    assert answer.status_code == 200, answer.text
    return {row["access_id"]: row for row in answer.json()["data"]}


def chain_events(world: World, name: str) -> list[dict[str, Any]]:
    answer = world.get("/audit/events", world.auditor, type=name, limit=1000)
    return list(answer.json()["data"])


def downloaded(page: Any, link: Any) -> dict[str, Any]:
    """The JSON file the browser saves when ``link`` is followed."""
    with page.expect_download() as info:
        link.click()
    document: dict[str, Any] = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    return document


def sent_to(portal: Watched, suffix: str) -> list[dict[str, Any]]:
    return [r for r in portal.requests if r["url"].split("?")[0].endswith(suffix)]


def tabbed(page: Any, start: str, count: int) -> list[str]:
    """What ``count`` presses of Tab reach from the control ``start`` (its id, else its
    tag): the keyboard's path through a screen."""
    page.locator(start).focus()
    reached = []
    for _ in range(count):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    return reached


def assert_only_loads_refused(portal: Watched) -> None:
    assert [e for e in portal.console_errors if not e.startswith(LOADS_REFUSED)] == []
    assert portal.csp_violations() == []


def test_the_emergency_screens_offer_the_ledgers_reasons_and_outcomes_in_words() -> None:
    source = (APP / "deptEmergency.js").read_text(encoding="utf-8")
    listed = re.search(r"EMERGENCY_REASONS = \[([^\]]*)\]", source)
    assert listed is not None
    codes = re.findall(r'"(\w+)"', listed.group(1))
    assert codes == list(EMERGENCY_REASONS)
    review = (APP / "auditEmergency.js").read_text(encoding="utf-8")
    outcomes = re.search(r"OUTCOMES = \[([^\]]*)\]", review)
    assert outcomes is not None
    assert re.findall(r'"(\w+)"', outcomes.group(1)) == list(REVIEW_OUTCOMES)
    for lang in LANGS:
        table = strings(lang)
        assert all(f"emergency.reason.{code}" in table for code in codes), lang
        assert all(f"audit.emergency.outcome.{o}" in table for o in REVIEW_OUTCOMES), lang


def test_the_portal_says_the_emergency_refusals_as_the_cli_does() -> None:
    """problems.js (in Node) renders each emergency refusal, and a contract error naming
    the emergency role, to the sentence api/messages.py renders, in both languages."""
    signer = "0x25EE" + "0" * 32 + "1a2B"
    cases: list[dict[str, Any]] = [
        {"status": 403, "reason": r, "detail": r} for r in EMERGENCY_REFUSALS
    ] + [
        as_served(ce.ConsentEmergencyUnauthorizedSigner(signer, role_id("emergency"))),
        as_served(ce.ConsentEmergencyNotEmergencyDepartment(signer)),
        as_served(ce.ConsentEmergencyAlreadyReviewed(7)),
    ]
    for language in LANGS:
        said = node(
            "problems.mjs",
            "explain",
            cases=[{"problem": p, "names": {}, "language": language} for p in cases],
        )["ok"]
        assert said == [explain(p, language=language) for p in cases], language
        assert all(p["detail"] not in s for p, s in zip(cases, said, strict=True))
    assert "emergency" in said[len(EMERGENCY_REFUSALS)]


def test_the_ambulance_breaks_the_glass_in_the_browser_and_reads_the_directive_fields(
    portal: Watched, world: World, ambulance_files: list[Path]
) -> None:
    patient = patient_with_directive(world, "patient")
    stranger = world.enroll("stranger")  # no directive at all
    assert world.upload(stranger, VALUES).status_code == 200
    sign_in(portal, ambulance_files)
    page = portal.page
    portal.go("dept-emergency")
    page.get_by_role("heading", name=ZH["dept.emergency.heading"]).wait_for(timeout=10_000)
    assert ZH["role.emergency"] in page.locator("#session-roles").inner_text()
    portal.axe("dept-emergency")
    portal.assert_fits_a_phone()

    # No directive: said in words as the chain would refuse it; nothing is signed.
    resident = page.get_by_label(ZH["dept.emergency.resident"])
    look_up = page.get_by_role("button", name=ZH["dept.emergency.look_up"])
    resident.fill(stranger.address)
    look_up.click()
    no_directive = explain({"status": 403, "reason": "no_directive"}, language="zh-CN")
    alert = page.locator("#emergency-lookup-error")
    alert.filter(has_text=no_directive).wait_for(timeout=30_000)
    assert alert.get_attribute("role") == "alert" and alert.inner_text() == no_directive
    resident.fill(stranger.address[:-1])
    look_up.click()
    alert.filter(has_text=ZH["dept.emergency.bad_address"]).wait_for(timeout=10_000)

    # The patient's directive: its fields offered, every one ticked.
    # The patient's directive, by keyboard: Enter in the address looks it up.
    resident.fill(patient.address.lower())
    resident.press("Enter")
    directive = page.locator("#emergency-directive")
    directive.wait_for(timeout=30_000)
    fields = [f"emergency-field-{n}" for n in DIRECTIVE]
    assert tabbed(page, "#emergency-resident", 6) == [
        "BUTTON",
        *fields,
        "emergency-reason",
        "emergency-justification",
        "BUTTON",
    ]
    named = ", ".join(ZH[f"field.{n}"] for n in DIRECTIVE)
    assert page.locator("#emergency-directive-fields").inner_text() == named
    for name in DIRECTIVE:
        assert directive.get_by_label(ZH[f"field.{name}"], exact=True).is_checked()
    assert page.locator("#emergency-outside-role").count() == 0  # the role covers both
    portal.axe("dept-emergency-directive")
    portal.assert_fits_a_phone()

    # A reason and a justification are asked for in words before anything is signed.
    submit = page.get_by_role("button", name=ZH["dept.emergency.submit"])
    submit.click()
    error = page.locator("#emergency-error")
    error.filter(has_text=ZH["dept.emergency.no_reason"]).wait_for(timeout=10_000)
    page.get_by_label(ZH["dept.emergency.reason"]).select_option(
        label=ZH["emergency.reason.UNCONSCIOUS"]
    )
    page.get_by_label(ZH["dept.emergency.justification"]).fill("   ")
    submit.click()
    error.filter(has_text=ZH["dept.emergency.justification_empty"]).wait_for(timeout=10_000)
    assert sent_to(portal, "/emergency-accesses") == []
    page.get_by_label(ZH["dept.emergency.justification"]).fill(JUSTIFICATION_TEXT)
    submit.click()
    result = page.locator("#emergency-result")
    result.wait_for(timeout=60_000)
    for name in DIRECTIVE:
        value = page.locator(f"#emergency-granted-{name} .granted-value").inner_text()
        assert value == PATIENT[name]
    assert portal.progress_seen(ZH["dept.emergency.reading"])

    (accessed,) = [
        e for e in chain_events(world, "EmergencyAccessed") if e["resident"] == patient.address
    ]
    access_id = int(accessed["args"]["accessId"])
    assert page.locator("#emergency-access-id").inner_text() == str(access_id)
    pending = queue(world, "pending")[access_id]
    assert pending["review_due"] == accessed["block_timestamp"] + EMERGENCY_REVIEW_PERIOD
    assert pending["reason"] == "UNCONSCIOUS" and pending["fields"] == DIRECTIVE
    due = page.locator("#emergency-review-due").inner_text()
    assert "UTC" in due and ZH["time.left_days"].format(days=3, hours=0) in due

    # The text and salt to keep: the file is the wallet's SaltedText, and it opens the
    # hash the chain recorded; the browser sent that hash and nothing of the text.
    kept = downloaded(page, page.locator("#emergency-keep-download"))
    salted = SaltedText.from_json(kept)
    assert (salted.tag, salted.text) == (JUSTIFICATION, JUSTIFICATION_TEXT)
    assert salted.matches(accessed["args"]["justificationHash"])
    assert (kept["access_id"], kept["resident"], kept["fields"], kept["reason"]) == (
        access_id,
        patient.address,
        DIRECTIVE,
        "UNCONSCIOUS",
    )
    assert page.locator("#emergency-keep .kept-hash").inner_text() == to_hex(salted.hash)
    (sent,) = sent_to(portal, "/emergency-accesses")
    body = json.loads(sent["body"])
    assert set(body) == {"message", "signature"}
    assert body["message"]["justificationHash"] == to_hex(salted.hash)
    portal.axe("dept-emergency-read")
    portal.assert_fits_a_phone()
    portal.screenshot("dept-emergency-read")

    # The resident narrows its directive: the phone, still ticked here, is refused on
    # chain, said in words, and nothing is shown.
    leave_directive(world, patient, world.ambulance, ["health_summary"])
    submit.click()
    refused = explain({"status": 403, "reason": "field_not_in_directive"}, language="zh-CN")
    error.filter(has_text=refused).wait_for(timeout=60_000)
    assert error.inner_text() == refused
    assert result.count() == 0 and page.locator("#emergency-keep").count() == 0
    denied = [e for e in chain_events(world, "EmergencyDenied") if e["resident"] == patient.address]
    assert [hex32_label(e["args"]["refusal"]) for e in denied] == ["field_not_in_directive"]
    portal.axe("dept-emergency-refused")
    # Looked up again, the directive offers what it names now.
    look_up.click()
    page.locator("#emergency-directive-fields").filter(
        has_text=re.compile(f"^{ZH['field.health_summary']}$")
    ).wait_for(timeout=30_000)
    # The resident withdraws it while the clerk is on the page: refused on chain, in words.
    message = {"resident": patient.address, "department": ZERO, "fields": [], "validUntil": 0}
    withdrawal = world.body(patient, "EmergencyDirective", message)
    assert world.post("/emergency-directives", patient, withdrawal).status_code == 200
    page.get_by_label(ZH["dept.emergency.reason"]).select_option("SEVERE_INJURY")
    page.get_by_label(ZH["dept.emergency.justification"]).fill(JUSTIFICATION_TEXT)
    submit.click()
    error.filter(has_text=no_directive).wait_for(timeout=60_000)
    assert result.count() == 0
    denied = [e for e in chain_events(world, "EmergencyDenied") if e["resident"] == patient.address]
    assert [hex32_label(e["args"]["refusal"]) for e in denied] == [
        "field_not_in_directive",
        "no_directive",
    ]
    assert_only_loads_refused(portal)

    # In English too, nothing shows a string's key.
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["dept.emergency.heading"]).wait_for(timeout=10_000)
    assert "dept." not in page.locator("main").inner_text()

    record = world.records[patient.address]
    ambulance = world.ambulance
    assert_nothing_secret_sent(
        portal,
        [
            to_hex(ambulance.x25519_private_key.private_bytes_raw()),
            ambulance.account.key.hex(),
            PASSWORD,
            *PATIENT.values(),
            *(record.field_key(n).hex() for n in record.field_names),
            *(to_hex(v.salt) for v in record.values().values()),
            JUSTIFICATION_TEXT,
            to_hex(salted.salt),
            to_hex(keccak(text=JUSTIFICATION_TEXT)),  # the unsalted hash
        ],
    )


def test_the_auditor_checks_the_justification_and_reviews_the_access_justified_in_the_browser(
    portal: Watched, world: World, auditor_folder: Path, tmp_path: Path
) -> None:
    patient = patient_with_directive(world, "reviewed")
    access_id, salted = accessed_by_api(world, patient, "unconscious after a fall at home")
    assert access_id in queue(world, "pending")
    sign_in_auditor(portal, auditor_folder, "audit-emergency")
    page = portal.page
    entry = page.locator(f"#emergency-access-{access_id}")
    entry.wait_for(timeout=30_000)
    standing = entry.locator(".emergency-standing")
    assert standing.locator(".standing-mark").inner_text().strip() == "○"
    waiting = ZH["audit.emergency.standing.pending"].split("{left}")[0]
    assert standing.locator(".standing-text").inner_text().startswith(waiting)
    assert entry.locator(".emergency-department").inner_text() == "120 Emergency Centre"
    assert entry.locator(".emergency-fields").inner_text() == ZH["field.health_summary"]
    assert entry.locator(".emergency-reason").inner_text() == ZH["emergency.reason.UNCONSCIOUS"]
    assert patient.address in entry.inner_text()
    portal.axe("audit-emergency")
    portal.assert_fits_a_phone()
    portal.screenshot("audit-emergency")

    # The department's kept file is checked here against the hash on chain; an altered
    # one is not. The file is read in the browser and never sent.
    good, bad = tmp_path / "kept.json", tmp_path / "altered.json"
    good.write_text(json.dumps(salted.to_json()), encoding="utf-8")
    bad.write_text(json.dumps({**salted.to_json(), "text": "unconscious"}), encoding="utf-8")
    check = entry.get_by_label(ZH["audit.emergency.justification_file"])
    check.set_input_files(str(good))
    said = page.locator(f"#justification-{access_id}-said")
    matches = ZH["audit.emergency.justification_matches"].format(text=salted.text)
    said.filter(has_text=matches).wait_for(timeout=10_000)
    check.set_input_files(str(bad))
    said.filter(has_text=ZH["audit.emergency.justification_differs"]).wait_for(timeout=10_000)

    # The review: an outcome and notes are asked for, then signed and recorded.
    submit = entry.get_by_role(
        "button", name=ZH["audit.emergency.review_submit"].format(access=access_id)
    )
    submit.click()
    entry.get_by_role("alert").filter(has_text=ZH["audit.emergency.no_outcome"]).wait_for()
    # Every control of the entry by keyboard, the outcome chosen with the space bar.
    assert tabbed(page, f"#justification-{access_id}", 3) == [
        f"review-{access_id}-justified",
        f"review-{access_id}-notes",
        "BUTTON",
    ]
    page.locator(f"#review-{access_id}-justified").focus()
    page.keyboard.press("Space")
    assert entry.get_by_label(ZH["audit.emergency.outcome.justified"], exact=True).is_checked()
    entry.get_by_label(ZH["audit.emergency.notes"]).fill(NOTES_TEXT)
    portal.axe("audit-emergency-review")
    submit.click()
    done = page.locator(f"#review-{access_id}-said")
    done.wait_for(timeout=60_000)
    justified = ZH["audit.emergency.outcome.justified"]
    assert done.inner_text() == ZH["audit.emergency.reviewed"].format(
        access=access_id, outcome=justified
    )
    assert standing.locator(".standing-mark").inner_text().strip() == "✓"
    assert standing.locator(".standing-text").inner_text() == ZH[
        "audit.emergency.standing.reviewed"
    ].format(outcome=justified)
    assert (
        entry.get_by_role("button", name=ZH["audit.emergency.review_submit"].split("{")[0]).count()
        == 0
    )
    assert portal.progress_seen(ZH["audit.emergency.reviewing"])

    notes = SaltedText.from_json(
        downloaded(page, page.locator(f"#review-{access_id}-keep-download"))
    )
    assert (notes.tag, notes.text) == (REVIEW_NOTES, NOTES_TEXT)
    reviewed = queue(world, "reviewed")[access_id]
    assert (reviewed["outcome"], reviewed["late"]) == ("justified", False)
    assert reviewed["reviewer"] == world.auditor.address
    assert notes.matches(reviewed["notes_hash"])
    assert access_id not in queue(world, "pending")
    (sent,) = sent_to(portal, f"/emergency-accesses/{access_id}/review")
    assert json.loads(sent["body"])["message"]["notesHash"] == to_hex(notes.hash)

    # The queue's "reviewed" filter lists it with the notes' hash.
    page.get_by_label(ZH["audit.emergency.status"], exact=True).select_option("reviewed")
    page.locator(f"#emergency-access-{access_id} .emergency-notes-hash").filter(
        has_text=to_hex(notes.hash)
    ).wait_for(timeout=30_000)
    portal.axe("audit-emergency-reviewed")
    portal.assert_fits_a_phone()
    portal.assert_clean()
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["audit.emergency.heading"]).wait_for(timeout=10_000)
    assert "audit." not in page.locator("main").inner_text()
    assert EN["audit.emergency.outcome.justified"] in entry.inner_text()
    assert_nothing_secret_sent(
        portal,
        [
            world.auditor.account.key.hex(),
            PASSWORD,
            NOTES_TEXT,
            to_hex(notes.salt),
            to_hex(keccak(text=NOTES_TEXT)),
            salted.text,
            to_hex(salted.salt),
            PATIENT["health_summary"],
        ],
    )


def test_an_access_burst_raises_an_anomaly_the_auditor_reads_with_its_events_and_closes(
    portal: Watched, world: World, auditor_folder: Path
) -> None:
    limits = {"department": world.dept.address, "accesses_per_hour": 2, "refusals_per_hour": 20}
    assert world.put("/admin/anomaly-thresholds", world.admin, limits).status_code == 200
    resident = world.enroll("burst")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["income"])
    for _ in range(3):
        assert world.query(world.dept, resident, consent_id, ["income"]).status_code == 200
    # An emergency access of its own (tests may run on other workers' nodes, in any order).
    patient = patient_with_directive(world, "burst-patient")
    assert api_emergency_access(world, world.ambulance, patient, ["phone"]).status_code == 200
    opened = world.get("/audit/anomalies", world.auditor).json()["data"]
    (burst,) = [a for a in opened if a["rule"] == "accesses"]
    assert (burst["department"], burst["count"], burst["threshold"]) == (world.dept.address, 3, 2)
    emergencies = [a for a in opened if a["rule"] == "emergency_access"]
    assert emergencies  # every emergency access is one

    sign_in_auditor(portal, auditor_folder, "audit-anomalies")
    page = portal.page
    entry = page.locator(f"#anomaly-{burst['id']}")
    entry.wait_for(timeout=30_000)
    title = ZH["audit.anomaly.title"].format(
        rule=ZH["audit.anomaly.rule.accesses"], department="Housing Bureau"
    )
    assert entry.get_by_role("heading", level=3).inner_text() == title
    summary = ZH["audit.anomaly.summary.accesses"].format(count=3, threshold=2)
    assert entry.locator(".anomaly-summary").inner_text().endswith(summary)
    assert entry.locator(".anomaly-status").inner_text() == ZH["audit.anomaly.status.open"]
    other = page.locator(f"#anomaly-{emergencies[0]['id']}")
    assert ZH["audit.anomaly.rule.emergency_access"] in other.inner_text()
    assert "120 Emergency Centre" in other.inner_text()
    portal.axe("audit-anomalies")
    portal.assert_fits_a_phone()

    # The events behind it, as the log shows them.
    entry.get_by_role("button", name=ZH["audit.anomaly.show_events"].format(count=3)).click()
    rows = entry.locator("table.events tbody tr")
    rows.nth(2).wait_for(timeout=30_000)
    assert rows.count() == 3
    for i in range(3):
        cells = rows.nth(i).locator("td")
        assert cells.nth(1).inner_text() == ZH["audit.type.AccessLogged"]
        assert cells.nth(2).inner_text() == "Housing Bureau"
        assert cells.nth(3).inner_text() == resident.address
    positions = [rows.nth(i).locator(".hint").inner_text() for i in range(3)]
    assert positions == [
        ZH["audit.events.position"].format(block=b, log=n)
        for b, n in (e.split("-") for e in burst["event_ids"])
    ]
    other.get_by_role("button", name=ZH["audit.anomaly.show_events"].format(count=1)).click()
    other.locator("table.events tbody tr").first.wait_for(timeout=30_000)
    assert other.locator("td.event-type").inner_text() == ZH["audit.type.EmergencyAccessed"]
    portal.axe("audit-anomalies-events")  # two tables, each named by its own caption
    portal.assert_fits_a_phone()
    portal.screenshot("audit-anomalies")

    # Closing asks for a note, then keeps it.
    close = entry.get_by_role("button", name=ZH["audit.anomaly.close"])
    close.click()
    entry.get_by_role("alert").filter(has_text=ZH["audit.anomaly.no_note"]).wait_for()
    note = "Three reads of one resident by the housing clerk: a case file reopened, not misuse."
    entry.get_by_label(ZH["audit.anomaly.note"], exact=True).fill(note)
    close.click()
    page.locator(f"#anomaly-closed-{burst['id']}").wait_for(timeout=30_000)
    assert entry.locator(".anomaly-status").inner_text() == ZH["audit.anomaly.status.closed"]
    assert entry.locator(".anomaly-note").inner_text() == note
    closed = {
        a["id"]: a
        for a in world.get("/audit/anomalies", world.auditor, status="closed").json()["data"]
    }
    assert (closed[burst["id"]]["note"], closed[burst["id"]]["closed_by"]) == (
        note,
        world.auditor.address,
    )
    still_open = world.get("/audit/anomalies", world.auditor).json()["data"]
    assert burst["id"] not in {a["id"] for a in still_open}
    (sent,) = sent_to(portal, f"/audit/anomalies/{burst['id']}/close")
    assert json.loads(sent["body"]) == {"note": note}
    page.get_by_label(ZH["audit.anomaly.show"], exact=True).select_option("closed")
    page.locator(f"#anomaly-{burst['id']} .anomaly-note").filter(has_text=note).wait_for(
        timeout=30_000
    )
    portal.axe("audit-anomalies-closed")
    portal.assert_clean()
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["audit.anomaly.heading"]).wait_for(timeout=10_000)
    assert "audit." not in page.locator("main").inner_text()


def test_after_its_deadline_an_unreviewed_access_is_overdue_and_reviewing_it_is_late(
    portal: Watched, world: World, served: Served, auditor_folder: Path
) -> None:
    """Last in the module: it moves the served chain's time past every deadline."""
    patient = patient_with_directive(world, "forgotten")
    access_id, _ = accessed_by_api(world, patient, "cardiac arrest in the street")
    travel(served, world, EMERGENCY_REVIEW_PERIOD + 3600)
    assert access_id in queue(world, "overdue")
    assert access_id not in queue(world, "pending")

    sign_in_auditor(portal, auditor_folder, "audit-emergency")
    page = portal.page
    page.locator("#emergency-queue, #emergency-queue-empty").first.wait_for(timeout=30_000)
    assert page.locator(f"#emergency-access-{access_id}").count() == 0  # not pending
    page.get_by_label(ZH["audit.emergency.status"], exact=True).select_option("overdue")
    entry = page.locator(f"#emergency-access-{access_id}")
    entry.wait_for(timeout=30_000)
    standing = entry.locator(".emergency-standing")
    # Said in words and marked, not by colour alone.
    assert standing.locator(".standing-mark").inner_text().strip() == "⚠"
    overdue = ZH["audit.emergency.standing.overdue"].split("{late}")[0]
    assert standing.locator(".standing-text").inner_text().startswith(overdue)
    portal.axe("audit-emergency-overdue")
    portal.assert_fits_a_phone()
    portal.screenshot("audit-emergency-overdue")

    entry.get_by_label(ZH["audit.emergency.outcome.unjustified"], exact=True).check()
    entry.get_by_label(ZH["audit.emergency.notes"]).fill("No record of the call at the centre.")
    entry.get_by_role(
        "button", name=ZH["audit.emergency.review_submit"].format(access=access_id)
    ).click()
    done = page.locator(f"#review-{access_id}-said")
    done.wait_for(timeout=60_000)
    unjustified = ZH["audit.emergency.outcome.unjustified"]
    assert done.inner_text() == ZH["audit.emergency.reviewed_late"].format(
        access=access_id, outcome=unjustified
    )
    assert standing.locator(".standing-text").inner_text() == ZH[
        "audit.emergency.standing.late"
    ].format(outcome=unjustified)
    row = queue(world, "overdue")[access_id]
    assert (row["outcome"], row["late"]) == ("unjustified", True)
    portal.assert_clean()
