"""Shapes of :mod:`api.routers.attestations`: an issuer's signed ``Attest`` and the
chain's record of it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import ReceiptOut, SignedBody
from ledger.store import UINT64_MAX


class AttestBody(SignedBody):
    intent = "Attest"
    version: Annotated[int | None, Field(ge=0, le=UINT64_MAX)] = None  # a uint64 version


class AttestationOut(BaseModel):
    resident: str
    field: str
    issuer: str
    version: int
    commitment: str
    issued_at: int
    expires_at: int
    #: The EIP-712 digest the directory records it under (``attestationRecordedAt``).
    digest: str
    #: The block time the chain recorded it at, at which it judged the issuer's trust.
    recorded_at: int
    receipt: ReceiptOut
