"""The signed intents a transaction carries, decoded from its calldata as their signers
signed them: for the audit, the journal's check and anyone who must show an intent
without being trusted (``GET /audit/…/provenance``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.client import LedgerClient
from ledger.eip712 import expand_compact
from ledger.intents import BY_FUNCTION, INTENTS
from ledger.types import ConsentTerms, SignedIntent


def intents_of_call(
    client: LedgerClient, to: str, data: bytes
) -> tuple[str, list[SignedIntent]] | None:
    """The signed intents a transaction to one of the contracts carries in its calldata,
    as their signers signed them, with their type; ``None`` for a call that carries none
    (an admin's direct call, the deployment). ValueError for calldata no ABI explains.
    Whoever must show an intent without being trusted serves it from here."""
    name, params = client.decode_call(to, bytes(data))
    spec = BY_FUNCTION.get(name)
    if spec is None:
        return None
    return spec.name, intents_from_call(spec.name, name, params)


def intents_from_call(
    intent_name: str, function: str, params: Mapping[str, Any]
) -> list[SignedIntent]:
    """The intents of a call to ``function`` (single, batch or scoped batch) carrying
    intents of type ``intent_name``, from its decoded ``params``: messages and 65-byte
    signatures exactly as signed. ValueError for a scoped batch whose intent names no
    scope of it (the contract reverts on that)."""
    spec = INTENTS[intent_name]
    if function == spec.scoped_batch_function:
        return _scoped_intents(intent_name, params)
    if function.endswith("Batch"):
        messages = params["intents"]
        signatures = params["signatures"]
        terms = params.get("terms") or [None] * len(messages)
    else:
        messages, signatures, terms = (
            [params["intent"]],
            [params["signature"]],
            [params.get("terms")],
        )
    result = []
    for message, signature, term in zip(messages, signatures, terms, strict=True):
        consent_terms: ConsentTerms | tuple[ConsentTerms, ...] | None = None
        if isinstance(term, list):
            consent_terms = tuple(ConsentTerms.from_event(t) for t in term)
        elif term is not None:
            consent_terms = ConsentTerms.from_event(term)
        result.append(SignedIntent(intent_name, dict(message), bytes(signature), consent_terms))
    return result


def _scoped_intents(intent_name: str, params: Mapping[str, Any]) -> list[SignedIntent]:
    """A scoped batch's intents (:func:`ledger.client.scoped_args` in reverse): each
    intent's own members with those of the scope it names, in the message's order, and
    its compact signature expanded to the 65 bytes it was compacted from."""
    spec = INTENTS[intent_name]
    scopes = params["scopes"]
    result = []
    for position, intent in enumerate(params["intents"]):
        index = int(intent["scope"])
        if not 0 <= index < len(scopes):
            raise ValueError(f"intent {position} names scope {index} of a batch with {len(scopes)}")
        scope = scopes[index]
        message = {
            name: _copy(scope[name]) if name in spec.scope_fields else intent[name]
            for name in spec.field_names
        }
        signature = expand_compact(bytes(intent["r"]), bytes(intent["vs"]))
        result.append(SignedIntent(intent_name, message, signature))
    return result


def _copy(value: Any) -> Any:
    """A scope's value for one message (its lists are each message's own)."""
    return list(value) if isinstance(value, list) else value
