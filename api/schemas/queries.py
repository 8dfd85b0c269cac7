"""Shapes of :mod:`api.routers.queries`: a department's signed ``Access`` and the fields
it opens, with proofs and attestations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas.common import ReceiptOut, SignedBody


class AccessBody(SignedBody):
    intent = "Access"


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
