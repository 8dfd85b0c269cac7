"""The CLI for delegates and guardians: ``consent delegate appoint|list|remove``.

An appointment restates who, each power in words and until when before its signature
(and without ``--yes`` or a terminal signs nothing); the list says what each delegate
may do and who appointed it; a removal re-encrypts the record; a registrar appoints a
guardian with ``--for``; refusals are sentences, never tracebacks. All over real HTTP
against a served node, as a user types the commands.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}


def run(runner: CliRunner, cli: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(cli, list(args), env=WIDE)
    assert result.exit_code == code, result.output
    return result


def delegates_of(s: Served, who: Any) -> list[dict[str, Any]]:
    w = s.world
    answer = w.get(f"/residents/{who.address}/delegates", who)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_resident_appoints_lists_and_removes_a_delegate_in_words(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    resident = served.wallet(w.resident, "resident")
    delegate = w.resident2.address

    unasked = run(
        runner, cli, "delegate", "appoint", delegate, "--powers", "Grant,read", "--days", "30",
        *resident, code=1,
    )  # fmt: skip

    terms = unasked.stderr
    assert f"You are about to appoint {delegate} as your delegate" in terms
    assert "grant: grant consents and bundles, decline requests" in terms
    assert "read: read the record, consents, requests and access log" in terms
    assert "revoke:" not in terms and "commit:" not in terms
    assert "30 days from now" in terms
    assert "every field of your record is wrapped for its key" in terms
    assert "not signed: an appointment needs your confirmation" in terms
    assert delegates_of(served, w.resident) == []

    said = run(
        runner, cli, "delegate", "appoint", delegate, "--powers", "grant,read", "--days", "30",
        "--yes", *resident,
    ).stdout  # fmt: skip

    assert f"{delegate} appointed delegate of {w.resident.address}" in said
    assert "may grant, read" in said
    assert "holds the keys of record version 1: address, income, name, phone" in said
    assert " in block " in said and f"consent delegate remove {delegate}" in said
    shown = run(runner, cli, "delegate", "list", *resident).stdout
    assert f"delegates of {w.resident.address}" in shown
    for words in (delegate, "grant, read", "active", "the resident", "v1"):
        assert words in shown, words
    assert "grant: grant consents and bundles" in shown
    as_json = json.loads(run(runner, cli, "delegate", "list", "--json", *resident).stdout)
    assert as_json == delegates_of(served, w.resident)
    # the delegate lists them too, naming the resident
    theirs = served.wallet(w.resident2, "delegate")
    assert delegate in run(runner, cli, "delegate", "list", w.resident.address, *theirs).stdout

    gone = run(runner, cli, "delegate", "remove", delegate, *resident).stdout

    assert f"{delegate} is no longer a delegate of {w.resident.address}" in gone
    assert "record version 2: fresh keys and salts for every field" in gone
    (entry,) = delegates_of(served, w.resident)
    assert entry["status"] == "removed"
    assert "removed by the resident" in run(runner, cli, "delegate", "list", *resident).stdout
    after = w.get(f"/residents/{w.resident.address}/record", w.resident).json()
    assert after["version"] == 2
    # a past delegate is refused in a sentence, not a traceback
    refused = run(runner, cli, "delegate", "list", w.resident.address, *theirs, code=1)
    assert "was removed: it no longer acts or reads in their name" in refused.stderr
    assert "Traceback" not in refused.output


def test_a_registrar_appoints_a_guardian_for_a_child_and_only_a_registrar_removes_it(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    child, guardian = w.enroll("child"), w.enroll("guardian")
    registrar = served.wallet(w.registrar, "registrar")

    said = run(
        runner, cli, "delegate", "appoint", guardian.address, "--powers", "all", "--days", "365",
        "--for", child.address, "--yes", *registrar,
    )  # fmt: skip

    assert f"You are about to appoint {guardian.address} as guardian of {child.address}" in (
        said.stderr
    )
    assert "keys    none" in said.stderr
    assert f"{guardian.address} appointed guardian of {child.address}" in said.stdout
    assert "may grant, revoke, commit, read" in said.stdout
    assert f"--for {child.address}` ends it" in said.stdout
    (entry,) = delegates_of(served, child)
    assert (entry["guardian"], entry["appointed_by"]) == (True, w.registrar.address)
    listed = run(runner, cli, "delegate", "list", child.address, *registrar, code=1)
    assert "error:" in listed.stderr  # a registrar is neither the child nor its delegate

    own = served.wallet(child, "child")
    refused = run(runner, cli, "delegate", "remove", guardian.address, *own, code=1)
    assert "only a registrar may replace or remove them" in refused.stderr
    assert delegates_of(served, child)[0]["status"] == "active"

    done = run(
        runner, cli, "delegate", "remove", guardian.address, "--for", child.address, *registrar
    ).stdout
    assert f"{guardian.address} is no longer a delegate of {child.address}" in done
    assert "record version" not in done  # a registrar holds no keys to rotate
    assert delegates_of(served, child)[0]["removed_by"] == w.registrar.address


def test_bad_appointments_are_refused_in_a_sentence_and_sign_nothing(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    resident = served.wallet(w.resident, "resident")
    delegate = w.resident2.address

    typo = run(
        runner, cli, "delegate", "appoint", delegate, "--powers", "grnt", "--yes", *resident,
        code=1,
    )  # fmt: skip
    assert "'grnt' is not a delegate's power: did you mean `grant`?" in typo.stderr
    address = run(
        runner, cli, "delegate", "appoint", "0x1234", "--powers", "read", "--yes", *resident,
        code=1,
    )  # fmt: skip
    assert "ADDRESS must be an address" in address.stderr
    stranger = "0x" + "ab" * 20
    unknown = run(
        runner, cli, "delegate", "appoint", stranger, "--powers", "read", "--yes", *resident,
        code=1,
    )  # fmt: skip
    assert "error:" in unknown.stderr and "Traceback" not in unknown.output
    revoke_only = run(
        runner, cli, "delegate", "appoint", w.resident.address, "--powers", "revoke", "--yes",
        *resident, code=1,
    )  # fmt: skip
    assert "cannot be its own delegate" in revoke_only.stderr
    never = run(runner, cli, "delegate", "remove", delegate, *resident, code=1)
    assert "holds no appointment" in never.stderr
    assert delegates_of(served, w.resident) == []
    assert "has no delegates" in run(runner, cli, "delegate", "list", *resident).stdout
