"""schemathesis against the served OpenAPI document, with a token per role: no server
error, and every answer conforms to the documented status codes, content types, headers
and schemas.

All checks run but one: ``positive_data_acceptance`` expects every schema-valid request
to be accepted, and a schema cannot say which signatures recover to the signer an
intent names (random ones are refused 403/422, as they must be). The node is then still
healthy and restarts cleanly on the same data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World, populate
from tests.api.test_served import Served

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
#: Per role: cases per operation and a time budget (seconds); CI runs all four.
EXAMPLES = os.environ.get("CONSENT_SCHEMATHESIS_EXAMPLES", "25")
BUDGET = os.environ.get("CONSENT_SCHEMATHESIS_SECONDS", "30")
ROLES = ("anonymous", "resident", "dept", "auditor")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, World]]:
    data = tmp_path_factory.mktemp("schemathesis") / "data"
    server = Served(data, "--block-period", "0").start()
    http = httpx.Client(base_url=server.url, timeout=60)
    try:
        world = populate(World(node=None, http=http, admin=server.admin()))
        # Every role signs in before any fuzzing: a run that fuzzes /auth/challenge from
        # this address spends the per-IP challenge allowance the next role would need.
        for role in ROLES[1:]:
            _bearer(world, role)
        yield server, world
    finally:
        http.close()
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_no_server_error_or_undocumented_answer(
    served: tuple[Served, World], role: str, tmp_path: Path
) -> None:
    server, world = served
    headers = [] if role == "anonymous" else ["-H", _bearer(world, role)]
    report = tmp_path / "report"
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            server.url + "/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            # Fuzzing logout would end the role's token for the rest of the run (and for
            # the checks after it): every later case would only probe 401.
            "--exclude-path",
            "/auth/logout",
            # An event stream never ends: a case would wait for its body for ever
            # (tests/api/test_notifications.py tests its answers and its Last-Event-ID).
            "--exclude-path",
            "/notifications/stream",
            "--max-examples",
            EXAMPLES,
            "--max-time",
            BUDGET,
            "--suppress-health-check",
            "all",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(report),
            *headers,
        ],
        capture_output=True,
        text=True,
        timeout=int(BUDGET) + 300,
    )
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-2000:]
    cases = [line.strip() for line in done.stdout.splitlines() if "generated" in line]
    print(f"schemathesis as {role}: {cases[-1] if cases else '?'}")  # for the record
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


@pytest.mark.slow
def test_the_node_restarts_cleanly_after_the_fuzzing(served: tuple[Served, World]) -> None:
    server, world = served
    server.stop()
    server.start()
    assert httpx.get(server.url + "/health", timeout=10).json()["status"] == "ok"
    world.http = httpx.Client(base_url=server.url, timeout=60)
    report = world.get("/audit/verify", world.auditor).json()
    assert report["ok"], report["problems"]


def _bearer(world: World, role: str) -> str:
    return "Authorization: " + world.headers(getattr(world, role))["Authorization"]
