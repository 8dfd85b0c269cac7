"""Start and stop a local anvil node: the JSON-RPC backend for development and tests.

The binary comes from npm (``@foundry-rs/anvil``, installed by ``npm ci`` in
``contracts/``), so no Rust toolchain or foundryup is needed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from ledger.chain.base import DEFAULT_CHAIN_ID
from ledger.errors import ChainUnavailable

ANVIL_ENV = "CONSENT_ANVIL_BIN"
_NPM_PATH = Path("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def find_anvil_binary() -> Path:
    """``$CONSENT_ANVIL_BIN``, else the npm-installed binary in the repo, else ``anvil`` on PATH."""
    configured = os.environ.get(ANVIL_ENV)
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ChainUnavailable(f"{ANVIL_ENV}={configured} is not an executable file")
        return path
    bundled = _REPO_ROOT / _NPM_PATH
    if bundled.is_file():
        return bundled
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ChainUnavailable(
        f"anvil binary not found at {bundled}: run `npm ci` in contracts/ "
        f"(or set {ANVIL_ENV} to an anvil binary)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AnvilNode:
    """An anvil process on a free 127.0.0.1 port, running while the context is open.

    ``hardfork`` defaults to Prague, the embedded chain's VM, so contracts behave the
    same on both backends.
    """

    def __init__(
        self,
        *,
        chain_id: int = DEFAULT_CHAIN_ID,
        binary: Path | None = None,
        hardfork: str = "prague",
        extra_args: Sequence[str] = (),
        startup_timeout: float = 15.0,
    ) -> None:
        self.chain_id = chain_id
        self.binary = binary
        self.hardfork = hardfork
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("anvil is not running; use AnvilNode as a context manager")
        return self._url

    @property
    def pid(self) -> int | None:
        """The running anvil's process id (for a benchmark's CPU sampling), if started."""
        return None if self._process is None else int(self._process.pid)

    def start(self) -> AnvilNode:
        binary = self.binary or find_anvil_binary()
        output = ""
        for _attempt in range(3):  # another process may grab the port before anvil binds it
            port = _free_port()
            args = [str(binary), "--host", "127.0.0.1", "--port", str(port)]
            args += ["--chain-id", str(self.chain_id), "--hardfork", self.hardfork, "--quiet"]
            with tempfile.TemporaryFile() as log:
                process = subprocess.Popen(
                    [*args, *self.extra_args],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                url = f"http://127.0.0.1:{port}"
                if self._wait_ready(process, url):
                    self._process, self._url = process, url
                    return self
                _stop(process)
                log.seek(0)
                output = log.read().decode(errors="replace").strip()
        raise ChainUnavailable(f"anvil ({binary}) did not start: {output or 'no output'}")

    def _wait_ready(self, process: subprocess.Popen[bytes], url: str) -> bool:
        """Poll ``eth_chainId`` until anvil answers with ours, exits, or time runs out."""
        deadline = time.monotonic() + self.startup_timeout
        request: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = requests.post(url, json=request, timeout=1).json()
                return int(answer["result"], 16) == self.chain_id
            except (requests.RequestException, ValueError, KeyError):
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Terminate anvil (SIGTERM, then SIGKILL); idempotent."""
        if self._process is not None:
            _stop(self._process)
            self._process = None
            self._url = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
