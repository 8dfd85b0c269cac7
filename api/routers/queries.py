"""Departments query under a consent; the contract judges each query at block time.

No ciphertext leaves before the chain has recorded an ``AccessLogged`` event for this
very query; a denial answers 403 with the contract's ``reason`` and the denial's receipt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection, and_, desc, select

from api.deps import CurrentActor, NodeDep
from api.errors import AccessRefused
from api.signed import ReceiptOut, SignedBody, receipt_out, signed_intent
from api.views import consent_row, consent_terms
from ledger.client import ConsentTerms
from ledger.intents import bytes32_to_name
from ledger.store import attestations, envelopes, record_versions, wrapped_keys
from wallets.record import field_leaf, record_tree
from wallets.signing import normalize_message

router = APIRouter(prefix="/queries", tags=["departments"])


class AttestationOut(BaseModel):
    message: dict[str, Any]
    signature: str


class QueriedField(BaseModel):
    ciphertext: str
    nonce: str
    wrapped_key: str
    version: int
    root: str
    proof: list[str]
    attestation: AttestationOut | None


class RecordRef(BaseModel):
    version: int
    root: str


class QueryAnswer(BaseModel):
    consent_id: int
    receipt: ReceiptOut
    record: RecordRef
    fields: dict[str, QueriedField]


@router.post(
    "",
    response_model=QueryAnswer,
    responses={403: {"description": "access refused on chain; problem with `reason`"}},
)
def query(body: SignedBody, node: NodeDep, actor: CurrentActor) -> QueryAnswer:
    """Read fields under a consent (signed `Access`)."""
    consent_id = int(normalize_message("Access", body.message)["consentId"])
    with node.store.connect() as c:
        row = consent_row(c, consent_id)
    terms = consent_terms(row) if row is not None else ConsentTerms.empty()
    intent = signed_intent("Access", body, terms)
    outcome = node.relayer.submit(intent, expected_signer=actor.address)
    event = outcome.unwrap()
    receipt = receipt_out(outcome.receipt)
    if event.name == "AccessDenied":
        reason = bytes32_to_name(event.args["reason"])
        raise AccessRefused(
            f"access to consent {consent_id} refused on chain: {reason}",
            reason=reason,
            receipt=receipt.model_dump(),
        )
    resident = intent.message["resident"]
    names = [bytes32_to_name(f) for f in intent.message["fields"]]
    with node.store.connect() as c:
        fields = {name: _field(c, consent_id, resident, name) for name in names}
    newest = max(fields.values(), key=lambda f: f.version)
    return QueryAnswer(
        consent_id=consent_id,
        receipt=receipt,
        record=RecordRef(version=newest.version, root=newest.root),
        fields=fields,
    )


def _field(c: Connection, consent_id: int, resident: str, name: str) -> QueriedField:
    """The newest version of ``name`` whose key this consent holds, with its proof."""
    key = (
        c.execute(
            select(wrapped_keys)
            .where(and_(wrapped_keys.c.consent_id == consent_id, wrapped_keys.c.field == name))
            .order_by(desc(wrapped_keys.c.version))
            .limit(1)
        )
        .mappings()
        .first()
    )
    if key is None:  # a granted field always has a key: the relayer stores it with the grant
        raise RuntimeError(f"consent {consent_id} has no wrapped key for {name!r}")
    version = int(key["version"])
    rows = (
        c.execute(
            select(envelopes).where(
                and_(envelopes.c.resident == resident, envelopes.c.version == version)
            )
        )
        .mappings()
        .all()
    )
    by_field: Mapping[str, Any] = {r["field"]: r for r in rows}
    tree = record_tree({f: bytes(r["ciphertext"]) for f, r in by_field.items()})
    root = c.execute(
        select(record_versions.c.root).where(
            and_(record_versions.c.resident == resident, record_versions.c.version == version)
        )
    ).scalar_one()
    envelope = by_field[name]
    proof = tree.get_proof(field_leaf(name, bytes(envelope["ciphertext"])))
    attestation = (
        c.execute(
            select(attestations)
            .where(
                and_(
                    attestations.c.resident == resident,
                    attestations.c.field == name,
                    # An attestation outlives a rotation that kept the field's value and
                    # salt; the department's wallet checks the commitment either way.
                    attestations.c.version <= version,
                )
            )
            .order_by(
                desc(attestations.c.version),
                desc(attestations.c.issued_at),
                desc(attestations.c.id),
            )
            .limit(1)
        )
        .mappings()
        .first()
    )
    return QueriedField(
        ciphertext="0x" + bytes(envelope["ciphertext"]).hex(),
        nonce="0x" + bytes(envelope["nonce"]).hex(),
        wrapped_key="0x" + bytes(key["wrapped_key"]).hex(),
        version=version,
        root=root,
        proof=["0x" + bytes(p).hex() for p in proof],
        attestation=None
        if attestation is None
        else AttestationOut(
            message=json.loads(attestation["message"]), signature=attestation["signature"]
        ),
    )
