"""Slither on the contracts, with the project's compiler settings: exits 1 on any high
or medium finding that is not suppressed inline (``// slither-disable-next-line
<detector>`` with its reason beside it).

Slither needs web3 < 8, so it lives in a virtualenv of its own (``./dev`` makes
``.tools/slither``; ``SLITHER`` names another executable). Usage::

    python scripts/run_slither.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
DEFAULT_SLITHER = ROOT / ".tools" / "slither" / "bin" / "slither"
FAILING = ("High", "Medium")


def slither_executable() -> Path:
    path = Path(os.environ.get("SLITHER", DEFAULT_SLITHER))
    if not path.exists():
        sys.exit(f"slither not found at {path}: run `./dev setup` (or set SLITHER)")
    return path


def run(report: Path) -> dict[str, Any]:
    """Slither's JSON report for the project's contracts (dependencies and test fixtures
    filtered out)."""
    with tempfile.TemporaryDirectory() as tmp:
        front = Path(tmp) / "solc"
        front.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "scripts" / "slither_front.py"}" "$@"\n'
        )
        front.chmod(0o755)
        subprocess.run(
            [
                str(slither_executable()),
                ".",
                "--solc",
                str(front),
                "--solc-standard-json",
                "--filter-paths",
                "node_modules|test/",
                "--exclude-informational",
                "--exclude-low",
                "--exclude-optimization",
                "--json",
                str(report),
            ],
            cwd=CONTRACTS,
            env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
            capture_output=True,
            text=True,
            check=False,
        )
    if not report.exists():
        sys.exit("slither wrote no report (compilation failed?)")
    return dict(json.loads(report.read_text()))


def findings(result: dict[str, Any]) -> list[dict[str, Any]]:
    if not result.get("success"):
        raise RuntimeError(f"slither failed: {result.get('error')}")
    detectors = result.get("results", {}).get("detectors", [])
    return [d for d in detectors if d.get("impact") in FAILING]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="keep Slither's JSON report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = args.json or Path(tmp) / "slither.json"
        report.unlink(missing_ok=True)
        found = findings(run(report))
    for item in found:
        print(f"{item['impact']}: {item['check']}: {item['description'].strip()}")
    print(f"{len(found)} high or medium finding(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
