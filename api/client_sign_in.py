"""The client side of sign-in: a bearer token for the wallet's identity.

:class:`ApiSession` signs in on first need (``POST /auth/challenge`` → EIP-191
``personal_sign`` → ``POST /auth/token``, the server side being :mod:`api.auth`) and
again when the token is about to run out or the server answers 401. Without an identity
it only reads the public paths.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from api.client_errors import ClientRefusal
from api.client_transport import ApiTransport
from ledger.codec import to_hex
from wallets.identity import Identity

#: Sign in again this many seconds before the token would expire.
TOKEN_MARGIN = 30


class ApiSession(ApiTransport):
    """The API as one identity (or no one) sees it: the transport plus its sign-in."""

    def __init__(
        self,
        base_url: str,
        identity: Identity | None = None,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self.identity = identity
        self._token: str | None = None
        self._token_expires = 0.0
        self._roles: list[str] = []

    def __repr__(self) -> str:
        who = self.identity.address if self.identity else "anonymous"
        return f"{type(self).__name__}({self.base_url!r}, {who})"

    @property
    def address(self) -> str:
        return self._require_identity().address

    def _require_identity(self) -> Identity:
        if self.identity is None:
            raise ClientRefusal("this needs a wallet (an identity to sign with)")
        return self.identity

    # -- the transport's token ------------------------------------------------------

    @property
    def signs_in(self) -> bool:
        return self.identity is not None

    def token(self) -> str:
        """A valid bearer token, signing in if there is none or it is about to expire."""
        if self._token is None or time.monotonic() >= self._token_expires:
            self.sign_in()
        assert self._token is not None
        return self._token

    def forget_token(self) -> None:
        self._token = None

    # -- sign-in --------------------------------------------------------------------

    def sign_in(self) -> dict[str, Any]:
        """Challenge, ``personal_sign``, token. Returns the token answer (with ``roles``)."""
        identity = self._require_identity()
        challenge = self.request(
            "POST", "/auth/challenge", json={"address": identity.address}, auth=False
        )
        message = str(challenge["message"])
        signature = identity.sign_text(message)  # in the agent, if the key is there
        answer: dict[str, Any] = self.request(
            "POST",
            "/auth/token",
            json={
                "address": identity.address,
                "message": message,
                "signature": to_hex(signature),
            },
            auth=False,
        )
        self._token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 0)
        self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)
        self._roles = [str(r) for r in answer.get("roles") or []]
        return answer

    @property
    def roles(self) -> list[str]:
        """The roles the last sign-in reported (signs in if needed)."""
        self.token()
        return list(self._roles)

    @property
    def is_department(self) -> bool:
        """Whether this wallet signs in as a department (its lists are its own, not a
        resident's)."""
        return "department" in self.roles
