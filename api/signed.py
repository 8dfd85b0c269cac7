"""Signed writes: parse ``{"message", "signature"}`` bodies, relay them, shape receipts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from api.errors import BadRequest
from ledger.admission import check_form
from ledger.client import ConsentTerms, Outcome, Receipt, SignedIntent
from wallets.encoding import from_hex
from wallets.signing import normalize_message


class SignedBody(BaseModel):
    message: dict[str, Any]
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$")


class ReceiptOut(BaseModel):
    tx_hash: str
    block_number: int
    log_index: int | None
    block_timestamp: int


def receipt_out(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        log_index=receipt.log_index,
        block_timestamp=receipt.block_timestamp,
    )


def signed_intent(name: str, body: SignedBody, terms: ConsentTerms | None = None) -> SignedIntent:
    """The body as a :class:`SignedIntent`; a malformed message is a 422 problem, and so
    is one the relayer would refuse on its form alone (too many fields, a field id or
    purpose that cannot be a schema name: the contract's error), before a route reads
    the field names."""
    message = normalize_message(name, body.message)
    try:
        signature = from_hex(body.signature)
    except ValueError as exc:
        raise BadRequest(f"signature: {exc}") from exc
    intent = SignedIntent(name, message, signature, terms)
    check_form(intent)
    return intent


def settled(outcome: Outcome) -> Mapping[str, Any]:
    """The primary event's arguments of an accepted intent; raise the contract's error."""
    return outcome.unwrap().args
