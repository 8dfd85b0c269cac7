#!/usr/bin/env python3
"""Compile the contracts from source and write the artifacts that ``ledger`` loads.

One pinned solc (the version in ``contracts/package.json``), driven by py-solc-x with
standard JSON. A native solc of that version is used where one is installed (on PATH or
by py-solc-x); otherwise the npm ``solc`` package through ``scripts/solcjs-front``. All
sources, OpenZeppelin included, go into the input by content, so both compilers see the
same source units and produce the same bytecode.

    python scripts/compile_contracts.py           # write ledger/artifacts/*.json
    python scripts/compile_contracts.py --check   # exit 1 if the committed ones differ
"""

from __future__ import annotations

import argparse
import contextlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import solcx
from eth_utils import keccak

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
NODE_MODULES = CONTRACTS / "node_modules"
ARTIFACTS = ROOT / "ledger" / "artifacts"
ERRORS_MODULE = ROOT / "ledger" / "contract_errors.py"
FRONT = ROOT / "scripts" / "solcjs-front"

#: Contracts that get an artifact, and where: the ledger's own, and test fixtures.
DEPLOYABLE = ("ConsentDirectory", "ConsentLedger", "ConsentDelegates", "ConsentEmergency")
TEST_FIXTURES = ("ClockProbe", "RevertProbe")
TEST_ARTIFACTS = ROOT / "tests" / "ledger" / "chain" / "artifacts"

SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"]}
    },
}

_IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*?\bfrom\s+)?["']([^"']+)["']""", re.MULTILINE)


def pinned_version() -> str:
    package = json.loads((CONTRACTS / "package.json").read_text())
    return str(package["dependencies"]["solc"])


def collect_sources() -> dict[str, dict[str, str]]:
    """Every source unit reachable from ``contracts/*.sol``, keyed by its import name."""
    roots = sorted(
        p.relative_to(CONTRACTS).as_posix()
        for p in CONTRACTS.rglob("*.sol")
        if "node_modules" not in p.parts
    )
    sources: dict[str, dict[str, str]] = {}
    pending = list(roots)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        base = NODE_MODULES if unit.startswith("@") else CONTRACTS
        text = (base / unit).read_text()
        sources[unit] = {"content": text}
        for target in _IMPORT.findall(text):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            pending.append(target)
    return dict(sorted(sources.items()))


def find_solc(version: str) -> Path:
    """A native solc of ``version`` if one is installed, else the solc-js front."""
    candidates: list[Path] = []
    native = shutil.which("solc")
    if native:
        candidates.append(Path(native))
    with contextlib.suppress(Exception):  # py-solc-x raises several kinds for "not installed"
        candidates.append(Path(solcx.get_executable(version)))
    for candidate in candidates:
        try:
            if str(solcx.wrapper.get_solc_version(candidate)) == version:
                return candidate
        except Exception:
            continue
    if not (NODE_MODULES / "solc").is_dir():
        sys.exit("solc not found: run `npm ci` in contracts/ (or install solc " + version + ")")
    return FRONT


def compile_all() -> dict[str, dict[str, Any]]:
    version = pinned_version()
    solc = find_solc(version)
    sources = collect_sources()
    output = solcx.compile_standard(
        {"language": "Solidity", "sources": sources, "settings": SETTINGS},
        solc_binary=solc,
    )
    for error in output.get("errors", []):
        if error["severity"] == "error":
            sys.exit(error["formattedMessage"])
    artifacts: dict[str, dict[str, Any]] = {}
    for unit, contracts in output["contracts"].items():
        for name, compiled in contracts.items():
            if name not in DEPLOYABLE + TEST_FIXTURES:
                continue
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                # Where each state variable lives: lets a reader fetch one slot with
                # eth_getStorageAt instead of running a view function.
                "storageSlots": {
                    entry["label"]: int(entry["slot"])
                    for entry in compiled["storageLayout"]["storage"]
                },
                "compiler": {"version": version, "settings": SETTINGS},
            }
    missing = set(DEPLOYABLE + TEST_FIXTURES) - set(artifacts)
    if missing:
        sys.exit(f"contracts not produced by the compiler: {sorted(missing)}")
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


_FAMILIES = (
    ("SignedIntent", "SignedIntentError"),
    ("ConsentDirectory", "ConsentDirectoryError"),
    ("ConsentLedger", "ConsentLedgerError"),
)


def _py_type(abi_type: str, known: dict[str, str]) -> str:
    return known.get(abi_type, "bytes" if abi_type.startswith("bytes") else "int")


def render_errors(artifacts: dict[str, dict[str, Any]]) -> str:
    """A typed Python exception per Solidity custom error in the ABIs, same name and arguments."""
    errors: dict[str, list[dict[str, Any]]] = {}
    for name, artifact in artifacts.items():
        if name in TEST_FIXTURES:
            continue
        for item in artifact["abi"]:
            if item["type"] == "error":
                errors[item["name"]] = item["inputs"]
    lines = [
        '"""Python exceptions for the contracts\' custom errors. Generated by',
        "scripts/compile_contracts.py from the ABIs; do not edit.",
        "",
        "Each class has the Solidity error's name, its ``signature`` and ``selector``, and",
        "its arguments as attributes of the same names.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from ledger.errors import ContractError",
        "",
    ]
    for _, family in _FAMILIES:
        lines += [
            "",
            f"class {family}(ContractError):",
            f'    """Errors raised by {family[:-5]}."""',
            "",
        ]
    lines += [
        "",
        "class LibraryError(ContractError):",
        '    """Errors raised by OpenZeppelin code."""',
        "",
    ]
    py_types = {"address": "str", "bool": "bool", "string": "str"}
    for name in sorted(errors):
        inputs = errors[name]
        family = next((f for prefix, f in _FAMILIES if name.startswith(prefix)), "LibraryError")
        types = ",".join(i["type"] for i in inputs)
        signature = f"{name}({types})"
        selector = keccak(text=signature)[:4].hex()
        params = ", ".join(f"{i['name']}: {_py_type(i['type'], py_types)}" for i in inputs)
        lines += [
            "",
            f"class {name}({family}):",
            f'    signature = "{signature}"',
            f'    selector = bytes.fromhex("{selector}")',
            f"    names = ({''.join(repr(i['name']) + ', ' for i in inputs)})",
            "",
            f"    def __init__(self{', ' + params if params else ''}) -> None:",
        ]
        for i in inputs:
            lines.append(f"        self.{i['name']} = {i['name']}")
        lines.append(f"        super().__init__({', '.join(i['name'] for i in inputs)})")
        lines.append("")
    lines += [
        "",
        "#: selector -> (exception class, ABI types of its arguments)",
        "BY_SELECTOR: dict[bytes, tuple[type[ContractError], tuple[str, ...]]] = {",
    ]
    for name in sorted(errors):
        types = ", ".join(repr(i["type"]) for i in errors[name])
        lines.append(
            f"    {name}.selector: ({name}, ({types}{',' if len(errors[name]) == 1 else ''})),"
        )
    lines += ["}", "", "__all__: list[Any] = [", *[f'    "{n}",' for n in sorted(errors)], "]", ""]
    return "\n".join(lines)


def _ruff_format(text: str) -> str:
    """The generated module as ``ruff format`` leaves it, so lint and --check agree."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    done = subprocess.run(
        [ruff, "format", "--stdin-filename", str(ERRORS_MODULE), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    artifacts = compile_all()
    stale = []
    for name, artifact in artifacts.items():
        folder = TEST_ARTIFACTS if name in TEST_FIXTURES else ARTIFACTS
        path = folder / f"{name}.json"
        text = render(artifact)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            size = (len(artifact["deployedBytecode"]) - 2) // 2
            print(f"{name}: {size} bytes deployed (limit 24576)")
    errors_text = _ruff_format(render_errors(artifacts))
    if args.check:
        if not ERRORS_MODULE.exists() or ERRORS_MODULE.read_text() != errors_text:
            stale.append("contract_errors")
    else:
        ERRORS_MODULE.write_text(errors_text)
    if stale:
        print(
            f"committed artifacts differ from a fresh compile: {stale}; "
            "run python scripts/compile_contracts.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
