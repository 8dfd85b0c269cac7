"""The auditor's view is readable: department names beside addresses, fields, purpose
and denial reason as names, in the table and in CSV and JSON-lines exports (which keep
the API's end marker), and ``--since``/``--until`` take ISO 8601 dates."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from api.commands.audit_view import NAME_COLUMNS
from api.export_marker import CSV_COLUMNS, ExportChecker
from tests.api import cli_helpers
from tests.api.cli_helpers import Served

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "250"}


def history(s: Served) -> int:
    """A grant, a read and a refusal."""
    w = s.world
    consent_id = w.grant(w.resident, w.dept, ["income", "name"])
    assert w.query(w.dept, w.resident, consent_id, ["income"]).status_code == 200
    assert w.query(w.dept2, w.resident, consent_id, ["income"]).status_code == 403
    return consent_id


def test_the_events_table_names_departments_fields_purposes_and_reasons(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    history(served)
    auditor = served.wallet(served.world.auditor, "auditor")
    result = runner.invoke(cli, ["audit", "events", "--all", *auditor], env=WIDE)
    assert result.exit_code == 0, result.output
    table = result.stdout
    granted = next(line for line in table.splitlines() if "ConsentGranted" in line)
    assert "Housing Bureau (" in granted and "income, name" in granted and "HOUSING" in granted
    denied = next(line for line in table.splitlines() if "AccessDenied" in line)
    assert "Tax Office (" in denied and "not_granted" in denied and "HOUSING" in denied
    assert "0x" + b"income".ljust(32, b"\0").hex() not in table


def test_since_and_until_take_iso_dates_as_well_as_unix_seconds(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    history(served)
    auditor = served.wallet(served.world.auditor, "auditor")

    def count(*window: str) -> int:
        result = runner.invoke(cli, ["audit", "events", "--all", "--json", *window, *auditor])
        assert result.exit_code == 0, result.output
        return len(json.loads(result.stdout)["data"])

    everything = count()
    assert everything > 0
    assert count("--since", "2000-01-01") == everything
    assert count("--since", "2000-01-01T00:00:00+08:00", "--until", "9999-01-01") == everything
    assert count("--until", "2000-01-01") == 0
    assert count("--since", "946684800") == everything  # 2000-01-01 in Unix seconds
    bad = runner.invoke(cli, ["audit", "events", "--since", "last tuesday", *auditor])
    assert bad.exit_code == 1 and "ISO 8601" in bad.stderr


def test_exports_carry_names_and_keep_the_end_marker(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    history(served)
    auditor = served.wallet(served.world.auditor, "auditor")
    for fmt in ("jsonl", "csv"):
        target = tmp_path / f"log.{fmt}"
        result = runner.invoke(
            cli, ["audit", "export", "--format", fmt, "-o", str(target), *auditor]
        )
        assert result.exit_code == 0, result.output
        data = target.read_bytes()
        checker = ExportChecker(fmt)
        checker.feed(data)
        events = checker.events()  # the written file is whole, by the API's own marker
        assert events > 0
        if fmt == "jsonl":
            lines = [json.loads(line) for line in data.decode().splitlines()]
            assert lines[-1] == {"end": True, "events": events}
            denied = next(e for e in lines[:-1] if e["type"] == "AccessDenied")
            assert denied["names"] == {
                "department": "Tax Office",
                "fields": ["income"],
                "purpose": "HOUSING",
                "reason": "not_granted",
            }
        else:
            rows = list(csv.reader(io.StringIO(data.decode())))
            assert rows[0] == [*CSV_COLUMNS, *NAME_COLUMNS]
            granted = next(r for r in rows if r[5] == "ConsentGranted")
            assert granted[-4:] == ["Housing Bureau", "income name", "HOUSING", ""]
            assert rows[-1][0] == "end" and int(rows[-1][1]) == events


def test_raw_export_is_exactly_what_the_api_sends(
    served: Served, cli: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    history(served)
    w = served.world
    auditor = served.wallet(w.auditor, "auditor")
    target = tmp_path / "raw.jsonl"
    result = runner.invoke(cli, ["audit", "export", "--raw", "-o", str(target), *auditor])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == w.get("/audit/export", w.auditor, format="jsonl").content
