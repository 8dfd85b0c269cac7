"""Chain connection layer: one :class:`Chain` interface over the embedded and JSON-RPC backends."""

from ledger.chain.base import DEFAULT_CHAIN_ID, Chain, TransactionSigner
from ledger.chain.opening import open_chain

__all__ = ["DEFAULT_CHAIN_ID", "Chain", "TransactionSigner", "open_chain"]
