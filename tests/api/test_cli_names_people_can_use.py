"""Names people can use: ``consent schema`` says what each field and purpose means,
names are taken in any case, and a near miss is answered with the closest name."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from ledger.vocabulary import (
    FIELDS,
    PURPOSES,
    ROLE_NAMES,
    SEED_FIELDS,
    SEED_PURPOSES,
    describe,
    did_you_mean,
    match,
    mismatches,
)
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}


def test_every_seeded_name_has_a_meaning_and_nothing_else_does() -> None:
    assert mismatches() == {}
    assert all(describe("field", f) for f in SEED_FIELDS)
    assert all(describe("purpose", p) for p in SEED_PURPOSES)
    assert all(describe("role", r) for r in ROLE_NAMES)


def test_names_match_in_any_case_and_near_misses_find_the_closest() -> None:
    assert match("INCOME", FIELDS) == "income"
    assert match("housing", PURPOSES) == "HOUSING"
    assert did_you_mean("incme", FIELDS) == "income"
    assert did_you_mean("Houseing", PURPOSES) == "HOUSING"
    assert did_you_mean("zzzzzz", FIELDS) is None


def test_consent_schema_lists_fields_and_purposes_with_their_meaning(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["schema", "--api", served.url], env=WIDE)
    assert result.exit_code == 0, result.output
    for name in ("income", "household_registration", "HOUSING", "SOCIAL_ASSISTANCE"):
        assert name in result.stdout
    assert FIELDS["income"] in result.stdout and PURPOSES["HOUSING"] in result.stdout
    rows = json.loads(runner.invoke(cli, ["schema", "--api", served.url, "--json"]).stdout)
    assert {"kind": "field", "name": "income", "meaning": FIELDS["income"]} in rows
    assert {r["name"] for r in rows if r["kind"] == "purpose"} == set(SEED_PURPOSES)


def test_a_request_takes_field_and_purpose_names_in_any_case(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    dept = served.wallet(w.dept, "dept")
    result = runner.invoke(
        cli,
        ["request", "create", w.resident.address, "-f", "INCOME", "-f", "Name", "-p", "housing",
         *dept],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "income, name for HOUSING" in result.stdout
    [row] = w.get("/access-requests", w.dept).json()["data"]
    assert sorted(row["fields"]) == ["income", "name"] and row["purpose"] == "HOUSING"


def test_a_near_miss_is_refused_with_did_you_mean_and_nothing_is_filed(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    dept = served.wallet(w.dept, "dept")
    typo = runner.invoke(
        cli, ["request", "create", w.resident.address, "-f", "incme", "-p", "HOUSING", *dept]
    )
    assert typo.exit_code == 1
    assert "did you mean `income`?" in typo.stderr
    purpose = runner.invoke(
        cli, ["request", "create", w.resident.address, "-f", "income", "-p", "HOUSNG", *dept]
    )
    assert purpose.exit_code == 1
    assert "did you mean `HOUSING`?" in purpose.stderr
    department = runner.invoke(
        cli, ["grant", "Housing Bureu", "-f", "income", "-p", "HOUSING", "--yes",
              *served.wallet(w.resident, "resident")],
    )  # fmt: skip
    assert department.exit_code == 1
    assert "did you mean `Housing Bureau`?" in department.stderr
    assert w.get("/access-requests", w.dept).json()["data"] == []
    assert w.get(f"/residents/{w.resident.address}/consents", w.resident).json()["data"] == []
