"""The fast keccak is the one in use (ledger/__init__ chooses it before anything hashes)."""

from __future__ import annotations

import eth_hash.auto
from eth_hash.backends.pysha3 import PySha3Backend
from eth_utils import keccak

import ledger  # noqa: F401 -- the import under test


def test_keccak_runs_on_pysha3() -> None:
    assert keccak(b"") == bytes.fromhex(
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    backend = eth_hash.auto.keccak.hasher.__self__  # type: ignore[attr-defined]
    assert isinstance(backend, PySha3Backend)
