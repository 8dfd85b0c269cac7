"""Departments query under a consent; the contract judges each query at block time.

No ciphertext leaves before the chain has recorded an ``AccessLogged`` event for this
very query; a denial answers 403 with the contract's ``reason`` and the denial's receipt.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection, RowMapping, and_, desc, select

from api.deps import CurrentActor, NodeDep
from api.errors import AccessRefused
from api.signed import ReceiptOut, SignedBody, receipt_out, signed_intent
from api.views import consent_row, consent_terms
from ledger.client import ConsentTerms
from ledger.intents import bytes32_to_name
from ledger.store import (
    attestation_records,
    attestations,
    envelopes,
    record_versions,
    wrapped_keys,
)
from wallets.record import field_leaf, record_tree
from wallets.signing import normalize_message

router = APIRouter(prefix="/queries", tags=["departments"])


class AttestationReceipt(ReceiptOut):
    #: The attestation's EIP-712 digest: ``attestationRecordedAt(digest)`` on the
    #: directory gives the time the chain recorded it (and judged the issuer's trust).
    digest: str
    recorded_at: int


class AttestationOut(BaseModel):
    message: dict[str, Any]
    signature: str
    #: The record version the issuer attested (the field's value may carry over to later
    #: versions with the same salt).
    version: int
    receipt: AttestationReceipt


class QueriedField(BaseModel):
    ciphertext: str
    nonce: str
    wrapped_key: str
    version: int
    root: str
    proof: list[str]
    #: Every attestation of this field the chain recorded for this resident, up to the
    #: field's version and unexpired at the query's block, newest first. Any trusted
    #: issuer can attest any resident, so they may disagree: the reader keeps the one
    #: whose commitment its value and salt open (``wallets.attestation``).
    attestations: list[AttestationOut]
    #: DESIGN's single member, kept for its readers: the first of ``attestations`` (the
    #: newest), which need not be the one that matches the value.
    attestation: AttestationOut | None


class RecordRef(BaseModel):
    version: int
    root: str


class QueryAnswer(BaseModel):
    consent_id: int
    receipt: ReceiptOut
    record: RecordRef
    fields: dict[str, QueriedField]


class AccessBody(SignedBody):
    intent = "Access"


@router.post(
    "",
    response_model=QueryAnswer,
    responses={403: {"description": "access refused on chain; problem with `reason`"}},
)
def query(body: AccessBody, node: NodeDep, actor: CurrentActor) -> QueryAnswer:
    """Read fields under a consent (signed `Access`)."""
    consent_id = int(normalize_message("Access", body.message)["consentId"])
    with node.store.connect() as c:
        row = consent_row(c, consent_id)
    terms = consent_terms(row) if row is not None else ConsentTerms.empty()
    intent = signed_intent(body, terms)
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
        fields = _fields(c, consent_id, resident, names, now=outcome.receipt.block_timestamp)
    newest = max(fields.values(), key=lambda f: f.version)
    return QueryAnswer(
        consent_id=consent_id,
        receipt=receipt,
        record=RecordRef(version=newest.version, root=newest.root),
        fields=fields,
    )


def _fields(
    c: Connection, consent_id: int, resident: str, names: list[str], *, now: int
) -> dict[str, QueriedField]:
    """For each of ``names``, the newest version whose key this consent holds, with its
    proof and attestation. A few queries for all the fields together, and one Merkle
    tree per record version, however many fields come from it."""
    keys: dict[str, RowMapping] = {}
    for row in (
        c.execute(
            select(wrapped_keys)
            .where(and_(wrapped_keys.c.consent_id == consent_id, wrapped_keys.c.field.in_(names)))
            .order_by(desc(wrapped_keys.c.version))
        )
        .mappings()
        .all()
    ):
        keys.setdefault(row["field"], row)
    missing = [n for n in names if n not in keys]
    if missing:  # a granted field always has a key: the relayer stores it with the grant
        raise RuntimeError(f"consent {consent_id} has no wrapped key for {missing}")
    versions = sorted({int(k["version"]) for k in keys.values()})
    envelope_rows: dict[int, dict[str, RowMapping]] = {v: {} for v in versions}
    for row in (
        c.execute(
            select(envelopes).where(
                and_(envelopes.c.resident == resident, envelopes.c.version.in_(versions))
            )
        )
        .mappings()
        .all()
    ):
        envelope_rows[int(row["version"])][row["field"]] = row
    roots = dict(
        c.execute(
            select(record_versions.c.version, record_versions.c.root).where(
                and_(
                    record_versions.c.resident == resident,
                    record_versions.c.version.in_(versions),
                )
            )
        ).all()
    )
    trees = {
        v: record_tree({f: bytes(r["ciphertext"]) for f, r in rows.items()})
        for v, rows in envelope_rows.items()
    }
    attested = _attestations(c, resident, names, max(versions), now)
    answer = {}
    for name in names:
        key = keys[name]
        version = int(key["version"])
        envelope = envelope_rows[version][name]
        proof = trees[version].get_proof(field_leaf(name, bytes(envelope["ciphertext"])))
        candidates = [
            _attestation_out(a) for a in attested if a["field"] == name and a["version"] <= version
        ]
        answer[name] = QueriedField(
            ciphertext="0x" + bytes(envelope["ciphertext"]).hex(),
            nonce="0x" + bytes(envelope["nonce"]).hex(),
            wrapped_key="0x" + bytes(key["wrapped_key"]).hex(),
            version=version,
            root=roots[version],
            proof=["0x" + bytes(p).hex() for p in proof],
            attestations=candidates,
            attestation=candidates[0] if candidates else None,
        )
    return answer


def _attestations(
    c: Connection, resident: str, names: list[str], version: int, now: int
) -> list[RowMapping]:
    """The chain-recorded attestations of ``names`` up to ``version``, unexpired at
    ``now``, newest first. An attestation outlives a rotation that kept the field's value
    and salt; the department's wallet checks each commitment against the value."""
    joined = attestations.join(
        attestation_records, attestation_records.c.attestation_id == attestations.c.id
    )
    query = (
        select(attestations, attestation_records)
        .select_from(joined)
        .where(
            and_(
                attestations.c.resident == resident,
                attestations.c.field.in_(names),
                attestations.c.version <= version,
                attestations.c.expires_at > now,
            )
        )
        .order_by(
            desc(attestations.c.version),
            desc(attestation_records.c.recorded_at),
            desc(attestations.c.id),
        )
    )
    return list(c.execute(query).mappings().all())


def _attestation_out(row: RowMapping) -> AttestationOut:
    return AttestationOut(
        message=json.loads(row["message"]),
        signature=row["signature"],
        version=int(row["version"]),
        receipt=AttestationReceipt(
            tx_hash=row["tx_hash"],
            block_number=row["block_number"],
            log_index=row["log_index"],
            block_timestamp=row["recorded_at"],
            digest=row["digest"],
            recorded_at=row["recorded_at"],
        ),
    )
