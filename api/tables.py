"""The API's own tables: the sign-in challenges it issued, the bearer tokens ended
before their expiry, webhook subscriptions with their deliveries, and the field keys a
resident's wallet wrapped for its delegates. These are the API's, not the ledger's, so
they are defined here,
on the store's :data:`ledger.store.metadata`, so :class:`ledger.store.Store` creates
them with the rest of the schema (:mod:`api.node` imports this module before it opens a
store). Names, columns and indexes are those the store defined before: a database of
store layout 2 needs no migration, and the layout number does not move.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from ledger.sqltypes import Uint64
from ledger.store import ADDRESS, LABEL, metadata

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

#: A subscriber's webhook: where its feed (:mod:`api.notifications`) is POSTed, signed
#: with ``secret`` per Standard Webhooks. ``cursor_*`` is the chain position of the last
#: notification delivered or given up on; ``next_attempt_at`` (wall clock, seconds) holds
#: the next one back while it is retried.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", ADDRESS, nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("cursor_block", BigInteger, nullable=False),
    Column("cursor_index", Integer, nullable=False),
    Column("next_attempt_at", Float),
)

#: Each notification a webhook was sent, with its attempts: ``delivered`` (a 2xx),
#: ``retrying`` (backing off) or ``failed`` (no 2xx within the retry window).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("webhook_id", String(40), primary_key=True),
    Column("notification_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_attempt_at", Float, nullable=False),
    Column("last_attempt_at", Float, nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("next_attempt_at", Float),
    Index("ix_webhook_deliveries_last", "webhook_id", "last_attempt_at"),
)

#: Field keys a resident's wallet wrapped (HPKE, recipient = the delegate) for one of its
#: delegates, per record version and field: opaque to the server, as a consent's
#: ``wrapped_keys`` are. A row enters with the ``DelegateAppointed`` or ``RecordCommitted``
#: that makes it valid (:func:`api.vault.apply_side_effects`), leaves with the
#: ``DelegateRemoved`` of its delegate, and is served only to that delegate while the
#: chain says its appointment holds the read power (``GET /residents/{a}/record``).
delegate_keys = Table(
    "delegate_keys",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("delegate", ADDRESS, primary_key=True),
    Column("version", Uint64, primary_key=True),
    Column("field", LABEL, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
)
