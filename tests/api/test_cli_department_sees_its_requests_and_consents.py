"""A department's clerk sees its own requests (with status) and the consents given to it
(id, resident, fields, status, time left); the request id a table shows pastes back.

All over real HTTP against a served node, through the commands as a user types them.
"""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}


def run(runner: CliRunner, cli: typer.Typer, *args: str) -> str:
    result = runner.invoke(cli, list(args), env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_department_lists_its_requests_with_status_and_its_consents_with_time_left(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    dept = served.wallet(w.dept, "dept")
    resident = served.wallet(w.resident, "resident")

    filed = run(
        runner, cli, "request", "create", w.resident.address, "-f", "income,name",
        "-p", "HOUSING", "--days", "10", *dept,
    )  # fmt: skip
    assert "filed: income, name for HOUSING, 10 days" in filed

    listed = run(runner, cli, "request", "list", *dept)
    assert "no requests" not in listed and "filed no requests" not in listed
    assert w.resident.address[:12] in listed and "pending" in listed
    [row] = json.loads(run(runner, cli, "request", "list", "--json", *dept))
    assert row["status"] == "pending" and row["resident"] == w.resident.address

    # The resident pastes the id exactly as its table shows it.
    shown = run(runner, cli, "request", "list", *resident)
    label = row["request_id"][:12]
    assert label in shown
    granted = run(runner, cli, "grant", "--request", label, "--yes", *resident)
    assert "granted: Housing Bureau may read income, name for HOUSING" in granted
    consent_id = granted.split("consent ", 1)[1].split(" ", 1)[0]

    answered = run(runner, cli, "request", "list", *dept)
    assert f"granted → consent {consent_id}" in answered

    consents = run(runner, cli, "consents", *dept)
    assert "no consents" not in consents
    line = next(x for x in consents.splitlines() if x.lstrip("│┃ ").startswith(consent_id + " "))
    assert w.resident.address[:12] in line
    assert "income, name" in line and "HOUSING" in line and "active" in line
    assert "9 days 23 hours" in line or "10 days" in line  # time left
    [consent] = json.loads(run(runner, cli, "consents", "--json", *dept))
    assert consent["consent_id"] == int(consent_id)


def test_a_department_with_nothing_filed_is_told_so_plainly(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    dept2 = served.wallet(served.world.dept2, "dept2")
    assert "you have filed no requests" in run(runner, cli, "request", "list", *dept2)
    assert "no consents given to you yet" in run(runner, cli, "consents", *dept2)


def test_a_request_id_prefix_that_matches_nothing_says_where_the_ids_are(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    resident = served.wallet(served.world.resident, "resident")
    result = runner.invoke(cli, ["grant", "--request", "0xdeadbeef", "--yes", *resident])
    assert result.exit_code == 1
    assert "no request 0xdeadbeef" in result.stderr
    assert "consent request list --all" in result.stderr
