"""``consent notifications``: the feed in a table, and ``--follow`` printing each new
notification as the server indexes it, from a real process over real HTTP."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from typing import Any

import typer
from typer.testing import CliRunner

from tests.api import cli_helpers
from tests.api.cli_helpers import Served
from tests.api.test_served import CONSENT

served, cli, runner = cli_helpers.served, cli_helpers.cli, cli_helpers.runner
WIDE = {"COLUMNS": "220"}


def test_the_feed_is_a_table_of_who_read_what(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    empty = runner.invoke(cli, ["notifications", *served.wallet(w.resident, "r")], env=WIDE)
    assert empty.exit_code == 0, empty.output
    assert "nothing yet" in empty.stdout
    consent = w.grant(w.resident, w.dept, ["income", "name"])
    assert w.query(w.dept, w.resident, consent, ["name"]).status_code == 200
    shown = runner.invoke(cli, ["notifications", *served.wallet(w.resident, "r")], env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert "read your data" in shown.stdout and "name" in shown.stdout
    as_json = runner.invoke(cli, ["notifications", "--json", *served.wallet(w.dept, "d")], env=WIDE)
    assert [n["kind"] for n in json.loads(as_json.stdout)] == ["consent_granted"]


def _lines(process: subprocess.Popen[bytes], count: int, timeout: float = 30) -> list[Any]:
    """The first ``count`` JSON lines the process prints, read from its pipe as they come
    (a buffered reader would hold back lines the selector no longer sees)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    buffer = b""
    deadline = time.monotonic() + timeout
    while buffer.count(b"\n") < count and time.monotonic() < deadline:
        if selector.select(timeout=max(0.0, deadline - time.monotonic())):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
    return [json.loads(line) for line in buffer.splitlines()[:count]]


def test_follow_prints_each_access_as_it_happens(served: Served) -> None:
    w = served.world
    consent = w.grant(w.resident, w.dept, ["name"])
    assert w.query(w.dept, w.resident, consent, ["name"]).status_code == 200  # before: not shown
    (seen,) = w.get("/notifications", w.resident).json()["data"]
    follower = subprocess.Popen(
        [
            str(CONSENT),
            "notifications",
            "--follow",
            "--after",
            seen["id"],
            "--json",
            *served.wallet(w.resident, "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **WIDE},
    )
    try:
        assert follower.stderr is not None
        assert b"following" in follower.stderr.readline()
        assert w.query(w.dept, w.resident, consent, ["name"]).status_code == 200
        denied = w.query(w.dept, w.resident, consent, ["income"])
        assert denied.status_code == 403
        printed = _lines(follower, 2)
    finally:
        follower.terminate()
        follower.wait(10)
    assert [(n["kind"], n["consent_id"]) for n in printed] == [
        ("access_logged", consent),
        ("access_denied", consent),
    ]
    feed = w.get("/notifications", w.resident).json()["data"]
    assert [n["id"] for n in printed] == [n["id"] for n in feed[1:]]


def test_a_department_adds_lists_and_removes_a_webhook(
    served: Served, cli: typer.Typer, runner: CliRunner
) -> None:
    w = served.world
    dept = served.wallet(w.dept, "d")
    added = runner.invoke(
        cli, ["webhook", "add", "http://127.0.0.1:9/in", "-e", "consent_revoked", *dept], env=WIDE
    )
    assert added.exit_code == 0, added.output
    assert "signing secret (shown only now): whsec_" in added.stdout
    (hook,) = w.get("/webhooks", w.dept).json()["data"]
    assert hook["events"] == ["consent_revoked"] and hook["url"] == "http://127.0.0.1:9/in"
    listed = runner.invoke(cli, ["webhook", "list", *dept], env=WIDE)
    assert listed.exit_code == 0 and hook["id"] in listed.stdout
    assert "consent_revoked" in listed.stdout
    removed = runner.invoke(cli, ["webhook", "remove", hook["id"], *dept], env=WIDE)
    assert removed.exit_code == 0, removed.output
    assert w.get("/webhooks", w.dept).json()["data"] == []
    again = runner.invoke(cli, ["webhook", "remove", hook["id"], *dept], env=WIDE)
    assert again.exit_code != 0 and "no webhook" in again.output
    resident = runner.invoke(
        cli, ["webhook", "add", "http://127.0.0.1:9/in", *served.wallet(w.resident, "r")], env=WIDE
    )
    assert resident.exit_code != 0 and "department or auditor" in resident.output
