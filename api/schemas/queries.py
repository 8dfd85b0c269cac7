"""Shapes of :mod:`api.routers.queries`: a department's signed ``Access`` and the fields
it opens, with proofs and attestations; a batch of them and its answers in order."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.http_bounds import MAX_QUERY_BATCH
from api.schemas.common import AcceptanceOut, ReceiptOut, SignedBody
from ledger.vocabulary import DENIAL_REASONS


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


class QueryBatchBody(BaseModel):
    queries: list[AccessBody] = Field(
        min_length=1,
        max_length=MAX_QUERY_BATCH,
        description=f"1 to {MAX_QUERY_BATCH} signed `Access` intents, each signed by the"
        " department signed in, each with a nonce of its own.",
    )


class BatchServed(QueryAnswer):
    """A served query of a batch: ``POST /queries``' 200 answer, with its ``status`` and
    the relayer's ``acceptance`` of that query."""

    status: Literal[200] = 200
    acceptance: AcceptanceOut | None = None


def _problem_members(schema: dict[str, Any]) -> None:
    schema.setdefault("properties", {}).update(
        {
            "reason": {"type": "string", "enum": list(DENIAL_REASONS)},
            "receipt": {"type": "object", "additionalProperties": True},
            "error": {"type": ["string", "null"]},
            "arguments": {"type": "object", "additionalProperties": True},
            "acceptance": {"$ref": "#/components/schemas/AcceptanceOut"},
        }
    )


class BatchRefused(BaseModel):
    """A refused query of a batch: the problem ``POST /queries`` answers for it (RFC 9457
    members, ``status`` its HTTP status), e.g. 403 ``access-refused`` with ``reason``,
    the denial's ``receipt`` and ``acceptance``, 409 for a nonce used, 403 for a signer
    who is not the caller."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_problem_members)

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str


class QueryBatchAnswer(BaseModel):
    #: One per query, in the order sent.
    answers: list[BatchServed | BatchRefused]
