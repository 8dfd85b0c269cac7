"""The CLI answers requests and sets purpose policies: ``consent request decline ID
--reason CODE``, ``consent request withdraw ID``, ``consent admin policy set PURPOSE
--field ... --max-days N``, and ``consent request list`` shows each request's status.

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


def run(runner: CliRunner, cli: typer.Typer, *args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args), env=WIDE)
    assert result.exit_code == code, result.output
    return result.output


def file(runner: CliRunner, cli: typer.Typer, resident: str, dept: list[str]) -> str:
    run(runner, cli, "request", "create", resident, "-f", "income", "-p", "HOUSING", *dept)
    rows = json.loads(run(runner, cli, "request", "list", "--json", *dept))
    return str(rows[0]["request_id"])  # newest first


def test_requests_declined_and_withdrawn_and_a_policy_set_from_the_command_line(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    dept = served.wallet(w.dept, "dept")
    resident = served.wallet(w.resident, "resident")
    admin = served.wallet(w.admin, "admin")

    declined = file(runner, cli, w.resident.address, dept)
    said = run(runner, cli, "request", "decline", declined[:12], "--reason", "too_long", *resident)
    assert "declined (TOO_LONG): Housing Bureau is told" in said
    bad = run(runner, cli, "request", "decline", declined[:12], "-r", "BORED", *resident, code=1)
    assert "'BORED' is not a reason code" in bad
    again = run(runner, cli, "request", "decline", declined[:12], *resident, code=1)
    assert "already answered" in again

    withdrawn = file(runner, cli, w.resident.address, dept)
    assert "withdrawn" in run(runner, cli, "request", "withdraw", withdrawn[:12], *dept)

    listed = run(runner, cli, "request", "list", *dept)
    assert "declined (TOO_LONG)" in listed and "withdrawn" in listed
    rows = {
        r["request_id"]: r
        for r in json.loads(run(runner, cli, "request", "list", "--json", "--all", *resident))
    }
    assert rows[declined]["status"] == "declined" and rows[declined]["reason"] == "TOO_LONG"
    assert rows[withdrawn]["status"] == "withdrawn"

    set_policy = run(
        runner, cli, "admin", "policy", "set", "housing", "--field", "income",
        "--field", "name", "--max-days", "7", *admin,
    )  # fmt: skip
    assert "policy for HOUSING: income, name; at most 7 days" in set_policy
    schema = w.get("/schema", None).json()
    assert schema["policies"]["HOUSING"] == {
        "fields": ["income", "name"],
        "max_duration": 7 * 86_400,
    }
    refused = run(
        runner, cli, "request", "create", w.resident.address, "-f", "phone", "-p", "HOUSING",
        "--days", "3", *dept, code=1,
    )  # fmt: skip
    assert "does not allow the field" in refused
