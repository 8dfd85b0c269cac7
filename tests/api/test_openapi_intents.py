"""OpenAPI names each signed body's EIP-712 type and its fields, from the one intent
definition; the set rule for field arrays is said in OpenAPI and ``/eip712``."""

from __future__ import annotations

from typing import Any

from api.intent_schemas import SET_RULE
from api.main import create_app
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


#: The two ``AttestationOut`` models share a name, so FastAPI names them by module; they
#: were published under the routers' modules before the models moved to ``api.schemas``.
PUBLISHED = {"api__routers__attestations__AttestationOut", "api__routers__queries__AttestationOut"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_openapi_keeps_the_published_component_names_and_every_ref_resolves() -> None:
    document = create_app().openapi()
    components = document["components"]["schemas"]
    assert set(components) >= PUBLISHED
    assert not [name for name in components if name.startswith("api__schemas__")]
    refs = _refs(document)
    assert {"#/components/schemas/" + name for name in PUBLISHED} <= set(refs)
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in components, ref
