"""The one chain interface the rest of the ledger codes against, and a transaction signer.

Everything above this layer (deployment, contract clients, relayer, indexer) sees a
:class:`Chain`: a ``web3.Web3`` for reads plus the few writes whose semantics differ
between the embedded py-evm chain and a JSON-RPC node (batch submission, time travel,
funding). Keeping those few behind one interface is what lets ``consent serve`` switch
from the embedded chain to anvil or Besu by setting a URL.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.types import RPCEndpoint, TxReceipt

from ledger.codec import as_bytes, to_hex
from ledger.errors import ExecutionReverted, LedgerError

DEFAULT_CHAIN_ID = 20260


class Chain(abc.ABC):
    """A connected chain: ``w3`` for reads, methods for the writes that differ by backend."""

    w3: Web3

    @property
    @abc.abstractmethod
    def chain_id(self) -> int:
        """The EIP-155 chain id transactions must be signed for."""

    @abc.abstractmethod
    def send_raw_transactions(self, raw_txs: Sequence[bytes]) -> list[TxReceipt]:
        """Submit signed raw transactions and wait until all are mined; receipts in order.

        Embedded: all of them in one new block, or none if any is invalid. JSON-RPC: sent
        in order, then awaited. A reverting transaction is mined with ``status == 0`` and
        does not raise; an invalid one (nonce, funds, signature) raises
        :class:`ledger.errors.InvalidTransaction`.
        """

    def latest_timestamp(self) -> int:
        """Timestamp of the head block: the chain's notion of "now"."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def next_timestamp(self) -> int:
        """The timestamp the next block will carry: when something sent now is judged.

        Consent windows and deadlines are measured from this, not from the head, which
        stands still while nothing is mined. The default is a node's own rule for a
        strictly increasing clock: ``max(wall clock, head + 1)``."""
        return max(int(time.time()), self.latest_timestamp() + 1)

    def head_number(self) -> int:
        """Number of the head block."""
        return int(self.w3.eth.block_number)

    def call(
        self, to: str, data: bytes, block: int | str = "latest", *, sender: str | None = None
    ) -> bytes:
        """Run ``data`` against ``to`` without a transaction (``eth_call``) and return the
        output. A plain request, without web3's contract layer: views run on every API
        call. Raises :class:`ledger.errors.ExecutionReverted` with the revert data."""
        tx = {"to": to, "data": to_hex(data)}
        if sender is not None:
            tx["from"] = sender
        response = self._request("eth_call", [tx, self._block_param(block)])
        error = response.get("error")
        if error is not None:
            raw = error.get("data") if isinstance(error, dict) else None
            if isinstance(raw, dict):  # some nodes nest it: {"data": {"data": "0x.."}}
                raw = raw.get("data")
            if isinstance(raw, str) and raw.startswith("0x"):
                raise ExecutionReverted(as_bytes(raw), str(error.get("message")))
            raise LedgerError(f"eth_call failed: {error}")
        result = response["result"]
        return as_bytes(result) if isinstance(result, str) else bytes(result)

    def get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        """Logs of ``addresses`` in blocks ``start..end``: address (checksummed), topics
        and data as bytes, blockNumber and logIndex as ints, blockHash and
        transactionHash as bytes."""
        return [
            dict(entry)
            for entry in self.w3.eth.get_logs(
                {"fromBlock": start, "toBlock": end, "address": list(addresses)}  # type: ignore[typeddict-item]
            )
        ]

    def block_stamp(self, number: int) -> tuple[bytes, int]:
        """Hash and timestamp of block ``number``."""
        block = self.w3.eth.get_block(number)
        return bytes(block["hash"]), int(block["timestamp"])

    def _block_param(self, block: int | str) -> Any:
        return block if isinstance(block, str) else hex(block)

    def _request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """A raw JSON-RPC request through ``w3``'s provider: the response, error and all."""
        return dict(self.w3.provider.make_request(RPCEndpoint(method), params))

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> int:
        """One storage word of the contract at ``address``: a state lookup, far cheaper
        than running a view function for values that sit in one slot."""
        word = self.w3.eth.get_storage_at(Web3.to_checksum_address(address), slot, block)  # type: ignore[arg-type]
        return int.from_bytes(word, "big")

    def wait_for_slot(self) -> None:  # noqa: B027 -- a no-op unless a chain has slots
        """Return when a block submitted now would be mined without waiting. A batching
        caller waits here before it gathers its batch, so the batch takes in everything
        that arrived meanwhile. Nodes that mine on arrival have nothing to wait for."""

    @abc.abstractmethod
    def time_travel(self, seconds: int) -> None:
        """Move chain time forward by ``seconds`` and mine a block at the new time."""

    @abc.abstractmethod
    def fund(self, address: str, wei: int) -> None:
        """Add ``wei`` to ``address``'s balance (development chains only)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class HeadCache:
    """The head block as a chain in another process reports it, read once per
    ``head_ttl`` for every caller: each API call asks for chain time, and one request
    per call would queue hundreds of them at the node while it mines. This service's
    own writes and time travel drop it at once (:meth:`_head_moved`); another writer's
    block shows within ``head_ttl``."""

    head_ttl = 0.05
    _head_cache: tuple[tuple[int, ...], float] | None = None
    _head_generation = 0

    def _read_head(self) -> tuple[int, ...]:
        """One request for the head: (number, timestamp, …) as the backend has them."""
        raise NotImplementedError

    def _head(self) -> tuple[int, ...]:
        cached, generation = self._head_cache, self._head_generation
        if cached is not None and time.monotonic() - cached[1] < self.head_ttl:
            return cached[0]
        head = self._read_head()
        if generation == self._head_generation:  # no write of ours landed meanwhile
            self._head_cache = (head, time.monotonic())
        return head

    def _head_moved(self) -> None:
        self._head_generation += 1
        self._head_cache = None


class TransactionSigner:
    """Signs EIP-1559 transactions for one account, numbering nonces locally.

    Local nonces let a caller sign many transactions for the same block without a round
    trip each and without the node's pending pool (the embedded chain has none). After
    a batch fails, call :meth:`resync` so the next nonce comes from the chain again.
    Threads sharing one signer must sign and submit under one lock of their own, or
    their batches can reach the chain out of nonce order.
    """

    def __init__(self, private_key: str | bytes | LocalAccount, *, priority_fee: int = 0) -> None:
        # A zero tip by default: permissioned networks (Besu QBFT) run with free gas, where
        # any positive price would require the relayer to hold ether nobody can mint.
        self.account: LocalAccount = (
            private_key if isinstance(private_key, LocalAccount) else Account.from_key(private_key)
        )
        self.priority_fee = priority_fee
        self._next_nonce: int | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def resync(self) -> None:
        """Forget the local nonce; the next :meth:`sign` asks the chain."""
        with self._lock:
            self._next_nonce = None

    def sign(self, chain: Chain, tx: Mapping[str, Any]) -> bytes:
        """Fill chainId, fees, nonce (and gas, by estimate, if absent); return the raw tx."""
        return self.sign_many(chain, [tx])[0]

    def sign_many(self, chain: Chain, txs: Sequence[Mapping[str, Any]]) -> list[bytes]:
        """Sign several transactions with consecutive nonces, reading the base fee once.

        Keys the caller gives win (``nonce`` given: the local counter is left alone;
        ``gasPrice`` given: a legacy transaction).
        """
        if not txs:
            return []
        base_fee = int(chain.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        # Twice the base fee survives several full blocks of +12.5% increases.
        fees = {
            "type": 2,
            "maxPriorityFeePerGas": self.priority_fee,
            "maxFeePerGas": 2 * base_fee + self.priority_fee,
        }
        raws = []
        with self._lock:
            try:
                for tx in txs:
                    full: dict[str, Any] = {
                        "chainId": chain.chain_id,
                        "value": 0,
                        "data": b"",
                        **({} if "gasPrice" in tx else fees),
                        **tx,
                    }
                    if isinstance(full.get("to"), str):  # eth-account insists on checksums
                        full["to"] = Web3.to_checksum_address(full["to"])
                    if "gas" not in full:
                        full["gas"] = self._estimate_gas(chain, full)
                    if "nonce" not in tx:
                        if self._next_nonce is None:
                            self._next_nonce = chain.w3.eth.get_transaction_count(
                                self.address, "pending"
                            )
                        full["nonce"] = self._next_nonce
                        self._next_nonce += 1
                    raws.append(bytes(self.account.sign_transaction(full).raw_transaction))
            except BaseException:
                self._next_nonce = None  # nonces handed out above will never be sent
                raise
        return raws

    def _estimate_gas(self, chain: Chain, tx: Mapping[str, Any]) -> int:
        call = {"from": self.address, **{k: tx[k] for k in ("to", "value", "data") if k in tx}}
        # 20% headroom: state can change between estimate and inclusion.
        return chain.w3.eth.estimate_gas(call) * 6 // 5  # type: ignore[arg-type]
