"""Sign-in: a challenge to sign, a bearer token for the signed challenge, and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api import auth, http_tokens
from api.deps import BearerToken, NodeDep, SettingsDep
from api.limits import RateLimits
from api.schemas.auth import ChallengeIn, ChallengeOut, TokenIn, TokenOut
from ledger.codec import from_hex

router = APIRouter(prefix="/auth", tags=["auth"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "The challenge or its signature is not accepted"}
}


@router.post("/challenge", response_model=ChallengeOut)
def challenge(
    body: ChallengeIn, request: Request, node: NodeDep, settings: SettingsDep
) -> ChallengeOut:
    """An EIP-4361 sign-in text for ``address`` to sign with ``personal_sign``, naming
    this service's configured public URL (``CONSENT_PUBLIC_URL``), whatever the request's
    ``Host``."""
    limits: RateLimits = request.app.state.limits
    limits.hit(limits.sign_in_address, body.address, f"to sign in as {body.address}")
    issued = auth.issue_challenge(node, body.address, settings)
    return ChallengeOut(message=issued.message, nonce=issued.nonce, expires_at=issued.expires_at)


@router.post("/token", response_model=TokenOut, responses=_UNAUTHORIZED)
def token(body: TokenIn, node: NodeDep, settings: SettingsDep) -> TokenOut:
    """A bearer token for the signer of a live challenge of this service; the challenge
    is spent."""
    granted = auth.exchange(node, body.address, body.message, from_hex(body.signature), settings)
    return TokenOut(
        access_token=granted.access_token, expires_in=granted.expires_in, roles=granted.roles
    )


@router.post("/logout", status_code=204, response_class=Response)
def logout(node: NodeDep, token: BearerToken) -> Response:
    """End the presented token now: every process serving this database refuses it with
    401 from here on. Other tokens of the same address stay valid."""
    http_tokens.revoke(node, token)
    return Response(status_code=204)
