"""The CLI for services and bundles: ``consent admin service define|list``, ``consent
bundle grant|show|revoke``. A bundle grant says every department, field, purpose,
duration and use count before its one signature; ``--narrow`` narrows an item and a
widening is refused in a sentence with nothing signed.

All over real HTTP against a served node, through the commands as a user types them.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.bundles import SERVICE, define_service, three_departments
from tests.api.cli_helpers import Served
from tests.api.test_bundles import read
from tests.api.test_cli_grant_says_what_it_signs import answer_on_a_terminal
from tests.api.test_server_trust import serving_attackers_key
from wallets.identity import Identity

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}
DAY = 86_400


def run(runner: CliRunner, cli: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(cli, list(args), env=WIDE)
    assert result.exit_code == code, result.output
    return result


def consents_of(s: Served) -> list[dict[str, Any]]:
    w = s.world
    return list(w.get(f"/residents/{w.resident.address}/consents", w.resident).json()["data"])


def test_the_admin_defines_a_service_and_anyone_lists_it_by_name(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    three_departments(w)
    admin = served.wallet(w.admin, "admin")
    said = run(
        runner, cli, "admin", "service", "define", SERVICE, "--name", "Newborn registration",
        "--item", "hb:Name,address:housing:30d:5",
        "--item", "Tax Office:income,name:SOCIAL_ASSISTANCE:60",
        "--item", f"{w.dept3.address}:name,phone:HEALTHCARE:10d:1",
        *admin,
    ).stdout  # fmt: skip
    assert f"service {SERVICE} (Newborn registration) defined, 3 items" in said
    assert " in block " in said
    assert f"consent bundle grant {SERVICE}" in said
    (listed,) = w.get("/services", None).json()["services"]
    assert [
        (i["department_name"], i["fields"], i["purpose"], i["duration"], i["max_uses"])
        for i in listed["items"]
    ] == [
        ("Housing Bureau", ["address", "name"], "HOUSING", 30 * DAY, 5),
        ("Tax Office", ["income", "name"], "SOCIAL_ASSISTANCE", 60 * DAY, 0),
        ("Health Commission", ["name", "phone"], "HEALTHCARE", 10 * DAY, 1),
    ]
    shown = run(runner, cli, "admin", "service", "list", "--api", served.url).stdout
    assert f"{SERVICE}: Newborn registration" in shown
    for words in ("Housing Bureau", "Tax Office", "Health Commission", "SOCIAL_ASSISTANCE"):
        assert words in shown
    assert "30 days" in shown and "60 days" in shown and "no cap" in shown
    as_json = json.loads(
        run(runner, cli, "admin", "service", "list", "--json", "--api", served.url).stdout
    )
    assert as_json == [listed]


def test_a_malformed_item_or_a_resident_defining_is_refused_and_defines_nothing(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    admin = served.wallet(w.admin, "admin")
    resident = served.wallet(w.resident, "resident")
    bad = run(
        runner, cli, "admin", "service", "define", "X", "--name", "x", "--item", "HB:name",
        *admin, code=1,
    )  # fmt: skip
    assert "--item takes DEPT:FIELDS:PURPOSE:DURATION[:MAXUSES]" in bad.stderr
    late = run(
        runner, cli, "admin", "service", "define", "X", "--name", "x",
        "--item", "HB:name:HOUSING:soon", *admin, code=1,
    )  # fmt: skip
    assert "a number of days or a number with a unit (30d, 12h" in late.stderr
    refused = run(
        runner, cli, "admin", "service", "define", "X", "--name", "x",
        "--item", "HB:name:HOUSING:30d", *resident, code=1,
    )  # fmt: skip
    assert "error:" in refused.stderr and "Traceback" not in refused.output
    assert w.get("/services", None).json() == {"services": []}


def test_a_bundle_grant_shows_every_item_in_words_and_without_yes_signs_nothing(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert define_service(w).status_code == 200
    resident = served.wallet(w.resident, "resident")
    before = w.get(f"/nonces/{w.resident.address}", None).json()

    terms = run(runner, cli, "bundle", "grant", SERVICE.lower(), *resident, code=1).stderr

    assert "You are about to sign this bundle: one signature, 3 consents" in terms
    assert f"{SERVICE}: 新生儿出生登记" in terms
    assert f"Housing Bureau (HB, {w.dept.address})" in terms
    assert f"Tax Office (TX, {w.dept2.address})" in terms
    assert f"Health Commission (HC, {w.dept3.address})" in terms
    assert "address (home address), name (full legal name)" in terms
    assert "income (yearly income), name (full legal name)" in terms
    assert "HOUSING: housing assistance" in terms
    assert "SOCIAL_ASSISTANCE: social assistance and subsidies" in terms
    assert "HEALTHCARE: medical care and health insurance" in terms
    assert "30 days: until about" in terms and "60 days" in terms and "10 days" in terms
    assert "at most 5 reads" in terms and "unlimited" in terms and "at most 1 reads" in terms
    assert "run it again with --yes" in terms
    assert consents_of(served) == []
    assert w.get(f"/nonces/{w.resident.address}", None).json() == before


def test_a_narrowed_bundle_is_granted_with_one_signature_and_each_department_reads_its_fields(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert define_service(w).status_code == 200
    d1, d2, d3 = three_departments(w)
    resident = served.wallet(w.resident, "resident")

    result = run(
        runner, cli, "bundle", "grant", SERVICE, "--narrow", "HB:fields=name",
        "--narrow", "hb:uses=2", "--narrow", "Tax Office:days=10", "--yes", *resident,
    )  # fmt: skip

    terms, said = result.stderr, result.stdout
    assert "narrowed" in terms and "the service allows address, name; 30 days; 5 reads" in terms
    consents = {c["department"]: c for c in consents_of(served)}
    assert {a: c["bundle_id"] for a, c in consents.items()} == dict.fromkeys(
        (d1.address, d2.address, d3.address), 1
    )
    housing, tax, health = consents[d1.address], consents[d2.address], consents[d3.address]
    assert (housing["fields"], housing["max_uses"]) == (["name"], 2)
    assert tax["valid_until"] - tax["valid_from"] == 10 * DAY
    assert health["valid_until"] - health["valid_from"] == 10 * DAY and health["max_uses"] == 1
    assert "bundle 1 granted with one signature: 3 consents for NEWBORN_REGISTRATION" in said
    assert f"consent {housing['consent_id']}: Housing Bureau may read name for HOUSING" in said
    assert "consent bundle revoke 1" in said
    assert read(w, d1, housing["consent_id"], ["name"]) == {"name": "Li Wei"}
    assert read(w, d2, tax["consent_id"], ["income"]) == {"income": "52000"}
    assert read(w, d3, health["consent_id"], ["phone"]) == {"phone": "138"}

    shown = run(runner, cli, "bundle", "show", "1", *resident).stdout
    assert f"bundle 1: {SERVICE} (新生儿出生登记), active" in shown
    for c in (housing, tax, health):
        assert c["department_name"] in shown
    as_json = json.loads(run(runner, cli, "bundle", "show", "1", "--json", *resident).stdout)
    assert [c["consent_id"] for c in as_json["consents"]] == sorted(
        c["consent_id"] for c in consents.values()
    )
    statuses = [c["status"] for c in as_json["consents"]]
    assert statuses[:2] == ["active", "active"] and statuses[2] != "active"  # its one use read
    assert shown.count("active") == 3 and statuses[2] in shown


def test_a_widened_narrow_is_refused_in_a_sentence_and_changes_nothing(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert define_service(w).status_code == 200
    resident = served.wallet(w.resident, "resident")
    before = w.get(f"/nonces/{w.resident.address}", None).json()
    refusals = {
        "HB:fields=name,income": "Housing Bureau's item covers only address, name: a bundle"
        " can narrow it, not add income",
        "HC:days=11": "Health Commission's item lasts at most 10 days (864000 s): a bundle can"
        " shorten it, not lengthen it to 950400 s",
        "HB:uses=6": "Housing Bureau's item allows at most 5 uses: a bundle can lower that, not"
        " raise it to 6 uses",
        "HB:uses=0": "not raise it to unlimited uses",
        "Police:days=1": "NEWBORN_REGISTRATION has no item for 'Police' (its departments:"
        " Housing Bureau, Tax Office, Health Commission)",
        "HB:colour=red": "an item narrows by fields, days, duration or uses, not 'colour'",
    }
    for narrowing, sentence in refusals.items():
        result = run(
            runner, cli, "bundle", "grant", SERVICE, "--narrow", narrowing, "--yes", *resident,
            code=1,
        )  # fmt: skip
        assert sentence in " ".join(result.stderr.split()), (narrowing, result.stderr)
        assert "You are about to sign" not in result.stderr  # refused before the question
    assert consents_of(served) == []
    assert w.get(f"/nonces/{w.resident.address}", None).json() == before


def test_one_bundle_revocation_ends_all_three_and_rotates_the_exposed_keys(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert define_service(w).status_code == 200
    d1, d2, d3 = three_departments(w)
    resident = served.wallet(w.resident, "resident")
    run(runner, cli, "bundle", "grant", SERVICE, "--yes", *resident)
    ids = sorted(c["consent_id"] for c in consents_of(served))

    said = run(runner, cli, "bundle", "revoke", "1", *resident).stdout

    assert f"bundle 1 revoked: consents {', '.join(map(str, ids))} ended" in said
    assert "record version 2: fresh keys for every field" in said
    assert {c["status"] for c in consents_of(served)} == {"revoked"}
    for dept, consent_id, field in zip((d1, d2, d3), ids, ("name", "income", "phone"), strict=True):
        assert w.query(dept, w.resident, consent_id, [field]).json()["reason"] == "revoked"
    shown = run(runner, cli, "bundle", "show", "1", *resident).stdout
    assert f"bundle 1: {SERVICE} (新生儿出生登记), revoked" in shown
    again = run(runner, cli, "bundle", "revoke", "1", "--no-rotate", *resident, code=1)
    assert "Bundle 1 is already revoked." in again.stderr


def test_on_a_terminal_a_bundle_grant_asks_once_and_grants_only_on_yes(served: Served) -> None:
    w = served.world
    assert define_service(w).status_code == 200
    args = ["bundle", "grant", SERVICE, *served.wallet(w.resident, "resident")]
    code, screen = answer_on_a_terminal(args, "n")
    assert code == 1 and "Sign and grant?" in screen and "nothing was granted" in screen
    assert "one signature, 3 consents" in screen
    assert consents_of(served) == []
    code, screen = answer_on_a_terminal(args, "y")
    assert code == 0, screen
    assert "bundle 1 granted with one signature: 3 consents" in screen
    assert len(consents_of(served)) == 3


def test_a_server_answering_with_its_own_key_for_one_department_gets_no_bundle(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    assert w.node is not None
    assert define_service(w).status_code == 200
    resident = served.wallet(w.resident, "resident")
    before = w.get(f"/nonces/{w.resident.address}", None).json()
    attacker = Identity.create()
    with serving_attackers_key(w.node, w.dept3.address, attacker.encryption_public_key):
        refused = run(runner, cli, "bundle", "grant", SERVICE, "--yes", *resident, code=1)
    said = " ".join(refused.stderr.split())
    assert "the server may be substituting a key of its own" in said and "Health Commission" in said
    assert "You are about to sign" not in said
    assert consents_of(served) == []
    assert w.get(f"/nonces/{w.resident.address}", None).json() == before
