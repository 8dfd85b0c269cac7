"""JSON-RPC over HTTP, lean: one keep-alive ``http.client`` connection per calling thread.

The relayer's admission asks the chain a few storage words per intent. Through web3's
``HTTPProvider`` (requests, urllib3, web3's middleware and caching) each answer cost
about a millisecond of CPU, as much as the rest of a grant's checks; here it is one
``json.dumps``, one request on a kept connection and one ``json.loads``. Used for the
chain process (:mod:`ledger.chain.process`) and for a node's reads
(:class:`ledger.chain.rpc.RpcChain`).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from ledger.codec import to_hex
from ledger.errors import ChainUnavailable


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default`` for chain parameters: bytes as 0x-hex."""
    if isinstance(value, bytes | bytearray):
        return to_hex(bytes(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


class Wire:
    """``post(method, params)`` → the JSON-RPC response (its ``error`` and all).

    A kept connection that fails before any answer (the server restarted, or closed an
    idle connection) is replaced and the request sent once more: it was never answered.
    Any other failure is :class:`ChainUnavailable` naming ``what`` and the URL. Callers
    send only requests that are safe to repeat that way (reads, or the chain process's
    own idempotent calls)."""

    def __init__(self, url: str, timeout: float, *, what: str = "chain node") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"a JSON-RPC URL is http:// or https://, not {url}")
        self.url = url
        self._what = what
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        if parts.query:
            self._path += f"?{parts.query}"
        self._timeout = timeout
        self._local = threading.local()
        self._id = 0

    def post(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        self._id += 1  # not atomic: ids only need to be present, not unique
        request = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        body = json.dumps(request, default=jsonable)
        while True:
            connection, reused = self._connection()
            try:
                connection.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                return cast(dict[str, Any], json.loads(response.read()))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                connection.close()
                self._local.connection = None
                if not reused or isinstance(exc, ValueError | TimeoutError):
                    message = f"{self._what} at {self.url} unreachable: {exc}"
                    raise ChainUnavailable(message) from exc

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return cast(http.client.HTTPConnection, connection), True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._netloc, timeout=self._timeout)
        self._local.connection = connection
        return connection, False
