"""``Wire``: kept connections, replaced after a server restart, failures named."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger.chain.wire import Wire
from ledger.errors import ChainUnavailable


class _Node(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, *, garbage: bool = False) -> None:
        self.connections = 0
        self.open: list[socket.socket] = []
        self.garbage = garbage
        super().__init__(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """As a process that exits: the listener and every kept connection closed."""
        self.shutdown()
        self.server_close()
        for kept in self.open:
            with contextlib.suppress(OSError):
                kept.shutdown(socket.SHUT_RDWR)
            kept.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a JSON-RPC node does
    server: _Node

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1
        self.server.open.append(self.connection)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = {"jsonrpc": "2.0", "id": request["id"], "result": request["params"]}
        body = b"<html>busy</html>" if self.server.garbage else json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[_Node]:
    served = _Node()
    yield served
    served.stop()


def _url(node: _Node) -> str:
    return f"http://127.0.0.1:{node.server_address[1]}/rpc"


def test_requests_of_one_thread_share_one_kept_connection(node: _Node) -> None:
    wire = Wire(_url(node), 5)
    answers = [wire.post("eth_getStorageAt", ["0x01", hex(i)]) for i in range(5)]
    assert [a["result"][1] for a in answers] == [hex(i) for i in range(5)]
    assert node.connections == 1


def test_a_restarted_server_is_reached_again_without_an_error(node: _Node) -> None:
    wire = Wire(_url(node), 5)
    assert wire.post("eth_chainId", [])["result"] == []
    port = int(node.server_address[1])
    node.stop()
    again = _Node(port)
    try:
        assert wire.post("eth_chainId", [b"\x01"])["result"] == ["0x01"]
        assert again.connections == 1
    finally:
        again.stop()


def test_a_server_gone_is_chain_unavailable_naming_the_url(node: _Node) -> None:
    wire = Wire(_url(node), 5, what="chain node")
    wire.post("eth_chainId", [])
    node.stop()
    with pytest.raises(ChainUnavailable, match=r"chain node at http://127\.0\.0\.1:\d+/rpc"):
        wire.post("eth_chainId", [])


def test_an_answer_that_is_not_json_is_chain_unavailable() -> None:
    served = _Node(garbage=True)
    try:
        with pytest.raises(ChainUnavailable, match="unreachable"):
            Wire(_url(served), 5).post("eth_chainId", [])
    finally:
        served.stop()


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="ws://"):
        Wire("ws://127.0.0.1:8545", 5)
