"""Gas estimation for the embedded chain in two EVM runs instead of py-evm's ~15.

py-evm's default estimator searches the gas limit by bisection, running the whole
transaction once per step: deploying the four contracts cost 60 executions (~5 s of a
node's start). This one runs the transaction once with the block's gas limit, takes the
gas it consumed (before refunds) with headroom for the 63/64 rule of nested calls, and
confirms that limit with a second run; only if that run fails does it fall back to the
bisection above it. The answer may exceed the exact minimum by the headroom (the chain
charges what is used, never the limit); it is never below what succeeds.
"""

from __future__ import annotations

from typing import cast

from eth.abc import SignedTransactionAPI, StateAPI
from eth.estimators.gas import _get_computation_error, binary_gas_search
from eth.vm.spoof import SpoofTransaction

#: Above the gas consumed: a call keeps 1/64 of the gas back from what it calls, so one
#: level of nesting needs 64/63 of it. Deeper nesting fails the confirming run and falls
#: back to the bisection: slower, never wrong. Kept tight because callers add their own
#: headroom (deployment: 20 %) and four deployments must share one block.
HEADROOM = 64 / 63


def _spoofed(transaction: SignedTransactionAPI, gas: int) -> SignedTransactionAPI:
    return cast(SignedTransactionAPI, SpoofTransaction(transaction, gas=gas, gas_price=0))


def measured_gas(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """A gas limit at which ``transaction`` succeeds (VMError if none up to the block's)."""
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(_spoofed(transaction, state.gas_limit))
        if computation.is_error:
            raise computation.error
        consumed = transaction.intrinsic_gas + computation.get_gas_used()
    finally:
        state.revert(snapshot)
    candidate = min(state.gas_limit, int(consumed * HEADROOM) + 1)
    if _get_computation_error(state, _spoofed(transaction, candidate)) is None:
        return candidate
    return int(binary_gas_search(state, transaction, tolerance=1))
