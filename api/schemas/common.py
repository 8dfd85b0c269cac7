"""Shapes several routers share: a signed body, a receipt, a signed intent as served."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class SignedBody(BaseModel):
    """``{"message", "signature"}``: an EIP-712 message of the body's ``intent`` and its
    65-byte signature. Each route's body class names its intent once; the route reads it
    from there (:func:`api.signed.signed_intent`) and OpenAPI documents ``message`` as exactly
    that type's fields (:mod:`api.intent_schemas`)."""

    #: The EIP-712 primary type this body carries.
    intent: ClassVar[str] = ""

    message: dict[str, Any]
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$")


class ReceiptOut(BaseModel):
    tx_hash: str
    block_number: int
    log_index: int | None
    block_timestamp: int


class SignedIntentOut(BaseModel):
    """An intent as its signer signed it (``message`` in ``/eip712``'s JSON form), with
    the transaction and log that recorded it; its signature is checked by the reader,
    against the domain of the chain and contract it trusts."""

    type: str
    message: dict[str, Any]
    signature: str
    receipt: ReceiptOut


class AcceptanceOut(BaseModel):
    """The relayer's signed acceptance (:mod:`ledger.acceptance`)."""

    intent: str
    chain_id: int
    journal_id: int
    accepted_at: int
    relayer: str
    signature: str
