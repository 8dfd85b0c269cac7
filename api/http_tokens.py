"""Ending bearer tokens before they expire: ``POST /auth/logout``.

Tokens are stateless (an HMAC over subject and lifetime, :mod:`api.auth`), so ending
one means remembering it until it would have expired anyway. The list is a table of the
shared database (``revoked_tokens``), not this process's memory: several processes may
serve one database, and a token ended through one must be refused by all. Each check is
one primary-key lookup of the token's SHA-256; rows past their token's expiry are
deleted at the next logout.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, select

from api import auth
from api.node import Node
from api.tables import revoked_tokens


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def revoke(node: Node, token: str) -> None:
    """Remember ``token`` (already verified) as ended; purge the ones that have expired."""
    subject, expires = auth.token_claims(node.token_secret, token)
    key = digest(token)
    with node.store.begin() as c:
        c.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at <= auth.now()))
        # Two logouts of one token at once: the second finds the row and changes nothing.
        c.execute(
            node.store.upsert_ignore(revoked_tokens).values(
                digest=key, subject=subject, expires_at=expires
            )
        )


#: Built once (every authenticated request asks it).
_REVOKED = select(revoked_tokens.c.digest).where(revoked_tokens.c.digest == bindparam("digest"))


def is_revoked(node: Node, token: str) -> bool:
    with node.store.connect() as c:
        row = c.execute(_REVOKED, {"digest": digest(token)}).first()
    return row is not None
