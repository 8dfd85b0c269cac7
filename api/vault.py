"""Vault rows that become valid with an intent: written by the relayer in the same
database transaction that closes the intent's journal entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.client import Outcome
from ledger.store import attestation_records, attestations, dumps, envelopes, wrapped_keys


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
    elif kind == "attestation":
        _attestation(c, outcome, effects)
    elif kind is not None:
        raise ValueError(f"unknown side effect {kind!r}")


def _attestation(c: Connection, outcome: Outcome, effects: Mapping[str, Any]) -> None:
    """The signed attestation and the chain's record of it (``AttestationRecorded``)."""
    assert outcome.event is not None and outcome.receipt.log_index is not None
    recorded = outcome.event.args
    message = effects["message"]
    inserted = c.execute(
        attestations.insert().values(
            resident=effects["resident"],
            field=effects["field"],
            version=effects["version"],
            issuer=message["issuer"],
            commitment=message["commitment"],
            issued_at=int(message["issuedAt"]),
            expires_at=int(message["expiresAt"]),
            message=dumps(message),
            signature=effects["signature"],
        )
    )
    assert inserted.inserted_primary_key is not None
    c.execute(
        attestation_records.insert().values(
            attestation_id=int(inserted.inserted_primary_key[0]),
            digest="0x" + bytes(recorded["digest"]).hex(),
            tx_hash=outcome.receipt.tx_hash,
            block_number=outcome.receipt.block_number,
            log_index=outcome.receipt.log_index,
            recorded_at=int(recorded["recordedAt"]),
        )
    )
