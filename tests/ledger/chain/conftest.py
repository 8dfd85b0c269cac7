"""Fixtures for the chain layer: both backends behind one ``Chain`` fixture, funded signers,
and two tiny hand-assembled contracts (no compiler needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress

from ledger.chain.anvil import AnvilNode, find_anvil_binary
from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.rpc import RpcChain
from ledger.errors import ChainUnavailable

RUNTIMES = {
    # LOG1(topic=TIMESTAMP) with no data, then SSTORE(0, TIMESTAMP), STOP.
    "clock": bytes.fromhex("42 6000 6000 a1 42 6000 55 00"),
    # REVERT(0, 0).
    "reverter": bytes.fromhex("6000 80 fd"),
}


def creation_code(runtime: bytes) -> bytes:
    """Init code that returns ``runtime`` (CODECOPY from just past the 12-byte prefix)."""
    n = len(runtime)
    assert n < 256
    return bytes([0x60, n, 0x60, 12, 0x60, 0, 0x39, 0x60, n, 0x60, 0, 0xF3]) + runtime


@pytest.fixture
def embedded_chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    with EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0) as chain:
        yield chain


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    try:
        find_anvil_binary()
    except ChainUnavailable as exc:
        pytest.skip(str(exc))
    with AnvilNode() as node:
        yield node.url


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    """The same tests against the embedded chain and a JSON-RPC node (one shared anvil)."""
    if request.param == "embedded":
        backend: Chain = EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0)
    else:
        backend = RpcChain(request.getfixturevalue("anvil_url"))
    with backend:
        yield backend


@pytest.fixture
def new_signer() -> Callable[[Chain], TransactionSigner]:
    """A fresh account with 100 ether on the given chain (fresh, so tests sharing the
    session's anvil never contend for nonces)."""

    def make(chain: Chain) -> TransactionSigner:
        signer = TransactionSigner(Account.create().key)
        chain.fund(signer.address, 100 * 10**18)
        return signer

    return make


@pytest.fixture
def deploy() -> Callable[[Chain, TransactionSigner, str], ChecksumAddress]:
    """Deploy one of :data:`RUNTIMES` by name; returns its address."""

    def deploy_runtime(chain: Chain, signer: TransactionSigner, name: str) -> ChecksumAddress:
        runtime = RUNTIMES[name]
        raw = signer.sign(chain, {"data": creation_code(runtime), "gas": 200_000})
        (receipt,) = chain.send_raw_transactions([raw])
        assert receipt["status"] == 1
        address = receipt["contractAddress"]
        assert address is not None
        assert bytes(chain.w3.eth.get_code(address)) == runtime
        return address

    return deploy_runtime
