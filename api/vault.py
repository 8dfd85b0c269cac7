"""Vault rows that become valid with an intent: written by the relayer in the same
database transaction that closes the intent's journal entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.client import Outcome
from ledger.store import envelopes, wrapped_keys


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def apply_side_effects(c: Connection, outcome: Outcome, effects: Mapping[str, Any]) -> None:
    kind = effects.get("kind")
    if kind == "record":
        for field, envelope in effects["fields"].items():
            c.execute(
                envelopes.insert().values(
                    resident=effects["resident"],
                    version=effects["version"],
                    field=field,
                    ciphertext=_bytes(envelope["ciphertext"]),
                    nonce=_bytes(envelope["nonce"]),
                    owner_wrapped_key=_bytes(envelope["owner_wrapped_key"]),
                )
            )
    elif kind == "grant":
        assert outcome.event is not None
        consent_id = int(outcome.event.args["consentId"])
        for field, wrapped in effects["wrapped_keys"].items():
            c.execute(
                wrapped_keys.insert().values(
                    consent_id=consent_id,
                    version=effects["version"],
                    field=field,
                    wrapped_key=_bytes(wrapped),
                )
            )
    elif kind is not None:
        raise ValueError(f"unknown side effect {kind!r}")
