"""The signed intent behind what the API serves, taken from the chain, not the database.

A wallet that must not trust this server (DESIGN principle 3; issue 10, item 7) checks
a department's encryption key against the admin's signed ``RegisterDepartment`` or
``RotateDepartmentKey``, its own record root against its own ``CommitRecord``, and a
consent's terms against its own ``Grant`` (:mod:`wallets.trust`). The server cannot
forge those signatures; it serves them as the chain holds them: the read model says
which transaction and log recorded the row, the transaction's calldata carries the
intents of its batch (:func:`ledger.calldata.intents_of_call`, the decoder the audit uses),
and its receipt says which intent logged which event.

A mined transaction's calldata never changes, so intents are kept per transaction hash
(a bounded cache: a page of a hundred grants from one batch costs one lookup). A chain
that cannot be read gives ``None``: the wallet then says it could not check, rather
than the read failing.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import Connection, and_, desc, select

from api.schemas.common import SignedIntentOut
from api.signed import receipt_out
from ledger.calldata import intents_of_call
from ledger.client import LedgerClient
from ledger.codec import to_hex
from ledger.store import events
from ledger.types import Receipt, SignedIntent
from wallets.signing import message_to_json

log = logging.getLogger(__name__)

#: Transactions whose intents are kept.
CACHE_SIZE = 4_096
#: Events that set a department's key, each the primary event of its admin intent.
KEY_EVENTS = ("DepartmentRegistered", "DepartmentKeyRotated")


class _Intents:
    """Per transaction hash: the intents of its batch by the log index of their event."""

    def __init__(self, client: LedgerClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._by_tx: OrderedDict[str, dict[int, tuple[SignedIntent, Receipt]]] = OrderedDict()

    def at(self, tx_hash: str, log_index: int) -> SignedIntentOut | None:
        try:
            found = self._transaction(tx_hash).get(log_index)
        except Exception as exc:  # the chain cannot say: the reader is told it is unchecked
            log.warning("no signed intent for %s log %s: %s", tx_hash, log_index, exc)
            return None
        if found is None:
            return None
        intent, receipt = found
        return SignedIntentOut(
            type=intent.name,
            message=message_to_json(intent.name, intent.message),
            signature=to_hex(intent.signature),
            receipt=receipt_out(receipt),
        )

    def _transaction(self, tx_hash: str) -> dict[int, tuple[SignedIntent, Receipt]]:
        with self._lock:
            cached = self._by_tx.get(tx_hash)
            if cached is not None:
                self._by_tx.move_to_end(tx_hash)
                return cached
        eth = self.client.chain.w3.eth
        tx = eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        carried = intents_of_call(self.client, str(tx["to"]), bytes(tx["input"]))
        found: dict[int, tuple[SignedIntent, Receipt]] = {}
        if carried is not None:
            name, intents = carried
            receipt = eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            for outcome in self.client.outcomes_for(name, intents, receipt):
                if outcome.ok and outcome.event is not None:
                    found[outcome.event.log_index] = (outcome.intent, outcome.receipt)
                    # A bundle's consents: each ConsentGranted was logged by its GrantBundle.
                    for extra in outcome.extra_events:
                        found.setdefault(extra.log_index, (outcome.intent, outcome.receipt))
        with self._lock:
            self._by_tx[tx_hash] = found
            while len(self._by_tx) > CACHE_SIZE:
                self._by_tx.popitem(last=False)
        return found


_per_client: weakref.WeakKeyDictionary[LedgerClient, _Intents] = weakref.WeakKeyDictionary()
_per_client_lock = threading.Lock()


def _intents(client: LedgerClient) -> _Intents:
    with _per_client_lock:
        found = _per_client.get(client)
        if found is None:
            found = _per_client[client] = _Intents(client)
        return found


def signed_intent_at(client: LedgerClient, tx_hash: str, log_index: int) -> SignedIntentOut | None:
    """The intent whose event the chain logged at ``log_index`` of ``tx_hash``."""
    return _intents(client).at(tx_hash, log_index)


def key_intents(
    c: Connection, client: LedgerClient, departments: Iterable[str]
) -> dict[str, SignedIntentOut | None]:
    """Per department, the admin's intent that set its current key (the latest of its
    registration and rotations the read model holds)."""
    wanted = list(departments)
    if not wanted:
        return {}
    rows = c.execute(
        select(events.c.department, events.c.tx_hash, events.c.log_index)
        .where(and_(events.c.name.in_(KEY_EVENTS), events.c.department.in_(wanted)))
        .order_by(events.c.block_number, events.c.log_index)
    ).all()
    latest = {department: (tx_hash, log_index) for department, tx_hash, log_index in rows}
    return {d: signed_intent_at(client, *latest[d]) if d in latest else None for d in wanted}


def commit_intent(
    c: Connection, client: LedgerClient, resident: str, version: int
) -> SignedIntentOut | None:
    """The resident's ``CommitRecord`` of ``version`` (the newest, should the chain hold
    several commitments of one version)."""
    rows = c.execute(
        select(events.c.tx_hash, events.c.log_index, events.c.args)
        .where(and_(events.c.name == "RecordCommitted", events.c.resident == resident))
        .order_by(desc(events.c.block_number), desc(events.c.log_index))
    ).all()
    for tx_hash, log_index, args in rows:
        if int(json.loads(args)["version"]) == version:
            return signed_intent_at(client, tx_hash, log_index)
    return None
