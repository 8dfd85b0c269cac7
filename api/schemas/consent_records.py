"""Shapes of :mod:`api.routers.consent_records`: a consent as an ISO/IEC TS 27560-style
consent record."""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas.common import ReceiptOut


class Party(BaseModel):
    """A PII controller or recipient: a registered department."""

    name: str | None
    code: str | None
    address: str
    role: str


class PiiCategory(BaseModel):
    """A field of the resident's record: its schema name and its on-chain ``bytes32`` id."""

    pii_category: str
    field_id: str


class Purpose(BaseModel):
    purpose_id: str
    purpose: str
    lawful_basis: str
    pii_information: list[PiiCategory]
    processing: list[str]
    pii_controllers: list[str]


class Validity(BaseModel):
    """The window (ISO 8601 UTC and Unix seconds; ``valid_until`` exclusive) and the use
    limit (``max_uses`` 0: unlimited) with the uses served so far."""

    valid_from: str
    valid_until: str
    valid_from_unix: int
    valid_until_unix: int
    max_uses: int
    uses: int


class RecordEvent(BaseModel):
    event_type: str
    event_time: str
    event_by: str | None
    pii_categories: list[str]
    reason: str | None
    use: int | None
    receipt: ReceiptOut


class ChainReference(BaseModel):
    chain_id: int
    contract: str
    contract_address: str
    consent_id: int
    grant_tx: str
    grant_block: int
    grant_log_index: int
    request_id: str | None


class ConsentRecord(BaseModel):
    schema_version: str
    record_id: str
    pii_principal_id: str
    consent_status: str
    consent_type: str
    language: str
    pii_controllers: list[Party]
    recipients: list[Party]
    purposes: list[Purpose]
    validity: Validity
    events: list[RecordEvent]
    withdrawal_method: str
    chain: ChainReference
