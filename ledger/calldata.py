"""The signed intents a transaction carries, decoded from its calldata as their signers
signed them: for the audit, the journal's check and anyone who must show an intent
without being trusted (``GET /audit/…/provenance``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.client import LedgerClient
from ledger.intents import BY_FUNCTION
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
