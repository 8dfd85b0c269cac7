"""``consent query --batch FILE`` over real HTTP on the embedded chain: a department's
file of queries (JSON Lines or a JSON list) goes in one ``POST /queries/batch``, each
answer is decrypted and checked as a single query's and printed on its own line in
order, refusals as sentences; a summary follows, and the exit code says whether any was
refused. A file that does not parse is refused naming its line, before anything is
signed or sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from api.client_queries import MAX_BATCH
from api.http_bounds import MAX_QUERY_BATCH
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

cli, runner, served = cli_helpers.cli, cli_helpers.runner, cli_helpers.served
WIDE = {"COLUMNS": "240"}


def write_lines(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return path


def log_size(served: Served, who: Any) -> int:
    answer = served.world.get(f"/residents/{who.address}/access-log", who, limit=1000)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


def test_a_batch_file_prints_each_answer_in_order_and_exits_1_when_one_is_refused(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    w = served.world
    resident, resident2 = w.resident, w.resident2
    granted = w.grant(resident, w.dept, ["income", "name"])
    revoked = w.grant(resident, w.dept, ["income"])
    assert w.revoke(resident, revoked).status_code == 200
    others = w.grant(resident2, w.dept2, ["income"])
    batch = write_lines(
        tmp_path / "queries.jsonl",
        [
            {"resident": resident.address, "consent_id": granted, "fields": ["INCOME"]},
            {"resident": resident.address, "consent_id": revoked, "fields": "income"},
            {"resident": resident2.address, "consent_id": others, "fields": ["income"]},
            {"resident": resident.address, "consent_id": granted},  # the consent's fields
        ],
    )
    logged = log_size(served, resident), log_size(served, resident2)
    dept = served.wallet(w.dept, "dept")

    result = runner.invoke(cli, ["query", "--batch", str(batch), *dept], env=WIDE)

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    assert lines[0].startswith(f"1. consent {granted} ") and "income=52000" in lines[0]
    assert "name=" not in lines[0]
    assert lines[1].startswith(f"2. consent {revoked} of ") and ": refused: " in lines[1]
    assert "the resident revoked this consent" in lines[1]
    assert lines[2].startswith(f"3. consent {others} of ") and ": refused: " in lines[2]
    assert lines[3].startswith(f"4. consent {granted} ")
    assert "income=52000" in lines[3] and "name=Li Wei" in lines[3]
    assert "4 queries: 2 served, 2 refused (not_granted 1, revoked 1)" in result.stderr
    assert "Traceback" not in result.output
    # Each of them is on chain, in its resident's access log.
    assert (log_size(served, resident), log_size(served, resident2)) == (
        logged[0] + 3,
        logged[1] + 1,
    )
    # Four acceptances kept, said once.
    kept = (served.folder / "dept" / "acceptances.jsonl").read_text().splitlines()
    assert len(kept) == 4 and {json.loads(k)["type"] for k in kept} == {"Access"}
    assert "acceptances of 4 queries are kept" in result.stderr


def test_a_json_list_all_served_exits_0_with_one_json_answer_a_line(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    w = served.world
    consent_id = w.grant(w.resident2, w.dept, ["address", "phone"])
    batch = tmp_path / "queries.json"
    query = {"resident": w.resident2.address, "consent_id": consent_id}
    batch.write_text(json.dumps([query] * 3, indent=2), encoding="utf-8")
    dept = served.wallet(w.dept, "dept")

    result = runner.invoke(
        cli, ["query", "--batch", str(batch), "--field", "phone", "--json", *dept], env=WIDE
    )

    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["query"] for a in answers] == [1, 2, 3]
    assert all(a["status"] == 200 and a["consent_id"] == consent_id for a in answers)
    assert [a["fields"]["phone"]["value"] for a in answers] == ["138"] * 3
    assert {a["receipt"]["block_number"] for a in answers} == {
        answers[0]["receipt"]["block_number"]
    }
    assert "3 queries: 3 served, 0 refused" in result.stderr
    uses = w.get(f"/consents/{consent_id}", w.resident2).json()["uses"]
    assert uses == 3


def test_a_batch_file_that_does_not_parse_is_refused_naming_its_line_and_sends_nothing(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    w = served.world
    consent_id = w.grant(w.resident, w.dept, ["income"])
    dept = served.wallet(w.dept, "dept")
    good = {"resident": w.resident.address, "consent_id": consent_id}
    cases = {
        "line 2: needs consent_id": [good, {"resident": w.resident.address}],
        "line 1: unknown member 'purpose'": [{**good, "purpose": "HOUSING"}],
        "line 2: fields is a list of names": [good, {**good, "fields": [1, 2]}],
    }
    before = log_size(served, w.resident)
    for message, entries in cases.items():
        batch = write_lines(tmp_path / "bad.jsonl", entries)
        result = runner.invoke(cli, ["query", "--batch", str(batch), *dept], env=WIDE)
        assert result.exit_code == 1, result.output
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.output
    both = runner.invoke(
        cli, ["query", w.resident.address, str(consent_id), "--batch", str(batch), *dept]
    )
    assert both.exit_code == 1 and "name no resident or consent" in both.stderr
    assert log_size(served, w.resident) == before


def test_the_clients_batch_size_is_the_servers_bound() -> None:
    assert MAX_BATCH == MAX_QUERY_BATCH
