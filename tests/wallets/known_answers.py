"""Loading and regenerating the known-answer vectors under ``tests/wallets/vectors``.

A plain module (not a conftest) so test modules can use the vectors at collection
time, in ``pytest.mark.parametrize``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

VECTORS = Path(__file__).parent / "vectors"
#: Hypothesis settings for wallet property tests: bounded so the suite stays fast,
#: applied per test so no global profile leaks into other packages' tests.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> dict[str, Any]:
    """The parsed ``vectors/<name>.json``."""
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def params(name: str, member: str = "vectors") -> list[Any]:
    """One ``pytest.param`` per vector, with an id naming it."""
    out = []
    for item in load(name)[member]:
        ident = "-".join(str(item[k]) for k in ("name", "label") if k in item)
        out.append(pytest.param(item, id=ident))
    return out


def run_node_script(script: str) -> dict[str, Any]:
    """Run ``scripts/vectors/<script>`` and parse its stdout; skip only if node is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, str(REPO_ROOT / "scripts" / "vectors" / script)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_python_script(path: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def hex_bytes(value: str) -> bytes:
    assert value.startswith("0x")
    return bytes.fromhex(value[2:])
