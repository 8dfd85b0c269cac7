"""Emergency access from the command line, over real HTTP on the embedded chain and on
anvil: ``consent admin role emergency`` names what an ambulance service may read,
``consent emergency directive|show`` leaves and shows a resident's directive, ``consent
emergency access`` reads it (the justification's text and salt kept in the wallet, only
their salted hash on chain), ``consent emergency queue|review`` is the auditor's
follow-up; a rotation re-wraps the directive, a withdrawal ends it, and every refusal is
one sentence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from eth_utils import keccak
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import Served
from wallets.emergency import JUSTIFICATION, REVIEW_NOTES, SaltedText

cli, runner = cli_helpers.cli, cli_helpers.runner
served_embedded, served_anvil = cli_helpers.served, cli_helpers.served_anvil
WIDE = {"COLUMNS": "240"}
PATIENT = {
    "name": "Wang Fang",
    "phone": "139 0000 1234",
    "health_summary": "type 1 diabetes; allergic to penicillin",
    "income": "31000",
}


@pytest.fixture(params=["embedded", "anvil"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    name = "served_embedded" if request.param == "embedded" else "served_anvil"
    yield request.getfixturevalue(name)


def run(runner: CliRunner, cli: typer.Typer, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args), env=WIDE)
    assert result.exit_code == code, result.output
    return result.output


def run_json(runner: CliRunner, cli: typer.Typer, *args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def kept(served: Served, wallet: str, name: str) -> list[dict[str, Any]]:
    path = served.folder / wallet / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_directive_an_emergency_read_and_its_review_from_the_command_line(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    ambulance_identity = w.register_department("ambulance", "120 Emergency Centre", "EMS")
    patient_identity = w.enroll("patient")
    assert w.upload(patient_identity, PATIENT).status_code == 200
    admin = served.wallet(w.admin, "admin")
    patient = served.wallet(patient_identity, "patient")
    ambulance = served.wallet(ambulance_identity, "ambulance")
    auditor = served.wallet(w.auditor, "auditor")
    address = patient_identity.address

    granted = run(runner, cli, "admin", "role", "emergency", ambulance_identity.address,
                  "-f", "health_summary,name,phone", *admin)  # fmt: skip
    assert "is now emergency" in granted
    left = run(runner, cli, "emergency", "directive", "--department", "EMS",
               "--fields", "health_summary,phone", "--days", "30", *patient)  # fmt: skip
    assert "120 Emergency Centre" in left and "health_summary, phone" in left
    assert "(active)" in left
    assert "health_summary, phone" in run(runner, cli, "emergency", "show", *patient)

    read = run(runner, cli, "emergency", "access", address, "--fields", "health_summary",
               "--reason", "unconscious", "--justification", "found unconscious at home",
               *ambulance)  # fmt: skip

    assert "emergency access 1 recorded" in read
    assert PATIENT["health_summary"] in read
    assert "text: found unconscious at home" in read and "salt: 0x" in read
    (line,) = kept(served, "ambulance", "emergency-justifications.jsonl")
    salted = SaltedText.from_json(line)
    assert (salted.tag, salted.text, line["reason"]) == (
        JUSTIFICATION, "found unconscious at home", "UNCONSCIOUS",
    )  # fmt: skip
    (event,) = w.get("/audit/events", w.auditor, type="EmergencyAccessed").json()["data"]
    on_chain = event["args"]["justificationHash"]
    assert salted.matches(on_chain) and on_chain == line["hash"]
    assert on_chain != "0x" + keccak(text=salted.text).hex()  # salted, not the text's hash
    assert salted.text not in json.dumps(event)

    refused = run(runner, cli, "emergency", "access", address, "-f", "income",
                  "--justification", "x", *ambulance, code=1)  # fmt: skip
    assert "Emergency access refused: the resident's emergency directive does not cover" in (
        refused
    )
    assert "recorded on chain" in refused

    pending = run(runner, cli, "emergency", "queue", *auditor)
    assert "pending" in pending and "120 Emergency Centre" in pending
    assert "health_summary" in pending and "UNCONSCIOUS" in pending
    reviewed = run(runner, cli, "emergency", "review", "1", "justified",
                   "--notes", "the crew log confirms it", *auditor)  # fmt: skip
    assert "emergency access 1 reviewed justified in time" in reviewed
    (notes,) = kept(served, "auditor", "emergency-review-notes.jsonl")
    assert (notes["tag"], notes["access_id"]) == (REVIEW_NOTES, 1)
    (review,) = w.get("/audit/events", w.auditor, type="EmergencyReviewed").json()["data"]
    assert SaltedText.from_json(notes).matches(review["args"]["notesHash"])
    assert "justified by" in run(runner, cli, "emergency", "queue", "--status", "reviewed",
                                 *auditor)  # fmt: skip
    none = run(runner, cli, "emergency", "queue", "--status", "pending", *auditor)
    assert "no pending emergency accesses" in none
    again = run(runner, cli, "emergency", "review", "1", "unjustified", *auditor, code=1)
    assert "reviewed already" in again

    rotated = run(runner, cli, "record", "rotate", *patient)
    assert "re-wrapped the new keys for your emergency directive" in rotated
    after = run_json(runner, cli, "emergency", "access", address, "-f", "health_summary",
                     "--justification", "second call-out", *ambulance)  # fmt: skip
    assert after["fields"]["health_summary"]["value"] == PATIENT["health_summary"]
    assert (after["version"], after["fields"]["health_summary"]["version"]) == (2, 2)
    assert SaltedText.from_json(after["justification"]).text == "second call-out"

    withdrawn = run(runner, cli, "emergency", "directive", "--withdraw", *patient)
    assert "withdrawn" in withdrawn
    gone = run(runner, cli, "emergency", "access", address, "-f", "phone",
               "--justification", "third call-out", *ambulance, code=1)  # fmt: skip
    assert "has left no emergency directive for your department" in gone


def test_incomplete_emergency_commands_are_refused_in_one_line_before_any_call(
    served_embedded: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served_embedded.world
    resident = served_embedded.wallet(w.resident, "resident")
    dept = served_embedded.wallet(w.dept, "dept")
    auditor = served_embedded.wallet(w.auditor, "auditor")
    before = w.get("/audit/events", w.auditor, limit=1000).json()["data"]
    cases = [
        (["emergency", "directive", "--fields", "phone", *resident], "name the emergency"),
        (["emergency", "directive", "--withdraw", "-f", "phone", *resident], "--withdraw takes"),
        (["emergency", "access", w.resident.address, "-f", "phone", *dept], "--justification"),
        (["emergency", "access", w.resident.address, "--justification", "x", *dept], "--fields"),
        (["emergency", "review", "1", "maybe", *auditor], "justified or unjustified"),
        (["emergency", "queue", "--status", "late", *auditor], "pending, overdue, reviewed"),
        (["admin", "role", "emergency", w.dept.address, *auditor], "an emergency department"),
    ]
    for args, message in cases:
        said = run(runner, cli, *args, code=1)
        assert message in said, (args, said)
        assert "Traceback" not in said
    # the department without the role is refused on chain, in words
    refused = run(runner, cli, "emergency", "access", w.resident.address, "-f", "phone",
                  "--justification", "x", *dept, code=1)  # fmt: skip
    assert "does not hold the emergency role" in refused
    after = w.get("/audit/events", w.auditor, limit=1000).json()["data"]
    assert [e["type"] for e in after[len(before) :]] == ["EmergencyDenied"]
