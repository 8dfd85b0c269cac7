"""Fixtures for the chain layer: both backends behind one ``Chain`` fixture, funded signers,
and two probe contracts compiled from ``contracts/test/ChainProbes.sol``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress

from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.rpc import RpcChain
from tests.conftest import process_chain

ARTIFACTS = Path(__file__).parent / "artifacts"
PROBES = {"clock": "ClockProbe", "reverter": "RevertProbe"}


def probe_artifact(name: str) -> dict[str, str]:
    artifact: dict[str, str] = json.loads((ARTIFACTS / f"{PROBES[name]}.json").read_text())
    return artifact


@pytest.fixture
def embedded_chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    with EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0) as chain:
        yield chain


@pytest.fixture(scope="module")
def anvil_url(anvil_node_url: str) -> str:
    """The module's one anvil (started by the root conftest)."""
    return anvil_node_url


@pytest.fixture(params=["embedded", "process", "anvil"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Chain]:
    """The same tests against the embedded chain (in process, and reached as its own
    process does) and a JSON-RPC node (the module's anvil)."""
    if request.param == "process":
        with process_chain(tmp_path / "chain.sqlite3") as served:
            yield served
        return
    backend: Chain
    if request.param == "embedded":
        backend = EmbeddedChain(tmp_path / "chain.sqlite3", block_period=0)
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
    """Deploy one of :data:`PROBES` by name; returns its address."""

    def deploy_runtime(chain: Chain, signer: TransactionSigner, name: str) -> ChecksumAddress:
        artifact = probe_artifact(name)
        runtime = bytes.fromhex(artifact["deployedBytecode"][2:])
        creation = bytes.fromhex(artifact["bytecode"][2:])
        raw = signer.sign(chain, {"data": creation, "gas": 300_000})
        (receipt,) = chain.send_raw_transactions([raw])
        assert receipt["status"] == 1
        address = receipt["contractAddress"]
        assert address is not None
        assert bytes(chain.w3.eth.get_code(address)) == runtime
        return address

    return deploy_runtime
