"""Issuers attest salted commitments to field values (kept off chain, checked against
the on-chain trust list)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, NodeDep
from api.errors import BadRequest, Forbidden, NotFound
from api.signed import SignedBody
from api.views import record_version
from ledger.intents import bytes32_to_name
from ledger.store import attestations, dumps
from wallets.signing import message_to_json, normalize_message, recover_intent_signer

router = APIRouter(prefix="/attestations", tags=["issuers"])

_CLOCK_SKEW = 300


class AttestBody(SignedBody):
    version: int | None = None


class AttestationOut(BaseModel):
    resident: str
    field: str
    issuer: str
    version: int
    commitment: str
    issued_at: int
    expires_at: int


@router.post("", response_model=AttestationOut, status_code=201)
def post_attestation(body: AttestBody, node: NodeDep, actor: CurrentActor) -> AttestationOut:
    """Store an issuer's signed `Attest` for a field of a record version."""
    message = normalize_message("Attest", body.message)
    issuer = message["issuer"]
    if issuer != actor.address:
        raise Forbidden("an issuer attests only under its own name")
    signer = recover_intent_signer(
        "Attest",
        message,
        body.signature,
        chain_id=node.chain.chain_id,
        verifying_contract=node.client.verifying_contract("Attest"),
    )
    if signer != issuer:
        raise Forbidden(f"signature is by {signer}, not by the issuer {issuer}")
    field = bytes32_to_name(message["field"])
    if not node.client.is_trusted_issuer(issuer, message["field"], int(message["issuedAt"])):
        raise Forbidden(f"{issuer} is not trusted for {field!r} at {message['issuedAt']}")
    if int(message["expiresAt"]) <= int(message["issuedAt"]):
        raise BadRequest("expiresAt must be after issuedAt")
    now = node.chain.latest_timestamp()
    if abs(int(message["issuedAt"]) - now) > _CLOCK_SKEW:
        # Trust is judged at issuedAt: a backdated attestation from a key distrusted
        # since would otherwise pass as issued while it was trusted.
        raise BadRequest(f"issuedAt must be within {_CLOCK_SKEW} s of the chain's time {now}")
    resident = message["resident"]
    with node.store.begin() as c:
        row = record_version(c, resident, body.version)
        if row is None:
            raise NotFound(f"no committed record version of {resident}")
        c.execute(
            attestations.insert().values(
                resident=resident,
                field=field,
                version=row["version"],
                issuer=issuer,
                commitment="0x" + message["commitment"].hex(),
                issued_at=int(message["issuedAt"]),
                expires_at=int(message["expiresAt"]),
                message=dumps(message_to_json("Attest", message)),
                signature=body.signature.lower(),
            )
        )
    return AttestationOut(
        resident=resident,
        field=field,
        issuer=issuer,
        version=row["version"],
        commitment="0x" + message["commitment"].hex(),
        issued_at=int(message["issuedAt"]),
        expires_at=int(message["expiresAt"]),
    )
