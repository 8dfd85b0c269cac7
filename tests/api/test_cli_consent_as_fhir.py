"""``consent consents --fhir ID`` prints the consent as the FHIR R5 ``Consent`` the API
answers (a valid one, by the ``fhir.resources`` R5 models); someone who may not read the
consent is told so and the command fails. Over real HTTP against a served node."""

from __future__ import annotations

import json

import typer
from fhir.resources.consent import Consent
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}


def test_consents_fhir_prints_the_consent_as_a_fhir_resource(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    consent_id = w.grant(w.resident, w.dept, ["income", "name"])
    result = runner.invoke(
        cli, ["consents", "--fhir", str(consent_id), *served.wallet(w.dept, "dept")], env=WIDE
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    Consent.model_validate(printed)
    assert printed == w.get(f"/consents/{consent_id}/fhir", w.dept).json()
    assert printed["id"] == str(consent_id)
    assert printed["status"] == "active"
    assert printed["grantor"][0]["identifier"]["value"] == w.resident.address
    assert printed["grantee"][0]["display"] == "Housing Bureau"
    assert [d["reference"]["identifier"]["value"] for d in printed["provision"][0]["data"]] == [
        "income",
        "name",
    ]


def test_consents_fhir_for_someone_elses_consent_fails_with_the_reason(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    consent_id = w.grant(w.resident, w.dept, ["income"])
    result = runner.invoke(
        cli, ["consents", "--fhir", str(consent_id), *served.wallet(w.dept2, "dept2")], env=WIDE
    )
    assert result.exit_code != 0
    assert (
        "only the consent's resident (or its delegate holding the read power), its department"
        " and auditors read it" in result.output
    )
    assert "resourceType" not in result.stdout
