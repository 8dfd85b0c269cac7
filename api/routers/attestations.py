"""Issuers attest salted commitments to field values, recorded on chain.

The relayer submits the signed ``Attest`` to the directory, which dates it by its block,
judges the issuer's trust at that time and refuses a replay (409). The signed attestation
is stored with the chain's record of it (receipt, digest, recording time) in the same
database transaction that closes the intent, so the vault never holds one the chain did
not record, and a department can check any it receives against the chain by its digest.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentActor, NodeDep
from api.errors import Forbidden, NotFound
from api.signed import ReceiptOut, SignedBody, receipt_out, settled, signed_intent
from api.views import record_version
from ledger.intents import bytes32_label
from ledger.store import UINT64_MAX
from wallets.signing import message_to_json

router = APIRouter(prefix="/attestations", tags=["issuers"])


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


@router.post("", response_model=AttestationOut, status_code=201)
def post_attestation(body: AttestBody, node: NodeDep, actor: CurrentActor) -> AttestationOut:
    """Record an issuer's signed `Attest` on chain and store it for a record version
    (default: the latest). Refused by the chain (and before relaying) if the issuer is
    not trusted for the field now (403), if `issuedAt` is more than 300 s from chain
    time or it expires by then (422), or if this very attestation is recorded (409)."""
    intent = signed_intent(body)
    message = intent.message
    issuer = message["issuer"]
    if issuer != actor.address:
        raise Forbidden("an issuer attests only under its own name")
    resident = message["resident"]
    with node.store.connect() as c:
        row = record_version(c, resident, body.version)
    if row is None:
        raise NotFound(f"no committed record version of {resident}")
    field = bytes32_label(message["field"])
    effects = {
        "kind": "attestation",
        "resident": resident,
        "field": field,
        "version": int(row["version"]),
        "message": message_to_json("Attest", message),
        "signature": body.signature.lower(),
    }
    outcome = node.relayer.submit(intent, effects, expected_signer=actor.address)
    recorded = settled(outcome)
    return AttestationOut(
        resident=resident,
        field=field,
        issuer=issuer,
        version=int(row["version"]),
        commitment="0x" + message["commitment"].hex(),
        issued_at=int(message["issuedAt"]),
        expires_at=int(message["expiresAt"]),
        digest="0x" + bytes(recorded["digest"]).hex(),
        recorded_at=int(recorded["recordedAt"]),
        receipt=receipt_out(outcome.receipt),
    )
