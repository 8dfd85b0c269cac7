"""The API's own tables: the sign-in challenges it issued and the bearer tokens ended
before their expiry. Sign-in is the API's, not the ledger's, so they are defined here,
on the store's :data:`ledger.store.metadata`, so :class:`ledger.store.Store` creates
them with the rest of the schema (:mod:`api.node` imports this module before it opens a
store). Names, columns and indexes are those the store defined before: a database of
store layout 2 needs no migration, and the layout number does not move.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text

from ledger.store import ADDRESS, metadata

challenges = Table(
    "auth_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("message", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
    Index("ix_auth_challenges_address", "address", "expires_at"),
    Index("ix_auth_challenges_expires", "expires_at"),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("subject", ADDRESS, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
