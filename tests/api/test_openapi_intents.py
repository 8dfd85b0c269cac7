"""OpenAPI names each signed body's EIP-712 type and its fields, from the one intent
definition; the set rule for field arrays is said in OpenAPI and ``/eip712``."""

from __future__ import annotations

from typing import Any

from api.intent_schemas import SET_RULE
from ledger.intents import INTENTS
from tests.api.conftest import World


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_signed_write_documents_its_intents_fields(world: World) -> None:
    document = world.http.get("/openapi.json").json()
    documented: set[str] = set()
    for methods in document["paths"].values():
        for operation in methods.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = _resolve(document, content["application/json"]["schema"])
            message = body.get("properties", {}).get("message")
            if message is None or message.get("type") == "string":  # sign-in's text
                continue
            name = message["title"].removesuffix(" message")
            assert name in INTENTS, message["title"]
            fields = INTENTS[name].fields
            assert list(message["properties"]) == [f for f, _ in fields]
            assert message["required"] == [f for f, _ in fields]
            assert message["additionalProperties"] is False
            for field, kind in fields:
                schema = message["properties"][field]
                if kind.startswith("uint"):
                    bits = int(kind[4:])
                    assert schema["maximum"] == 2**bits - 1  # exact, not a float
                if kind == "bytes32[]":
                    assert schema["description"] == SET_RULE
            documented.add(name)
    assert documented == set(INTENTS)


def test_eip712_states_the_set_rule_and_the_bounds(world: World) -> None:
    rules = world.http.get("/eip712").json()["rules"]
    assert rules["bytes32[]"] == SET_RULE
    assert "30 days" in rules["deadline"]
