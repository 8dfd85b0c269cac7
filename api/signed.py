"""Signed writes: parse ``{"message", "signature"}`` bodies, relay them, shape receipts,
and add the relayer's acceptance to their answers.

:class:`Acceptances` collects what :meth:`ledger.relayer.Relayer.submit` hands out while
a write is served (:data:`ledger.relayer.acceptances`) and adds it to the JSON answer,
2xx or problem+json alike, as ``acceptance`` (or ``acceptances``, in order, if a
request relayed several): one place instead of one member per route, so no answer to
a mined intent can leave it out. See :mod:`ledger.acceptance` for its form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BadRequest
from api.schemas.common import AcceptanceOut, ReceiptOut, SignedBody
from ledger.acceptance import Acceptance
from ledger.admission import check_form
from ledger.codec import from_hex
from ledger.relayer import acceptances
from ledger.types import ConsentTerms, Outcome, Receipt, SignedIntent
from wallets.signing import normalize_message

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def receipt_out(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        log_index=receipt.log_index,
        block_timestamp=receipt.block_timestamp,
    )


def signed_intent(
    body: SignedBody, terms: ConsentTerms | tuple[ConsentTerms, ...] | None = None
) -> SignedIntent:
    """The body as a :class:`SignedIntent`; a malformed message is a 422 problem, and so
    is one the relayer would refuse on its form alone (too many fields, a field id or
    purpose that cannot be a schema name: the contract's error), before a route reads
    the field names."""
    name = type(body).intent
    if not name:
        raise TypeError(f"{type(body).__name__} names no intent")
    message = normalize_message(name, body.message)
    try:
        signature = from_hex(body.signature)
    except ValueError as exc:
        raise BadRequest(f"signature: {exc}") from exc
    intent = SignedIntent(name, message, signature, terms)
    check_form(intent)
    return intent


def settled(outcome: Outcome) -> Mapping[str, Any]:
    """The primary event's arguments of an accepted intent; raise the contract's error."""
    return outcome.unwrap().args


class Acceptances:
    """ASGI middleware: answers to writes carry the acceptances their relaying produced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        collected: list[Acceptance] = []
        token = acceptances.set(collected)
        start: Message | None = None
        chunks: list[bytes] = []

        async def amend(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not collected or not _is_json(message):
                    await send(message)
                    return
                start = message  # held until the body is whole
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = _with_acceptances(b"".join(chunks), collected)
            headers = [
                (n, v) for n, v in start.get("headers", []) if n.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, amend)
        finally:
            acceptances.reset(token)


def _is_json(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().endswith(b"json")
    return False


def _with_acceptances(body: bytes, collected: list[Acceptance]) -> bytes:
    """The JSON object ``body`` with the acceptances as one more member, spliced in before
    its closing brace: a query's answer may be a megabyte of ciphertext, not worth
    parsing and writing again to add a few hundred bytes."""
    text = body.strip()
    if not (text.startswith(b"{") and text.endswith(b"}")):
        return body
    member: dict[str, Any]
    if len(collected) == 1:
        member = {"acceptance": collected[0].to_json()}
    else:
        member = {"acceptances": [a.to_json() for a in collected]}
    extra = json.dumps(member, separators=(",", ":")).encode()[1:-1]
    inner = text[1:-1]
    return b"{" + inner + (b"," if inner.strip() else b"") + extra + b"}"


def document_acceptances(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI: the answers of every signed write, and problems, may carry ``acceptance``
    (the middleware adds it, so no response model names it)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Acceptance"] = {
        **AcceptanceOut.model_json_schema(),
        "description": "The relayer's EIP-712 signature over the intent's digest, chain id,"
        " journal id and time accepted (primary type `Acceptance(bytes32 intent,uint256"
        ' journalId,uint64 acceptedAt,address relayer)`, domain `{name: "ResidentConsentLedger",'
        ' version: "1", chainId}`): present when the intent\'s transaction was mined.',
    }
    ref = {"$ref": "#/components/schemas/Acceptance"}
    bodies = {model.__name__ for model in _signed_bodies(SignedBody)}
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema", {})
            if str(body.get("$ref", "")).rsplit("/", 1)[-1] not in bodies:
                continue
            for status, response in operation.get("responses", {}).items():
                answer = response.get("content", {}).get("application/json", {}).get("schema", {})
                name = str(answer.get("$ref", "")).rsplit("/", 1)[-1]
                if status.startswith("2") and name in components:
                    components[name].setdefault("properties", {})["acceptance"] = ref
    problem = components.get("Problem")
    if problem is not None:
        problem.setdefault("properties", {})["acceptance"] = ref
    return schema


def _signed_bodies(cls: type[SignedBody]) -> list[type[SignedBody]]:
    found: list[type[SignedBody]] = []
    for sub in cls.__subclasses__():
        found += ([sub] if sub.intent else []) + _signed_bodies(sub)
    return found
