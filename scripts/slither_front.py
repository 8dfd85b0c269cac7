"""solc for Slither, with the project's own compiler settings.

Slither hands the compiler a standard-JSON input of its own making (no optimizer, no
viaIR); the contracts need viaIR to compile, and findings only mean something for the
code that is deployed. So this front copies the settings of
:mod:`compile_contracts` (the one home of them) into Slither's input and passes it on
to the same solc the project compiles with (native of the pinned version, or solc-js).
"""

from __future__ import annotations

import json
import subprocess
import sys

from compile_contracts import SETTINGS, find_solc, pinned_version


def main(argv: list[str]) -> int:
    solc = str(find_solc(pinned_version()))
    if "--standard-json" not in argv:
        return subprocess.call([solc, *argv])
    data = json.load(sys.stdin)
    settings = data.setdefault("settings", {})
    settings.update({k: v for k, v in SETTINGS.items() if k != "outputSelection"})
    done = subprocess.run(
        [solc, "--standard-json"], input=json.dumps(data), capture_output=True, text=True
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
