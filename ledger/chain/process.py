"""The embedded chain in a process of its own, and the :class:`Chain` that reaches it.

py-evm is pure Python: run in the API's process it takes the same core as HTTP, relayer
and indexer. :func:`serve_chain` puts an :class:`~ledger.chain.embedded.EmbeddedChain`
behind a small HTTP endpoint on 127.0.0.1, and :class:`ProcessChain` is a
:class:`~ledger.chain.base.Chain` over it that keeps the embedded chain's semantics
exactly (a batch is one block or nothing, durable when it returns; chain time, time
travel and funding as there), which a JSON-RPC node would not.

The wire is the embedded chain's own provider: :class:`ProcessChain`'s ``w3`` formats
requests with web3's eth-tester middleware on the client side, and the server hands them
to the chain's provider as web3 would in process, so every read behaves as it does
embedded. The few :class:`Chain` methods that are not reads go as ``consent_*`` methods.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from hexbytes import HexBytes
from web3 import Web3
from web3.providers.base import BaseProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from ledger.chain.base import Chain, HeadCache
from ledger.chain.embedded import EmbeddedChain
from ledger.chain.sqlite_db import SqliteDB
from ledger.chain.state_reader import StateReader
from ledger.chain.wire import Wire, jsonable
from ledger.codec import as_bytes, to_hex
from ledger.errors import InvalidTransaction, LedgerError

log = logging.getLogger(__name__)

#: JSON-RPC error code of a transaction the chain refused before mining (``data.index``).
INVALID_TRANSACTION = -32003
#: JSON-RPC error code of any other failure of a ``consent_*`` method.
CHAIN_FAILURE = -32000
#: How long before a block's slot (a share of the block period) a relayer's wait for it
#: returns: time to gather, journal and sign its batch and reach the chain process while
#: the block still waits.
SEND_LEAD = 0.25


class ChainServer(ThreadingHTTPServer):
    """``POST /`` with ``{"method", "params"}``: one request per call, threads per
    connection (reads run beside a block being mined, as in process)."""

    daemon_threads = True
    allow_reuse_address = True
    # Every request thread of every worker may hold a connection: the stdlib's backlog of 5
    # resets connections under a burst of them.
    request_queue_size = 1024

    def __init__(self, chain: EmbeddedChain, host: str = "127.0.0.1", port: int = 0) -> None:
        self.chain = chain
        self.methods: dict[str, Callable[..., Any]] = {
            "consent_chainId": lambda: chain.chain_id,
            "consent_sendRawTransactions": lambda raws: [
                to_hex(h) for h in chain.mine([as_bytes(raw) for raw in raws])
            ],
            "consent_getLogs": chain.get_logs,
            "consent_head": self._head,
            "consent_database": lambda: None if chain.db_path is None else str(chain.db_path),
            "consent_storageAt": lambda address, slot, block: str(
                chain.storage_at(address, int(slot), block)
            ),
            "consent_blockStamp": self._block_stamp,
            "consent_waitForSlot": lambda: chain.wait_for_slot(lead=chain.block_period * SEND_LEAD),
            "consent_timeTravel": chain.time_travel,
            "consent_fund": lambda address, wei: chain.fund(address, int(wei)),
        }
        super().__init__((host, port), _Handler)

    def _head(self) -> list[Any]:
        number, timestamp, offset, root = self.chain.head_state()
        return [number, timestamp, offset, to_hex(root)]

    def _block_stamp(self, number: int) -> list[Any]:
        block_hash, timestamp = self.chain.block_stamp(int(number))
        return [to_hex(block_hash), timestamp]

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = str(request.get("method")), list(request.get("params") or [])
        handler = self.methods.get(method)
        if handler is None:
            # A read, formatted by the client's web3 as it would be in process.
            return dict(self.chain.w3.provider.make_request(RPCEndpoint(method), params))
        try:
            return {"result": handler(*params)}
        except InvalidTransaction as exc:
            error = {"code": INVALID_TRANSACTION, "message": str(exc), "data": {"index": exc.index}}
            return {"error": error}
        except (LedgerError, ValueError, TypeError) as exc:
            return {"error": {"code": CHAIN_FAILURE, "message": str(exc)}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client thread
    server: ChainServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length))
            answer = self.server.answer(request)
        except Exception as exc:  # an answer, never a dropped connection
            log.exception("chain request failed")
            answer = {"error": {"code": CHAIN_FAILURE, "message": f"{type(exc).__name__}: {exc}"}}
        body = json.dumps({"jsonrpc": "2.0", "id": 0, **answer}, default=jsonable).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the service's log


@contextmanager
def serve_chain(
    chain: EmbeddedChain, host: str = "127.0.0.1", port: int = 0
) -> Iterator[ChainServer]:
    """Serve ``chain`` from a background thread while the block runs (``.url``: where)."""
    server = ChainServer(chain, host, port)
    thread = threading.Thread(target=server.serve_forever, name="chain-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _ProcessProvider(EthereumTesterProvider):
    """web3's eth-tester provider (its middleware formats requests and results) whose
    requests run in the chain process instead of on a local tester."""

    def __init__(self, wire: Wire) -> None:
        BaseProvider.__init__(self)  # no local EthereumTester: the chain is elsewhere
        self._wire = wire

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return cast(RPCResponse, self._wire.post(method, params))


class ProcessChain(HeadCache, Chain):
    """The embedded chain served by :func:`serve_chain` in another process."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url
        self._wire = Wire(url, timeout, what="chain process")
        self.w3 = Web3(_ProcessProvider(self._wire))
        self._chain_id = int(self._call("consent_chainId"))
        # The chain's file when this machine has it (the chain process is this service's
        # child): state is read from it directly.
        path = self._call("consent_database")
        self._state_db = (
            SqliteDB(path, read_only=True) if path is not None and Path(path).exists() else None
        )
        self._state = None if self._state_db is None else StateReader(self._state_db)

    def _call(self, method: str, *params: Any) -> Any:
        answer = self._wire.post(method, params)
        error = answer.get("error")
        if error is None:
            return answer.get("result")
        if error.get("code") == INVALID_TRANSACTION:
            raise InvalidTransaction(str(error.get("message")), index=int(error["data"]["index"]))
        raise LedgerError(f"{method}: {error.get('message')}")

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def send_raw_transactions(self, raw_txs: Sequence[bytes]) -> list[TxReceipt]:
        if not raw_txs:
            return []
        try:
            hashes = self._call("consent_sendRawTransactions", [to_hex(bytes(r)) for r in raw_txs])
        finally:
            self._head_moved()
        return [self.w3.eth.get_transaction_receipt(HexBytes(h)) for h in hashes]

    def _read_head(self) -> tuple[int, int, int, int]:
        number, timestamp, offset, root = self._call("consent_head")
        return int(number), int(timestamp), int(offset), int(root, 16)

    def latest_timestamp(self) -> int:
        return self._head()[1]

    def next_timestamp(self) -> int:
        # As the chain process would stamp a block now (EmbeddedChain.next_timestamp):
        # one clock on one machine, moved by the chain's time-travel offset.
        _, timestamp, offset, _ = self._head()
        return max(int(time.time()) + offset, timestamp + 1)

    def head_number(self) -> int:
        return self._head()[0]

    def storage_at(self, address: str, slot: int, block: int | str = "latest") -> int:
        if block == "latest" and self._state is not None:
            # From the chain's own file under the head's root: no round trip to a process
            # busy mining (the nodes are committed before the head naming them is published).
            root = self._head()[3].to_bytes(32, "big")
            return self._state.storage(root, address, slot)
        return int(self._call("consent_storageAt", address, str(slot), block))

    def get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        entries = self._call("consent_getLogs", start, end, list(addresses))
        for entry in entries:
            entry["topics"] = [as_bytes(t) for t in entry["topics"]]
            for key in ("data", "blockHash", "transactionHash"):
                entry[key] = as_bytes(entry[key])
        return cast(list[dict[str, Any]], entries)

    def block_stamp(self, number: int) -> tuple[bytes, int]:
        block_hash, timestamp = self._call("consent_blockStamp", number)
        return as_bytes(block_hash), int(timestamp)

    def _block_param(self, block: int | str) -> Any:
        return block  # the tester's format, as embedded

    def wait_for_slot(self) -> None:
        """Returns a little before the slot (:data:`SEND_LEAD`): the chain process puts
        every batch that is waiting when the slot comes into that block (group commit),
        so each relayer sends just before it, not just after another's took it alone."""
        # A pacing hint, never a failure: a chain that is away fails the send after it.
        with contextlib.suppress(LedgerError):
            self._call("consent_waitForSlot")

    def time_travel(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("chain time cannot move backwards")
        try:
            self._call("consent_timeTravel", seconds)
        finally:
            self._head_moved()

    def fund(self, address: str, wei: int) -> None:
        try:
            self._call("consent_fund", address, str(wei))
        finally:
            self._head_moved()

    def close(self) -> None:
        """Nothing to flush: the chain process owns the chain."""
        if self._state_db is not None:
            self._state_db.close()
