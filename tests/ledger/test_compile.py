"""The committed artifacts are exactly what the pinned solc makes of the sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.artifacts import CONTRACT_NAMES, load_artifact

ROOT = Path(__file__).resolve().parents[2]
EIP170_LIMIT = 24_576


@pytest.mark.slow  # solc with viaIR: about a minute
def test_committed_artifacts_match_a_fresh_compile() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout


def test_deployed_code_fits_the_eip170_size_limit() -> None:
    for name in CONTRACT_NAMES:
        assert 0 < len(load_artifact(name).deployed_bytecode) < EIP170_LIMIT
