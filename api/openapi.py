"""The OpenAPI document says what the service really answers when it refuses.

FastAPI documents every refusal as its own ``HTTPValidationError`` JSON, while the service
answers RFC 9457 ``application/problem+json`` (see :mod:`api.errors`). Routes would each
have to repeat the same ``responses=`` table; instead the document is completed here once,
from what each operation can meet:

- every operation: 422 (its parameters), 429 (rate limits), 503 (chain or read model down);
- one that needs a bearer token: 401 and 403;
- one with path parameters or a body (it names something that may not exist): 404;
- one with a body: 400 (not JSON), 409 (nonce reused, already done) and 413 (too large).

Statuses a route declares itself keep their description; their content becomes the
problem shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import PROBLEM
from api.intent_schemas import message_schema
from api.schemas.common import SignedBody
from api.signed import document_acceptances
from ledger.vocabulary import DENIAL_REASONS

_DESCRIPTIONS = {
    "400": "The body is not JSON",
    "401": "No, bad, expired or revoked bearer token",
    "403": "Not allowed (the caller lacks the role, or the chain refused the access)",
    "404": "Unknown resident, consent, request, department or version",
    "409": "Conflict: nonce already used, already revoked, already exists",
    "413": "Request body too large",
    "422": "Invalid request: the body or a parameter does not validate, or the contract"
    " refused the intent (`error` and `arguments` name its custom error)",
    "429": "Too many requests: wait `Retry-After` seconds",
    "503": "The chain or the read model is unavailable; nothing was changed",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem. Refusals by a contract carry `error` (the Solidity"
    " custom error's name) and `arguments`; a refused access carries `reason` and the"
    " denial's `receipt`; a body that does not validate carries `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "reason": {"type": "string", "enum": list(DENIAL_REASONS)},
        "error": {"type": ["string", "null"]},
        "arguments": {"type": "object", "additionalProperties": True},
        "receipt": {"type": "object", "additionalProperties": True},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_RETRY_AFTER = {
    "description": "Seconds until the rate limit lets a request through (api.limits)",
    "schema": {"type": "integer", "minimum": 1},
}


def statuses(operation: dict[str, Any]) -> list[str]:
    """The refusals ``operation`` can answer, by what it takes."""
    found = {"422", "429", "503"}
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if operation.get("security"):
        found |= {"401", "403"}
    if has_body or any(p.get("in") == "path" for p in parameters):
        found.add("404")
    if has_body:
        found |= {"400", "409", "413"}
    return sorted(found)


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation its problem responses and drop FastAPI's validation shapes."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for status in statuses(operation):
                responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status[0] in "45":
                    if response.get("description") in (None, "Validation Error"):
                        response["description"] = _DESCRIPTIONS.get(status, "Refused")
                    response["content"] = {PROBLEM: {"schema": _PROBLEM_REF}}
                if status == "429":
                    response["headers"] = {"Retry-After": _RETRY_AFTER}
    return schema


def document_intents(schema: dict[str, Any]) -> dict[str, Any]:
    """Each signed body's ``message`` as exactly its intent's EIP-712 fields.

    Done on the finished document rather than by pydantic, which writes integer bounds
    as floats (2^64 - 1 would read 1.8e19 and lose its last digits)."""
    components = schema.get("components", {}).get("schemas", {})
    for model in _subclasses(SignedBody):
        if not model.intent or model.__name__ not in components:
            continue
        component = components[model.__name__]
        component["properties"]["message"] = message_schema(model.intent)
        component["description"] = (
            f"A signed `{model.intent}`: `message` as `GET /eip712` types it, `signature`"
            " the signer's 65-byte secp256k1 signature of its EIP-712 digest (low s)."
        )
    return schema


def _subclasses(cls: type[SignedBody]) -> list[type[SignedBody]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


#: FastAPI names a component after its class, or after its module as well when two
#: classes share a name (``AttestationOut`` of attestations and of queries). Those names
#: were published while the models lived in their routers; the schema modules mirror the
#: routers one to one, so the document keeps calling them by the router's module.
_MODULE_PREFIX, _PUBLISHED_PREFIX = "api__schemas__", "api__routers__"
_COMPONENTS = "#/components/schemas/"


def keep_component_names(schema: dict[str, Any]) -> dict[str, Any]:
    """Name module-qualified components as they were published, wherever they are used."""
    components = schema.get("components", {}).get("schemas", {})
    if not any(name.startswith(_MODULE_PREFIX) for name in components):
        return schema
    schema["components"]["schemas"] = {
        _published(name): value for name, value in components.items()
    }
    _rename_refs(schema)
    return schema


def _published(name: str) -> str:
    if name.startswith(_MODULE_PREFIX):
        return _PUBLISHED_PREFIX + name.removeprefix(_MODULE_PREFIX)
    return name


def _rename_refs(node: Any) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENTS):
            node["$ref"] = _COMPONENTS + _published(ref.removeprefix(_COMPONENTS))
        for value in node.values():
            _rename_refs(value)
    elif isinstance(node, list):
        for value in node:
            _rename_refs(value)


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (and so at ``/docs``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_acceptances(
                document_intents(document_problems(keep_component_names(generate())))
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
