"""Sign-in: a challenge to sign, and a bearer token for the signed challenge."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api import auth
from api.deps import NodeDep
from api.schemas_auth import ChallengeIn, ChallengeOut, TokenIn, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "The challenge or its signature is not accepted"}
}


@router.post("/challenge", response_model=ChallengeOut)
def challenge(body: ChallengeIn, request: Request, node: NodeDep) -> ChallengeOut:
    """An EIP-4361 sign-in text for ``address`` to sign with ``personal_sign``."""
    issued = auth.issue_challenge(
        node, body.address, domain=request.base_url.netloc, uri=str(request.base_url)
    )
    return ChallengeOut(message=issued.message, nonce=issued.nonce, expires_at=issued.expires_at)


@router.post("/token", response_model=TokenOut, responses=_UNAUTHORIZED)
def token(body: TokenIn, node: NodeDep) -> TokenOut:
    """A bearer token for the signer of a live challenge; the challenge is spent."""
    granted = auth.exchange(node, body.address, body.message, bytes.fromhex(body.signature[2:]))
    return TokenOut(
        access_token=granted.access_token, expires_in=granted.expires_in, roles=granted.roles
    )
