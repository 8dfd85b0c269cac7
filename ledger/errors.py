"""Errors raised by the ledger layer.

Hierarchy::

    LedgerError
    ├── ChainUnavailable          the node cannot be reached or answered garbage
    │   └── ChainLocked           another process holds the embedded chain's directory
    ├── InvalidTransaction        the node refused a transaction before mining it
    ├── DeploymentError           contracts missing, mismatched or not deployable
    ├── TransactionFailed         reverted with data no ABI explains (or out of gas)
    └── ContractError             a contract's custom error, decoded
        ├── SignedIntentError     ┐
        ├── ConsentDirectoryError │ one class per Solidity error in
        ├── ConsentLedgerError    │ ledger.contract_errors (generated),
        └── LibraryError          ┘ same name and argument names
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


class ExecutionReverted(LedgerError):
    """An ``eth_call`` that reverted; ``data`` is the revert data (maybe a custom error)."""

    def __init__(self, data: bytes, message: str = "execution reverted") -> None:
        super().__init__(message)
        self.data = data


class ChainLocked(ChainUnavailable):
    """Another process has the embedded chain's data directory open."""


class ContractError(LedgerError):
    """A contract's custom error, decoded. Subclasses in :mod:`ledger.contract_errors`
    carry the Solidity error's name (the class name), ``signature``, ``selector`` and
    its arguments as attributes."""

    signature = ""
    selector = b""
    names: tuple[str, ...] = ()

    @property
    def arguments(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.names}

    def __str__(self) -> str:
        args = ", ".join(
            f"{k}={v.hex() if isinstance(v, bytes) else v}" for k, v in self.arguments.items()
        )
        return f"{type(self).__name__}({args})"
