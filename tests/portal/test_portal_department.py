"""The department clerk's screens in a browser on a served node: a request filed in the
browser reaches the resident as asked; granted fields are read, decrypted and their
attestations checked against the chain in the browser (verified, untrusted issuer,
absent); a revoked consent's read is refused in words; nothing the browser sends holds a
value, a salt or a key."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.messages import explain
from ledger.codec import to_hex
from ledger.eip712 import domain
from ledger.intents import eip712_types
from ledger.vocabulary import name_to_bytes32
from tests.api.conftest import FAST_SCRYPT, World, ids
from tests.api.test_served import Served
from tests.portal.conftest import EN, PASSWORD, ZH, Watched, admin_world, assert_nothing_secret_sent
from tests.portal.test_portal_resident import file_request
from wallets.attestation import attest, pick_attestation
from wallets.errors import InvalidAttestation
from wallets.identity import Identity
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE
from wallets.signing import sign_intent

PORTAL_SRC = Path(__file__).resolve().parents[2] / "api" / "portal" / "src"
VALUES = {"name": "Zhang Minghui", "income": "48317", "address": "9 Willow Lane"}


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    """A registrar, a department and two issuers (one for names, one for incomes)."""
    with admin_world(served) as world:
        world.grant_role("issuer", "issuer", fields=["name"])
        world.grant_role("issuer2", "issuer", fields=["income"])
        yield world


@pytest.fixture(scope="module")
def dept_files(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The department's signing keystore and encryption-key.json, as the CLI saves them."""
    folder = tmp_path_factory.mktemp("dept")
    world.dept.save(folder, PASSWORD, scrypt_n=FAST_SCRYPT)
    return folder


def sign_in(portal: Watched, files: list[Path]) -> None:
    page = portal.page
    portal.open()
    page.get_by_label(ZH["signin.keystore"]).set_input_files([str(f) for f in files])
    page.get_by_label(ZH["signin.password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.locator("#nav-dept-request").wait_for(timeout=90_000)


def listed(answer: Any) -> list[dict[str, Any]]:
    data = answer.json()
    return list(data["data"] if isinstance(data, dict) else data)


def attested(world: World, issuer: Identity, resident: Identity, field: str) -> None:
    """``issuer`` attests the resident's stored value and salt of ``field``, recorded on chain."""
    opened = world.records[resident.address].field(field).value
    domain = world.http.get("/eip712").json()["intents"]["Attest"]["domain"]
    now = world.now()
    body = attest(
        issuer,
        resident=resident.address,
        field=field,
        value=opened.value,
        salt=opened.salt,
        issued_at=now,
        expires_at=now + 30 * 86400,
        chain_id=domain["chainId"],
        directory=domain["verifyingContract"],
    ).to_json()
    answer = world.post("/attestations", issuer, body)
    assert answer.status_code == 201, answer.text


def test_a_request_filed_in_the_browser_reaches_the_resident_as_asked(
    portal: Watched, world: World, dept_files: Path
) -> None:
    resident = world.enroll("asked")
    sign_in(portal, [dept_files / SIGNING_KEY_FILE, dept_files / ENCRYPTION_KEY_FILE])
    page = portal.page
    page.get_by_role("heading", name=ZH["dept.request.heading"]).wait_for(timeout=30_000)
    page.get_by_label(ZH["field.income"], exact=True).wait_for(timeout=30_000)
    # A mistyped address is refused in the browser, in words, before anything is signed.
    page.get_by_label(ZH["dept.request.resident"]).fill(resident.address[:-1])
    page.get_by_label(ZH["field.income"], exact=True).check()
    page.get_by_role("button", name=ZH["dept.request.submit"]).click()
    page.get_by_role("alert").filter(has_text=ZH["dept.request.bad_address"]).wait_for(
        timeout=10_000
    )
    assert not any(r["url"].endswith("/access-requests") for r in portal.requests)

    page.get_by_label(ZH["dept.request.resident"]).fill(resident.address)
    page.get_by_label(ZH["field.name"], exact=True).check()
    page.get_by_label(ZH["dept.request.purpose"]).select_option(label=ZH["purpose.HOUSING"])
    page.get_by_label(ZH["dept.request.days"]).fill("14")
    portal.axe("dept-request")
    portal.assert_fits_a_phone()
    page.get_by_role("button", name=ZH["dept.request.submit"]).click()
    said = page.locator("#dept-request-said")
    said.wait_for(timeout=60_000)

    (asked,) = listed(world.get(f"/residents/{resident.address}/access-requests", resident))
    assert said.inner_text() == ZH["dept.request.sent"].format(request=asked["request_id"])
    assert asked["department"] == world.dept.address
    assert sorted(asked["fields"]) == ["income", "name"]
    assert asked["purpose"] == "HOUSING"
    assert asked["duration"] == 14 * 86400
    assert asked["status"] == "pending"
    assert portal.progress_seen(ZH["dept.request.sending"])
    # Screenshot once sent: a full-page screenshot before the click made this chromium's
    # next click miss the submit button below the fold.
    portal.axe("dept-request-sent")
    portal.screenshot("dept-request")

    # The department's screens in English: every string from the strings.
    page.get_by_role("button", name=ZH["lang.label"]).click()
    page.get_by_role("heading", name=EN["dept.request.heading"]).wait_for(timeout=10_000)
    page.get_by_role("link", name=EN["nav.dept-consents"], exact=True).click()
    page.get_by_role("heading", name=EN["dept.consents.heading"]).wait_for(timeout=10_000)
    page.locator("#dept-consents-empty").wait_for(timeout=30_000)
    assert page.locator("#dept-consents-empty").inner_text() == EN["dept.consents.empty"]
    assert "dept." not in page.locator("main").inner_text()
    portal.axe("dept-consents-empty-en")
    portal.assert_clean()


def test_granted_fields_are_read_and_their_attestations_checked_on_chain_in_the_browser(
    portal: Watched, world: World, dept_files: Path
) -> None:
    resident = world.enroll("granter")
    assert world.upload(resident, VALUES).status_code == 200
    attested(world, world.issuer, resident, "name")
    attested(world, world.issuer2, resident, "income")
    distrust = world.post(
        f"/admin/issuers/{world.issuer2.address}/distrust",
        world.admin,
        world.body(
            world.admin,
            "DistrustIssuer",
            {"issuer": world.issuer2.address, "fields": ids("income")},
        ),
    )
    assert distrust.status_code == 200, distrust.text
    consent_id = world.grant(resident, world.dept, ["name", "income", "address"], max_uses=5)

    sign_in(portal, [dept_files / SIGNING_KEY_FILE, dept_files / ENCRYPTION_KEY_FILE])
    page = portal.page
    portal.go("dept-consents")
    card = page.locator(f"#dept-consent-{consent_id}")
    card.wait_for(timeout=30_000)
    assert resident.address in card.inner_text()
    assert card.locator(".consent-status").inner_text() == ZH["dept.status.active"]
    assert card.locator(".consent-uses").inner_text() == ZH["dept.consents.uses_of"].format(
        uses=0, max=5
    )
    assert ZH["purpose.HOUSING"] in card.inner_text()
    portal.axe("dept-consents")
    portal.assert_fits_a_phone()
    portal.screenshot("dept-consents")

    card.get_by_role("button", name=ZH["dept.read.submit"].format(consent=consent_id)).click()
    result = page.locator(f"#read-result-{consent_id}")
    result.wait_for(timeout=60_000)
    shown = {name: page.locator(f"#granted-{consent_id}-{name}").inner_text() for name in VALUES}
    for name, value in VALUES.items():
        assert page.locator(f"#granted-{consent_id}-{name} .granted-value").inner_text() == value
    verified = ZH["dept.read.verified"].format(issuer=world.issuer.address)
    assert "✓" in shown["name"] and verified in shown["name"], shown["name"]
    assert ZH["dept.attestation.untrusted_issuer"] in shown["income"], shown["income"]
    assert "✓" not in shown["income"]
    assert ZH["dept.attestation.absent"] in shown["address"], shown["address"]
    assert portal.progress_seen(ZH["dept.read.reading"])
    # The chain was asked, through the same origin's read-only JSON-RPC.
    assert any(r["url"].endswith("/chain") and "eth_call" in r["body"] for r in portal.requests)
    uses = card.locator(".consent-uses")
    page.wait_for_function(
        "([el, want]) => el.innerText === want",
        arg=[uses.element_handle(), ZH["dept.consents.uses_of"].format(uses=1, max=5)],
        timeout=30_000,
    )
    portal.axe("dept-read")
    portal.assert_fits_a_phone()
    portal.screenshot("dept-read")

    # A chain that cannot be read is "cannot tell", never "untrusted": said in words.
    page.route("**/chain", lambda route: route.abort())
    card.get_by_role("button", name=ZH["dept.read.submit"].format(consent=consent_id)).click()
    unverified = ZH["dept.read.unverified"].split("{detail}")[0]
    for name in ("name", "income"):
        mark = page.locator(f"#granted-{consent_id}-{name} .attestation")
        mark.filter(has_text=unverified).wait_for(timeout=60_000)
        assert "✓" not in mark.inner_text()
    absent = page.locator(f"#granted-{consent_id}-address .attestation").inner_text()
    assert ZH["dept.attestation.absent"] in absent
    page.unroute("**/chain")

    # The resident revokes: the next read is refused on chain, said in words.
    assert world.revoke(resident, consent_id).status_code == 200
    card.get_by_role("button", name=ZH["dept.read.submit"].format(consent=consent_id)).click()
    refused = explain({"status": 403, "reason": "revoked"}, language="zh-CN")  # api/locale
    card.get_by_role("alert").filter(has_text=refused).wait_for(timeout=60_000)
    assert card.get_by_role("alert").inner_text() == refused  # the sentence alone, in Chinese
    assert page.locator(f"#read-result-{consent_id}").count() == 0
    status = card.locator(".consent-status")
    page.wait_for_function(
        "([el, want]) => el.innerText === want",
        arg=[status.element_handle(), ZH["dept.status.revoked"]],
        timeout=30_000,
    )
    portal.axe("dept-read-refused")
    portal.screenshot("dept-read-refused")
    # The refused read logged a 403 and the cut-off chain failed loads (the browser
    # reports both); nothing else went wrong.
    expected = (
        "Failed to load resource: the server responded with a status of 403 (Forbidden)",
        "Failed to load resource: net::ERR_FAILED",
    )
    assert [e for e in portal.console_errors if e not in expected] == []
    assert portal.csp_violations() == []

    record = world.records[resident.address]
    dept = world.dept
    secrets = [
        to_hex(dept.x25519_private_key.private_bytes_raw()),
        dept.account.key.hex(),
        PASSWORD,
        *VALUES.values(),
        *(record.field_key(n).hex() for n in record.field_names),
        *(to_hex(v.salt) for v in record.values().values()),
    ]
    assert_nothing_secret_sent(portal, secrets)
    reads = [r for r in portal.requests if r["url"].endswith("/queries")]
    assert len(reads) == 3


def test_without_the_encryption_key_file_the_consents_are_listed_but_not_read(
    portal: Watched, world: World, dept_files: Path
) -> None:
    resident = world.enroll("keyless")
    assert world.upload(resident, VALUES).status_code == 200
    consent_id = world.grant(resident, world.dept, ["name"])
    sign_in(portal, [dept_files / SIGNING_KEY_FILE])
    page = portal.page
    portal.go("dept-consents")
    page.locator("#dept-needs-key").wait_for(timeout=30_000)
    assert page.locator("#dept-needs-key").inner_text() == ZH["dept.read.needs_key"]
    page.locator(f"#dept-consent-{consent_id}").wait_for(timeout=30_000)
    assert page.get_by_role("button", name=ZH["dept.read.submit"].split("{")[0]).count() == 0
    portal.axe("dept-consents-no-key")
    portal.assert_clean()


# ---------------------------------------------------------------- the check itself, in Node

#: checkField of deptAttestation.js on each case of stdin's request, as the browser runs
#: it (the same module), with the chain's two reads answered from the case.
_CHECK = """
import { readFileSync } from "node:fs";
const request = JSON.parse(readFileSync(0, "utf8"));
const { checkField } = await import(request.module);
const { intentSpec } = await import(request.eip712Module);
const spec = intentSpec(request.eip712, "Attest");
const out = [];
for (const c of request.cases) {
  const isTrusted = async (issuer, fieldId, at) =>
    c.trust.some(([since, until]) =>
      BigInt(since) <= BigInt(at) && (until === 0 || BigInt(at) < BigInt(until)));
  const recordedAt = async () => {
    if (c.broken) throw new Error("the node is down");
    return BigInt(c.recorded);
  };
  const { resident, field, value, salt } = c;
  const now = BigInt(c.now);
  const check = { spec, resident, field, value, salt, isTrusted, recordedAt, now };
  out.push(await checkField(c.attestations, check));
}
process.stdout.write(JSON.stringify(out));
"""


def test_the_browsers_attestation_check_gives_the_reasons_wallets_attestation_gives() -> None:
    """Each way an attestation fails, made with the Python wallet: deptAttestation.js
    (in Node, the module the browser loads) says what pick_attestation says."""
    executable = shutil.which("node")
    assert executable is not None, "node is required (./dev setup installs it)"
    chain_id, directory = 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    issuer, other, resident, stranger = (Identity.create() for _ in range(4))
    value, salt, now = "48317", secrets.token_bytes(32), 1_000_000
    where = {"chain_id": chain_id, "directory": directory}

    def made(by: Identity = issuer, **kw: Any) -> dict[str, Any]:
        terms: dict[str, Any] = {
            "resident": resident.address,
            "field": "income",
            "value": value,
            "salt": salt,
            "issued_at": now - 100,
            "expires_at": now + 1000,
            **where,
            **kw,
        }
        return attest(by, **terms).to_json()

    genuine = made()
    forged = dict(genuine)
    forged["signature"] = to_hex(
        sign_intent(
            other.account.key,
            "Attest",
            made()["message"],
            chain_id=chain_id,
            verifying_contract=directory,
        )
    )
    open_trust = [[1, 0]]
    cases: dict[str, dict[str, Any]] = {
        "verified": {"attestations": [genuine]},
        "bad_signature": {"attestations": [forged]},
        "wrong_resident": {"attestations": [made(resident=stranger.address)]},
        "wrong_field": {"attestations": [made(field="name")]},
        "commitment_mismatch": {"attestations": [made(value="1")]},
        "not_yet_valid": {"attestations": [made(issued_at=now + 10)]},
        "expired": {"attestations": [made(expires_at=now)]},
        "not_recorded": {"attestations": [genuine], "recorded": 0},
        "untrusted_issuer": {"attestations": [genuine], "trust": [[1, now]]},
        "never_trusted": {"attestations": [genuine], "trust": []},
        "picked": {"attestations": [made(by=other, value="1"), genuine]},
        "closest": {"attestations": [made(by=other, value="1"), made(expires_at=now)]},
        "absent": {"attestations": []},
    }
    for case in cases.values():
        case.setdefault("recorded", now - 50)
        case.setdefault("trust", open_trust)
    request = {
        "module": (PORTAL_SRC / "app" / "deptAttestation.js").as_uri(),
        "eip712Module": (PORTAL_SRC / "crypto" / "eip712.js").as_uri(),
        "eip712": {
            "intents": {
                "Attest": {
                    "domain": domain(chain_id, directory),
                    "types": eip712_types("Attest"),
                    "primaryType": "Attest",
                }
            }
        },
        "cases": [
            {**c, "resident": resident.address, "field": "income", "value": value}
            | {"salt": to_hex(salt), "now": now}
            for c in [*cases.values(), {**cases["verified"], "broken": True}]
        ],
    }
    ran = subprocess.run(
        [executable, "--input-type=module", "-e", _CHECK],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        cwd=PORTAL_SRC.parent,
        timeout=60,
    )
    *checked, broken = json.loads(ran.stdout)

    def python(case: dict[str, Any]) -> str:
        def is_trusted(_issuer: str, _field: bytes, at: int) -> bool:
            return any(s <= at and (u == 0 or at < u) for s, u in case["trust"])

        try:
            _, who = pick_attestation(
                case["attestations"],
                resident=resident.address,
                field="income",
                value=value,
                salt=salt,
                is_trusted=is_trusted,
                recorded_at=lambda _digest: case["recorded"],
                now=now,
                chain_id=chain_id,
                directory=directory,
            )
        except InvalidAttestation as exc:
            return exc.reason
        return f"verified by {who}"

    js = [
        f"verified by {c['issuer']}" if c["status"] == "verified" else c["reason"] for c in checked
    ]
    assert js == [python(c) for c in cases.values()]
    expected = {**{k: k for k in cases}, "never_trusted": "untrusted_issuer"}
    expected |= {"picked": "verified", "closest": "expired"}
    assert [r.split(" by ")[0] for r in js] == [expected[k] for k in cases]
    assert js[0] == f"verified by {issuer.address}"
    # A chain that cannot be read is "cannot tell", never one of the failures.
    assert (broken["status"], broken["reason"]) == ("unverified", "chain_unreadable")


def test_the_departments_requests_show_their_answers_and_a_pending_one_is_withdrawn(
    portal: Watched, world: World, dept_files: Path
) -> None:
    resident = world.enroll("answering")
    file_request(world, resident, ["income"])
    file_request(world, resident, ["name", "phone"])
    mine = listed(world.get(f"/residents/{resident.address}/access-requests", resident))
    declined = next(r for r in mine if r["fields"] == ["income"])
    pending = next(r for r in mine if r["fields"] != ["income"])
    body = world.body(
        resident,
        "DeclineRequest",
        {
            "resident": resident.address,
            "requestId": declined["request_id"],
            "reason": name_to_bytes32("TOO_LONG"),
        },
    )
    answer = world.post(f"/access-requests/{declined['request_id']}/decline", resident, body)
    assert answer.status_code == 200, answer.text

    sign_in(portal, [dept_files / SIGNING_KEY_FILE, dept_files / ENCRYPTION_KEY_FILE])
    page = portal.page
    portal.go("dept-requests")
    no = page.locator(f"#filed-{declined['request_id']}")
    no.wait_for(timeout=30_000)
    assert no.locator(".filed-status").inner_text().strip() == ZH["dept.requests.status.declined"]
    assert no.locator(".filed-reason").inner_text() == ZH["requests.reason.TOO_LONG"]
    assert no.get_by_role("button").count() == 0
    waiting = page.locator(f"#filed-{pending['request_id']}")
    status = ZH["dept.requests.status.pending"]
    assert waiting.locator(".filed-status").inner_text().strip() == status
    portal.axe("dept-requests")
    portal.assert_fits_a_phone()
    portal.screenshot("dept-requests")

    waiting.get_by_role("button", name=ZH["dept.requests.withdraw"]).click()
    page.locator("#dept-requests-said").wait_for(timeout=60_000)
    withdrawn = ZH["dept.requests.status.withdrawn"]
    waiting.locator(".filed-status").filter(has_text=withdrawn).wait_for(timeout=30_000)
    mine = listed(world.get(f"/residents/{resident.address}/access-requests", resident))
    assert {r["request_id"]: r["status"] for r in mine} == {
        declined["request_id"]: "declined",
        pending["request_id"]: "withdrawn",
    }
    portal.assert_clean()
