"""JSON Schemas of the intents, from their one definition (:data:`ledger.intents.INTENTS`).

A signed write's ``message`` is documented in OpenAPI as exactly the EIP-712 message of
its type: every field with its Solidity type as a JSON constraint, so a generated client
knows what to send, and the set rule for field arrays said where people read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.eip712 import Fields
from ledger.intents import INTENTS, MAX_DEADLINE_AHEAD

#: Said wherever field arrays are documented (``/eip712``, OpenAPI, README).
SET_RULE = (
    "A set: `bytes32` values in strictly ascending order (as 256-bit numbers),"
    " without duplicates; the contracts refuse anything else (`…UnsortedFields`)."
)

_HEX32 = "^0x[0-9a-fA-F]{64}$"

#: ``GET /eip712``'s ``rules``: what the EIP-712 types cannot say.
INTENT_RULES: dict[str, str] = {
    "bytes32[]": SET_RULE,
    "nonce": "Any unused uint256, once per signer and verifying contract (unordered:"
    " several intents of one signer may be in flight at once).",
    "deadline": f"A Unix time after the chain's next block time and at most"
    f" {MAX_DEADLINE_AHEAD // 86_400} days past it; later is refused"
    " (`SignedIntentDeadlineTooFar`).",
}


def type_schema(solidity_type: str, structs: Mapping[str, Fields] | None = None) -> dict[str, Any]:
    """The JSON Schema of one EIP-712 field type as the API takes it (``structs``: the
    struct types the intent names, an object each)."""
    structs = structs or {}
    if solidity_type in structs:
        members = structs[solidity_type]
        return {
            "title": solidity_type,
            "type": "object",
            "properties": {n: type_schema(t, structs) for n, t in members},
            "required": [n for n, _ in members],
            "additionalProperties": False,
        }
    if solidity_type.endswith("[]"):
        items = type_schema(solidity_type[:-2], structs)
        schema: dict[str, Any] = {"type": "array", "items": items}
        if solidity_type == "bytes32[]":
            schema.update(uniqueItems=True, description=SET_RULE)
        return schema
    if solidity_type.startswith("uint"):
        bits = int(solidity_type[4:] or 256)
        return {"type": "integer", "minimum": 0, "maximum": 2**bits - 1}
    if solidity_type == "address":
        return {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
    if solidity_type == "bytes32":
        return {"type": "string", "pattern": _HEX32}
    if solidity_type == "bytes":
        return {"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"}
    if solidity_type == "string":
        return {"type": "string"}
    if solidity_type == "bool":
        return {"type": "boolean"}
    raise ValueError(f"no JSON Schema for the EIP-712 type {solidity_type!r}")


def message_schema(name: str) -> dict[str, Any]:
    """The ``message`` of a signed ``name`` intent: its EIP-712 fields, all required."""
    intent = INTENTS[name]
    signer = (
        f"signed by the address in `{intent.signer_field}`"
        if intent.signer_field
        else "signed by the holder of the role it needs"
    )
    return {
        "title": f"{name} message",
        "description": f"The EIP-712 `{name}` message ({signer}; domain and types at"
        f" `GET /eip712`). Byte strings are 0x-hex, integers JSON numbers.",
        "type": "object",
        "properties": {
            field: type_schema(kind, dict(intent.structs)) for field, kind in intent.fields
        },
        "required": list(intent.field_names),
        "additionalProperties": False,
    }
