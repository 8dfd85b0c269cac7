"""The embedded chain's own process: started, watched and stopped by ``consent serve``.

``python -m ledger.chain.child DATA_DIR PORT BLOCK_PERIOD CHAIN_ID`` opens the embedded
chain in ``DATA_DIR`` and serves it (:mod:`ledger.chain.process`) on 127.0.0.1:PORT
until SIGTERM or until its parent dies (Linux's parent-death signal, and a watch on the
parent's pid where that is missing), so a ``kill -9`` of ``consent serve`` never leaves
a chain holding the data directory's lock. :class:`ChainChild` is the parent's handle:
it starts the process, waits until it answers, starts it again on the same port when it
dies (a block is durable when it was answered, so a restart loses nothing acknowledged)
and stops it last.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ledger.chain.embedded import EmbeddedChain
from ledger.chain.process import ProcessChain, serve_chain
from ledger.errors import ChainLocked, ChainUnavailable

#: How long a start waits for the process to answer (py-evm imports take a few seconds).
START_TIMEOUT = 60.0
#: How long a new chain process waits for a killed one's directory lock to go.
LOCK_WAIT = 10.0
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChainChild:
    """The chain process of one ``consent serve``: ``url`` is where workers reach it."""

    def __init__(self, data_dir: Path, *, block_period: float, chain_id: int) -> None:
        self.data_dir = Path(data_dir)
        self.block_period = block_period
        self.chain_id = chain_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._spawn()
        self._watch = threading.Thread(target=self._keep_alive, name="chain-watch", daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        command = [
            sys.executable,
            "-m",
            "ledger.chain.child",
            str(self.data_dir),
            str(self.port),
            repr(self.block_period),
            str(self.chain_id),
        ]
        self._process = subprocess.Popen(command)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                ProcessChain(self.url, timeout=5).close()
                return
            except ChainUnavailable:
                if self._process.poll() is not None:
                    raise ChainUnavailable(
                        f"the chain process exited with {self._process.returncode} at start"
                    ) from None
                if time.monotonic() > deadline:
                    self._process.kill()
                    raise
                time.sleep(0.05)

    def _keep_alive(self) -> None:
        while not self._stopping.wait(0.2):
            process = self._process
            if process is None or process.poll() is None:
                continue
            if self._stopping.is_set():
                return
            self.restarts += 1
            with contextlib.suppress(ChainUnavailable):
                self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.join()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def die_with_parent(parent: int) -> None:
    """SIGTERM this process when ``parent`` dies (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def _open(data_dir: Path, block_period: float, chain_id: int) -> EmbeddedChain:
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            return EmbeddedChain(
                data_dir / "chain.sqlite3", block_period=block_period, chain_id=chain_id
            )
        except ChainLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    data_dir, port = Path(argv[0]), int(argv[1])
    block_period, chain_id = float(argv[2]), int(argv[3])
    parent = os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    die_with_parent(parent)
    with _open(data_dir, block_period, chain_id) as chain, serve_chain(chain, port=port):
        while not stop.wait(0.5):
            if os.getppid() != parent:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
