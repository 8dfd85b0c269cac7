"""A read-only JSON-RPC window on the node, for wallets that run in a browser.

A department checks each attestation against the chain's own record and trust list, not
against what the API says (the CLI does it with ``--chain-url``). A page under the
portal's CSP reaches only this origin, and the embedded chain has no JSON-RPC port at
all, so the node answers here the few reads that check needs: ``eth_chainId``,
``net_version``, ``eth_blockNumber`` and ``eth_call`` to one of the deployed contracts.
Nothing that writes, nothing that reads accounts, logs or transactions: every other
method is refused with JSON-RPC's -32601 and a malformed call with -32600/-32602, in a
JSON-RPC answer (HTTP 200), which is what JSON-RPC clients such as ethers expect; a body
that is no JSON-RPC request or batch at all is a 422 problem, as anywhere else.
"""

from __future__ import annotations

import json
import re
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import NodeDep
from api.errors import BadRequest
from api.node import Node
from ledger.codec import as_bytes, to_hex
from ledger.errors import ExecutionReverted

router = APIRouter(tags=["public"])

#: At most this many calls in one batch (the portal's check of a query sends a few).
MAX_BATCH = 20
#: Calldata of the views the check makes is ~100 bytes; no view needs more than this.
MAX_CALLDATA = 4096
_HEX = re.compile(r"0x[0-9a-fA-F]*")
_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]{0,15})")
_TAGS = {"latest", "safe", "finalized", "pending"}
_CALL_KEYS = {"to", "data", "input", "from"}

#: One JSON-RPC 2.0 response, as the OpenAPI document gives it.
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["jsonrpc", "id"],
    "properties": {
        "jsonrpc": {"const": "2.0"},
        "id": {"type": ["integer", "string", "null"]},
        "result": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "data": {"type": "string"},
            },
        },
    },
}
_ANSWER: dict[str, Any] = {
    "description": "A JSON-RPC 2.0 response, or a list of them for a batch",
    "content": {
        "application/json": {
            "schema": {"oneOf": [RESPONSE_SCHEMA, {"type": "array", "items": RESPONSE_SCHEMA}]}
        }
    },
}


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@router.post(
    "/chain",
    responses={200: _ANSWER},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "A JSON-RPC 2.0 request or a batch of at most 20",
                        "oneOf": [
                            {"type": "object"},
                            {"type": "array", "items": {"type": "object"}, "maxItems": MAX_BATCH},
                        ],
                    }
                }
            },
        }
    },
)
async def chain_rpc(request: Request, node: NodeDep) -> JSONResponse:
    """Read-only JSON-RPC: ``eth_chainId``, ``net_version``, ``eth_blockNumber``, and
    ``eth_call`` (``to`` one of the deployed contracts, ``data`` at most 4 KiB, block a
    tag or a number; ``from`` is ignored): for wallets in a browser that check the chain."""
    body = await request.body()
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not JSON") from exc
    if isinstance(document, list):
        if not document or len(document) > MAX_BATCH:
            raise BadRequest(f"a batch holds 1 to {MAX_BATCH} calls")
        if not all(isinstance(call, dict) for call in document):
            raise BadRequest("each call of a batch is a JSON-RPC request (an object)")
        answers = [await to_thread.run_sync(_answer, node, call) for call in document]
        return JSONResponse(answers)
    if not isinstance(document, dict):
        raise BadRequest("the body is a JSON-RPC request (an object) or a batch (a list)")
    return JSONResponse(await to_thread.run_sync(_answer, node, document))


def _answer(node: Node, call: Any) -> dict[str, Any]:
    ident = call.get("id") if isinstance(call, dict) else None
    if not isinstance(ident, (int, str)) or isinstance(ident, bool):
        ident = None
    try:
        if not isinstance(call, dict) or call.get("jsonrpc") != "2.0":
            raise _RpcError(-32600, "not a JSON-RPC 2.0 request")
        method, params = call.get("method"), call.get("params", [])
        if not isinstance(params, list):
            raise _RpcError(-32602, "params must be a list")
        return {"jsonrpc": "2.0", "id": ident, "result": _run(node, method, params)}
    except _RpcError as exc:
        return _error(ident, exc)


def _run(node: Node, method: Any, params: list[Any]) -> str:
    if method == "eth_chainId":
        return hex(node.chain.chain_id)
    if method == "net_version":
        return str(node.chain.chain_id)
    if method == "eth_blockNumber":
        return hex(node.chain.head_number())
    if method == "eth_call":
        return _eth_call(node, params)
    raise _RpcError(-32601, f"method not served here: {str(method)[:64]}")


def _eth_call(node: Node, params: list[Any]) -> str:
    if not 1 <= len(params) <= 2 or not isinstance(params[0], dict):
        raise _RpcError(-32602, "eth_call takes [{to, data}, block]")
    tx = params[0]
    if not set(tx) <= _CALL_KEYS:
        raise _RpcError(-32602, "eth_call here takes only to, data (or input) and from")
    contracts = {a.lower(): a for a in node.deployment.contracts.values()}
    to = tx.get("to")
    if not isinstance(to, str) or to.lower() not in contracts:
        raise _RpcError(-32602, "to must be one of the deployed contracts (GET /health)")
    data = tx.get("data", tx.get("input", "0x"))
    if not isinstance(data, str) or not _HEX.fullmatch(data) or len(data) % 2:
        raise _RpcError(-32602, "data must be 0x-hex bytes")
    if len(data) > 2 + 2 * MAX_CALLDATA:
        raise _RpcError(-32602, f"data is over {MAX_CALLDATA} bytes")
    block = _block(node, params[1] if len(params) == 2 else "latest")
    try:
        # The views the check makes read no msg.sender; eth-tester insists on one anyway.
        sender = node.relayer_key.address
        return to_hex(node.chain.call(contracts[to.lower()], as_bytes(data), block, sender=sender))
    except ExecutionReverted as exc:
        raise _RpcError(3, "execution reverted", to_hex(exc.data)) from exc


def _block(node: Node, value: Any) -> int | str:
    if value in _TAGS:
        return "latest"
    if isinstance(value, str) and _QUANTITY.fullmatch(value):
        number = int(value, 16)
        if number <= node.chain.head_number():
            return number
        raise _RpcError(-32602, "block beyond the head")
    raise _RpcError(-32602, "block must be a tag (latest) or a 0x quantity")


def _error(ident: int | str | None, exc: _RpcError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        error["data"] = exc.data
    return {"jsonrpc": "2.0", "id": ident, "error": error}
