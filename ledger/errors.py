"""Errors raised by the ledger layer.

Hierarchy::

    LedgerError
    ├── Unavailable               a dependency is down or full: the same request may work later
    │   ├── ChainUnavailable      the node cannot be reached or answered garbage
    │   │   └── ChainLocked       another process holds the embedded chain's directory
    │   ├── ReadModelUnavailable  the database or the indexer cannot follow the chain
    │   └── RelayerBusy           the relayer's queue is at its bound
    ├── IntentRefused             over a bound of the relayer's own (no contract rule)
    │   ├── TooManyFields         a fields list longer than the relayer relays
    │   └── MalformedIntent       a value its EIP-712 type cannot hold
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


class Unavailable(LedgerError):
    """Something the service depends on is down or full; nothing of the request was
    recorded unless the subclass says so, and the same request may succeed later (503)."""

    #: Seconds a client should wait before trying again (``Retry-After``).
    retry_after = 1


class ChainUnavailable(Unavailable):
    """The chain backend cannot be reached or did not answer as a node should."""


class ReadModelUnavailable(Unavailable):
    """The service's database or its indexer cannot follow the chain.

    Raised before relaying while the indexer is failing (nothing is sent), and to the
    callers of a round that was mined but could not be settled: their intents are on
    chain and journalled as submitted, and the relayer writes their vault rows once the
    database and the indexer work again, without a restart.
    """


class RelayerBusy(Unavailable):
    """The relayer's queue is at its bound: the intent was not queued."""


class IntentRefused(LedgerError):
    """An intent over one of the relayer's own bounds, refused before queueing: no
    contract rule says so, so no contract error names it. ``arguments`` as on
    :class:`ContractError`, for problem+json."""

    names: tuple[str, ...] = ()

    @property
    def arguments(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.names}


class TooManyFields(IntentRefused):
    """A fields list of ``count`` entries, over ``limit``."""

    names = ("count", "limit")

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} fields in one intent, over the limit of {limit}")
        self.count = count
        self.limit = limit


class MalformedIntent(IntentRefused):
    """An intent with a value its EIP-712 type cannot hold: it hashes to nothing any
    contract would accept (the API refuses such a body before it gets here)."""


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
