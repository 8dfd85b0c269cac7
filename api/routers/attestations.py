"""Issuers attest salted commitments to field values, recorded on chain.

The relayer submits the signed ``Attest`` to the directory, which dates it by its block,
judges the issuer's trust at that time and refuses a replay (409). The signed attestation
is stored with the chain's record of it (receipt, digest, recording time) in the same
database transaction that closes the intent, so the vault never holds one the chain did
not record, and a department can check any it receives against the chain by its digest.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, NodeDep
from api.errors import Forbidden, NotFound
from api.schemas.attestations import AttestationOut, AttestBody
from api.signed import receipt_out, settled, signed_intent
from api.views import record_version
from ledger.codec import to_hex
from ledger.vocabulary import bytes32_label
from wallets.signing import message_to_json

router = APIRouter(prefix="/attestations", tags=["issuers"])


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
        commitment=to_hex(message["commitment"]),
        issued_at=int(message["issuedAt"]),
        expires_at=int(message["expiresAt"]),
        digest=to_hex(recorded["digest"]),
        recorded_at=int(recorded["recordedAt"]),
        receipt=receipt_out(outcome.receipt),
    )
