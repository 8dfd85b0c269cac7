"""Errors raised by the ledger layer.

Hierarchy::

    LedgerError
    ├── ChainUnavailable          the node cannot be reached or answered garbage
    ├── DeploymentError           contracts missing, mismatched or not deployable
    ├── TransactionFailed         a submitted transaction reverted outside a batch
    └── ContractError             a decoded custom error of a contract; subclasses
        │                         carry the Solidity error's name and arguments
        └── (one class per Solidity custom error, built from the ABI)
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by :mod:`ledger`."""


class ChainUnavailable(LedgerError):
    """The chain backend cannot be reached or did not answer as a node should."""


class DeploymentError(LedgerError):
    """The contracts are missing, do not match the artifacts, or could not be deployed."""


class TransactionFailed(LedgerError):
    """A transaction was mined but reverted with data that no ABI explains."""


class InvalidTransaction(LedgerError):
    """A node refused a transaction before mining it (nonce, funds, signature, chain id).

    ``index`` is its position in the submitted batch. On the embedded chain nothing of
    the batch was mined; on a JSON-RPC node the transactions before ``index`` were sent
    and their receipts are in ``receipts``. Either way the sender's local nonce is stale.
    """

    def __init__(self, message: str, *, index: int, receipts: list | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.receipts = receipts or []


class ChainLocked(ChainUnavailable):
    """Another process has the embedded chain's data directory open."""
