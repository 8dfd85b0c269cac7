"""The embedded chain's gas estimate: two EVM runs, never below what succeeds, within its
headroom of the exact minimum (py-evm's bisection, run here beside it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth.estimators.gas import binary_gas_search
from eth_account import Account
from web3 import Web3

import ledger.chain.gas_estimate as gas_estimate
from ledger.artifacts import load_artifact
from ledger.chain.base import Chain, TransactionSigner
from ledger.chain.embedded import EmbeddedChain

NewSigner = Callable[[Chain], TransactionSigner]


def _delegates_creation(w3: Web3) -> bytes:
    """The creation code of a real contract (its constructor stores two addresses)."""
    artifact = load_artifact("ConsentDelegates")
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    two = (Account.create().address, Account.create().address)
    return bytes.fromhex(contract.constructor(*two).data_in_transaction[2:])


def _exact(chain: EmbeddedChain, call: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> int:
    """py-evm's own bisection to the gas unit, on the same head state."""
    with monkeypatch.context() as patch:
        patch.setattr(chain._evm, "gas_estimator", binary_gas_search(tolerance=1))
        return int(chain.w3.eth.estimate_gas(call))  # type: ignore[arg-type]


def test_the_estimate_succeeds_is_within_headroom_of_the_minimum_and_runs_twice(
    embedded_chain: EmbeddedChain, new_signer: NewSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = new_signer(embedded_chain)
    data = _delegates_creation(embedded_chain.w3)
    runs = 0
    real = gas_estimate._get_computation_error

    def counted(*args: Any) -> Any:
        nonlocal runs
        runs += 1
        return real(*args)

    call = {"from": signer.address, "data": data}
    with monkeypatch.context() as patch:
        patch.setattr(gas_estimate, "_get_computation_error", counted)
        estimate = embedded_chain.w3.eth.estimate_gas(call)  # type: ignore[arg-type]
    exact = _exact(embedded_chain, call, monkeypatch)

    assert runs == 1  # the confirming run; the measuring run is the other
    assert exact <= estimate <= exact * gas_estimate.HEADROOM + 1
    # The limit it gives succeeds; one gas unit below the exact minimum does not.
    short, enough = signer.sign_many(
        embedded_chain,
        [{"data": data, "gas": exact - 1}, {"data": data, "gas": estimate}],
    )
    (failed,) = embedded_chain.send_raw_transactions([short])
    (deployed,) = embedded_chain.send_raw_transactions([enough])
    assert (failed["status"], deployed["status"]) == (0, 1)
