"""A chain reached over Ethereum JSON-RPC: anvil in development, Besu/GoQuorum in production."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from ledger.chain.base import Chain, HeadCache
from ledger.chain.wire import Wire
from ledger.codec import as_bytes, checksum
from ledger.errors import ChainUnavailable, InvalidTransaction, LedgerError

T = TypeVar("T")

#: Requests safe to send twice (:class:`~ledger.chain.wire.Wire` repeats one whose kept
#: connection failed unanswered), sent on the lean wire.
_READS = frozenset(
    {"eth_getStorageAt", "eth_getBlockByNumber", "eth_getLogs", "eth_call", "eth_chainId"}
)


class RpcChain(HeadCache, Chain):
    """A :class:`Chain` over HTTP JSON-RPC.

    ``timeout`` bounds the wait for receipts (a node that accepts transactions but never
    mines them is unavailable, not slow); ``poll_interval`` is short because dev nodes
    mine on arrival and a relayer waits on every batch; ``head_ttl`` is how long one
    read of the head block (number, time) serves later callers.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        poll_interval: float = 0.02,
        request_timeout: float = 10.0,
        head_ttl: float = 0.05,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.head_ttl = head_ttl
        # requests re-reads proxy variables and looks for ~/.netrc on every request
        # (a millisecond of CPU each time); read the environment's proxies once instead.
        session = requests.Session()
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(url)
        self.w3 = Web3(
            HTTPProvider(url, request_kwargs={"timeout": request_timeout}, session=session)
        )
        # The hot reads (admission's storage words, the head, logs) go on a lean wire;
        # behind a proxy, everything goes through requests, which knows how to reach it.
        self._wire = None if session.proxies else Wire(url, request_timeout)
        self._chain_id = self._call(lambda: int(self.w3.eth.chain_id))

    @contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Turn transport failures into :class:`ChainUnavailable` naming the URL."""
        try:
            yield
        except requests.exceptions.RequestException as exc:
            raise ChainUnavailable(f"chain node at {self.url} unreachable: {exc}") from exc
        except ValueError as exc:  # a non-JSON answer: not an Ethereum node
            if isinstance(exc, Web3RPCError):
                raise
            raise ChainUnavailable(f"chain node at {self.url} answered garbage: {exc}") from exc

    def _call(self, fn: Callable[[], T]) -> T:
        with self._unavailable():
            return fn()

    def _request(self, method: str, params: list[Any]) -> dict[str, Any]:
        if self._wire is not None and method in _READS:
            return self._wire.post(method, params)
        with self._unavailable():
            return super()._request(method, params)

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self._request(method, params)
        if "error" in response:
            raise LedgerError(f"{method} failed at {self.url}: {response['error']}")
        return response.get("result")

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _read_head(self) -> tuple[int, int]:
        # One plain request (no web3 formatters).
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), int(block["timestamp"], 16)

    def get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        # Parsed here: web3's log formatters cost more than the request (indexer catch-up).
        raw = self._rpc(
            "eth_getLogs",
            [{"fromBlock": hex(start), "toBlock": hex(end), "address": list(addresses)}],
        )
        return [
            {
                "address": checksum(entry["address"]),
                "topics": [as_bytes(t) for t in entry["topics"]],
                "data": as_bytes(entry["data"]),
                "blockNumber": int(entry["blockNumber"], 16),
                "blockHash": as_bytes(entry["blockHash"]),
                "logIndex": int(entry["logIndex"], 16),
                "transactionHash": as_bytes(entry["transactionHash"]),
            }
            for entry in raw
        ]

    def block_stamp(self, number: int) -> tuple[bytes, int]:
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise LedgerError(f"no block {number} at {self.url}")
        return as_bytes(block["hash"]), int(block["timestamp"], 16)

    def latest_timestamp(self) -> int:
        return self._head()[1]

    def next_timestamp(self) -> int:
        # The pending block carries the node's clock, moved by evm_increaseTime (anvil,
        # hardhat); a node without one falls back to the wall clock.
        pending = self._rpc("eth_getBlockByNumber", ["pending", False])
        head = self.latest_timestamp()
        if not pending or pending.get("timestamp") is None:
            return max(int(time.time()), head + 1)
        return max(int(pending["timestamp"], 16), head)

    def head_number(self) -> int:
        return self._head()[0]

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> int:
        return int(
            self._rpc("eth_getStorageAt", [address, hex(slot), self._block_param(block)]), 16
        )

    def send_raw_transactions(self, raw_txs: Sequence[bytes]) -> list[TxReceipt]:
        try:
            return self._send(raw_txs)
        finally:
            self._head_moved()

    def _send(self, raw_txs: Sequence[bytes]) -> list[TxReceipt]:
        hashes: list[HexBytes] = []
        for index, raw in enumerate(raw_txs):
            try:
                with self._unavailable():
                    hashes.append(self.w3.eth.send_raw_transaction(raw))
            except Web3RPCError as exc:
                # The ones already sent will be mined; wait for them so the caller knows
                # exactly what happened.
                raise InvalidTransaction(
                    f"transaction {index} of {len(raw_txs)} refused by {self.url}: {exc}",
                    index=index,
                    receipts=self._wait(hashes),
                ) from exc
        return self._wait(hashes)

    def _wait(self, hashes: Sequence[HexBytes]) -> list[TxReceipt]:
        deadline = time.monotonic() + self.timeout
        receipts: list[TxReceipt] = []
        for tx_hash in hashes:  # mined ones stay mined: one pass in order suffices
            while True:
                try:
                    with self._unavailable():
                        receipts.append(self.w3.eth.get_transaction_receipt(tx_hash))
                    break
                except TransactionNotFound:
                    if time.monotonic() > deadline:
                        raise ChainUnavailable(
                            f"{self.url} did not mine {tx_hash.to_0x_hex()} within {self.timeout} s"
                        ) from None
                    time.sleep(self.poll_interval)
        return receipts

    def time_travel(self, seconds: int) -> None:
        """``evm_increaseTime`` + ``evm_mine``: anvil, hardhat and ganache understand them."""
        if seconds < 0:
            raise ValueError("chain time cannot move backwards")
        self._rpc("evm_increaseTime", [seconds])
        self._rpc("evm_mine", [])
        self._head_moved()

    def fund(self, address: str, wei: int) -> None:
        """Raise the balance by ``wei`` with ``anvil_setBalance`` (dev nodes only)."""
        account = checksum(address)
        balance = self._call(lambda: self.w3.eth.get_balance(account))
        self._rpc("anvil_setBalance", [account, hex(balance + wei)])
        self._head_moved()

    def close(self) -> None:
        """Nothing to flush: the node owns the chain. HTTP sessions are pooled by web3."""
