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
