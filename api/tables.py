"""The API's own tables: the sign-in challenges it issued, the bearer tokens ended
before their expiry, webhook subscriptions with their deliveries, the notifications
derived from indexed events (expiry reminders, anomalies and the admin's thresholds for
them, and the block they are judged through), and the field keys a resident's wallet
wrapped for its delegates and for its emergency directive. These are the API's, not the
ledger's, so they are defined here,
on the store's :data:`ledger.store.metadata`, so :class:`ledger.store.Store` creates
them with the rest of the schema (:mod:`api.node` imports this module before it opens a
store). Names, columns and indexes are those the store defined before: a database of
store layout 2 needs no migration but layout 3's new webhook columns (added in place,
:data:`ledger.store._ADDED_IN_3`).
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
from ledger.store import ADDRESS, HASH, LABEL, metadata

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
    #: Which deliverer may send it now, until when (wall clock): of several processes
    #: sharing the database, the one whose claim took (:class:`api.webhooks.WebhookDeliverer`).
    Column("lease_owner", String(40)),
    Column("lease_until", Float),
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

#: The block through which reminders and anomalies are derived (one row, ``id`` 1): a feed
#: shows nothing past it, so nothing derived can land behind a reader's cursor.
feed_watermark = Table(
    "feed_watermark",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("block_number", BigInteger, nullable=False),
)

#: Expiry reminders (:mod:`api.reminders`): per consent and ``lead`` (seconds before
#: ``valid_until``), scheduled from its ``ConsentGranted``, then ``placed`` at the first
#: indexed block stamped at or after ``due_at`` (``position``: its feed index there) or
#: ``skipped`` (revoked, used up, overtaken by a later reminder or by expiry).
expiry_reminders = Table(
    "expiry_reminders",
    metadata,
    Column("consent_id", BigInteger, primary_key=True, autoincrement=False),
    Column("lead", Integer, primary_key=True, autoincrement=False),
    Column("resident", ADDRESS, nullable=False),
    Column("department", ADDRESS, nullable=False),
    Column("valid_until", Uint64, nullable=False),
    Column("due_at", Uint64, nullable=False),
    Column("state", String(8), nullable=False),
    Column("block_number", BigInteger),
    Column("position", Integer),
    Column("block_timestamp", BigInteger),
    Index("ix_expiry_reminders_due", "state", "due_at"),
    Index("ix_expiry_reminders_resident", "resident", "block_number", "position"),
    Index("ix_expiry_reminders_department", "department", "block_number", "position"),
)

#: Supervision anomalies (:mod:`api.anomalies`) at their feed position: ``rule`` broken
#: at the event of ``tx_hash`` (``event_ids``: the events behind it, JSON), open until an
#: auditor closes it with a note (``closed_at``: wall clock, seconds).
anomalies = Table(
    "anomalies",
    metadata,
    Column("block_number", BigInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("rule", String(32), nullable=False),
    Column("department", ADDRESS),
    Column("resident", ADDRESS),
    Column("consent_id", BigInteger),
    Column("threshold", Integer),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("event_ids", Text, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("closed_by", ADDRESS),
    Column("closed_at", BigInteger),
    Column("note", Text),
    Index("ix_anomalies_status", "status", "block_number", "position"),
    Index("ix_anomalies_department", "department", "rule", "created_at"),
)

#: The admin's anomaly thresholds: per department, or ``"*"`` for every other one (else
#: the settings' defaults); ``set_at`` is wall clock, seconds.
anomaly_thresholds = Table(
    "anomaly_thresholds",
    metadata,
    Column("department", String(42), primary_key=True),
    Column("accesses_per_hour", Integer, nullable=False),
    Column("refusals_per_hour", Integer, nullable=False),
    Column("set_by", ADDRESS, nullable=False),
    Column("set_at", BigInteger, nullable=False),
)

#: The field keys of a resident's emergency directive, wrapped by the resident's wallet
#: for the directive's department (HPKE, as a grant's), per record version and field;
#: stored opaquely. A resident has one directive at a time: leaving a new one (or
#: withdrawing it) replaces every row of the resident, in the transaction that records
#: the chain's ``EmergencyDirectiveSet`` (or ``…Withdrawn``); a rotation adds the keys of
#: the new version (``PUT /emergency-directives/{resident}/wrapped-keys``).
emergency_keys = Table(
    "emergency_keys",
    metadata,
    Column("resident", ADDRESS, primary_key=True),
    Column("version", Uint64, primary_key=True),
    Column("field", LABEL, primary_key=True),
    Column("department", ADDRESS, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
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
