"""JSON-RPC specifics: failures name the node, and anvil is found or explained."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

import ledger.chain.anvil as anvil
from ledger.chain import open_chain
from ledger.chain.anvil import AnvilNode
from ledger.chain.base import TransactionSigner
from ledger.chain.rpc import RpcChain
from ledger.errors import ChainUnavailable


def test_open_chain_with_a_url_connects_over_json_rpc(anvil_url: str) -> None:
    with open_chain(url=anvil_url) as chain:
        assert isinstance(chain, RpcChain)
        assert chain.w3.eth.chain_id == chain.chain_id


def test_unreachable_node_raises_chain_unavailable_naming_the_url() -> None:
    with AnvilNode() as node:
        url = node.url
    with pytest.raises(ChainUnavailable, match=url.replace(".", r"\.")):
        RpcChain(url)


def test_node_that_never_mines_times_out_as_chain_unavailable() -> None:
    with AnvilNode(extra_args=["--no-mining"]) as node:
        chain = RpcChain(node.url, timeout=0.2)
        signer = TransactionSigner(Account.create().key)
        chain.fund(signer.address, 10**18)
        raw = signer.sign(chain, {"to": signer.address, "gas": 21_000})
        with pytest.raises(ChainUnavailable, match="did not mine"):
            chain.send_raw_transactions([raw])


def test_missing_anvil_binary_says_to_run_npm_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(anvil.ANVIL_ENV, raising=False)
    monkeypatch.setattr(anvil, "_REPO_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChainUnavailable, match=r"run `npm ci` in contracts/"):
        AnvilNode().start()


def test_anvil_binary_from_the_environment_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(anvil.ANVIL_ENV, str(tmp_path / "no-such-anvil"))
    with pytest.raises(ChainUnavailable, match=anvil.ANVIL_ENV):
        anvil.find_anvil_binary()


def test_anvil_binary_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = anvil.find_anvil_binary()
    monkeypatch.setenv(anvil.ANVIL_ENV, str(real))
    with AnvilNode(chain_id=777) as node, RpcChain(node.url) as chain:
        assert chain.chain_id == 777
