"""Intents the relayer took on that the chain does not hold: its journal against the chain.

The relayer answers every intent whose transaction was mined with a signed acceptance
(:mod:`ledger.acceptance`), and its journal says, per entry, where the intent went. An
auditor checks that journal against the chain (:func:`journal_findings`):

- an entry journalled ``done`` or ``rejected`` was answered as recorded: its transaction
  must be on chain and carry that very intent (same signature) at its position;
- an entry still ``queued`` or ``submitted`` :data:`STALE_AFTER` seconds after it was
  accepted is held back by a relayer that should long have sent or settled it;
- an entry ``lost`` (a crash cut it off before any answer, or its transaction vanished)
  or ``failed`` (its round never sent it and the caller was told so, 503) was never
  acknowledged as recorded: it is listed, not called a fault of the log.

The first two are problems of :func:`ledger.audit.verify`, each with the acceptance data
its signer holds (intent digest, chain, journal id, time accepted, relayer), so a
resident's receipt can be matched to the report; the third is its ``unacknowledged``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, select
from web3.exceptions import TransactionNotFound

from ledger.calldata import intents_of_call
from ledger.client import LedgerClient
from ledger.codec import to_hex
from ledger.store import Store, journal
from ledger.types import SignedIntent

#: Seconds an entry may stay in flight (queued or submitted) before it counts as held
#: back: well past a node's receipt timeout (30 s) and a request's wait (120 s).
STALE_AFTER = 600
_ANSWERED = ("done", "rejected")
_IN_FLIGHT = ("queued", "submitted")
_UNACKNOWLEDGED = ("lost", "failed")

#: Per transaction hash, the intents its calldata carries (``None``: not on chain).
Carried = dict[str, list[SignedIntent] | None]


@dataclass(frozen=True)
class Accepted:
    """A journal entry as its acceptance describes it, and where the journal says it went."""

    journal_id: int
    type: str
    state: str
    intent: str
    chain_id: int
    accepted_at: int
    relayer: str
    tx_hash: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "journal_id": self.journal_id,
            "type": self.type,
            "state": self.state,
            "intent": self.intent,
            "chain_id": self.chain_id,
            "accepted_at": self.accepted_at,
            "relayer": self.relayer,
            "tx_hash": self.tx_hash,
        }


@dataclass
class JournalFindings:
    problems: list[tuple[str, Accepted]]
    unacknowledged: list[Accepted]


def journal_tx_hashes(c: Connection) -> set[str]:
    """The transactions the journal's answered entries name: those whose intents
    :func:`journal_findings` needs from the caller's decoding."""
    rows = c.execute(select(journal.c.tx_hash).where(journal.c.state.in_(_ANSWERED)))
    return {str(tx).partition(":")[0] for (tx,) in rows if tx}


def journal_findings(
    client: LedgerClient,
    store: Store,
    *,
    now: int,
    carried: Carried | None = None,
    connection: Connection | None = None,
) -> JournalFindings:
    """Check every journal entry against the chain as of ``now`` (Unix seconds, the wall
    clock entries are stamped with). ``carried`` holds what the caller already decoded;
    ``connection``, if given, is the read transaction to read the journal in."""
    known: Carried = dict(carried or {})
    findings = JournalFindings([], [])
    if connection is not None:
        rows = connection.execute(select(journal).order_by(journal.c.id)).mappings().all()
    else:
        with store.connect() as c:
            rows = c.execute(select(journal).order_by(journal.c.id)).mappings().all()
    for row in rows:
        state = row["state"]
        if state in _UNACKNOWLEDGED:
            findings.unacknowledged.append(_accepted(client, row))
        elif state in _IN_FLIGHT:
            age = now - int(row["created_at"])
            if age > STALE_AFTER:
                findings.problems.append(
                    (
                        f"{row['name']} accepted {age} s ago is still {state}: the relayer"
                        " has neither recorded it on chain nor given it up",
                        _accepted(client, row),
                    )
                )
        elif state in _ANSWERED:
            problem = _answered_problem(client, row, known)
            if problem is not None:
                findings.problems.append((problem, _accepted(client, row)))
    return findings


def _answered_problem(client: LedgerClient, row: RowMapping, known: Carried) -> str | None:
    where = str(row["tx_hash"] or "")
    tx_hash, _, position = where.partition(":")
    if not tx_hash or not position.isdigit():
        return f"{row['name']} journalled {row['state']} without a transaction"
    if tx_hash not in known:
        known[tx_hash] = _on_chain(client, tx_hash)
    intents = known[tx_hash]
    if intents is None:
        return (
            f"{row['name']} was answered as recorded ({row['state']}) in {tx_hash}, a"
            " transaction the chain does not hold"
        )
    index = int(position)
    signature = json.loads(row["body"])["signature"]
    if index >= len(intents) or to_hex(intents[index].signature) != signature:
        return (
            f"{row['name']} was answered as recorded ({row['state']}) at position {index} of"
            f" {tx_hash}, which carries another intent there"
        )
    return None


def _on_chain(client: LedgerClient, tx_hash: str) -> list[SignedIntent] | None:
    """The intents a mined transaction carries; ``None`` if the chain has no such one."""
    eth = client.chain.w3.eth
    try:
        eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None
    tx = eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    try:
        carried = intents_of_call(client, str(tx["to"]), bytes(tx["input"]))
    except ValueError:
        return []
    return [] if carried is None else carried[1]


def _accepted(client: LedgerClient, row: RowMapping) -> Accepted:
    body = json.loads(row["body"])
    name = str(row["name"])
    try:
        digest = to_hex(client.intent_digest(name, body["message"]))
    except Exception:  # a body this code cannot hash is reported all the same
        digest = ""
    return Accepted(
        journal_id=int(row["id"]),
        type=name,
        state=str(row["state"]),
        intent=digest,
        chain_id=client.chain_id,
        accepted_at=int(row["created_at"]),
        # The relayer that took it on signed its acceptance (rows of layout 2 and older
        # name none: one instance, this one, served their database).
        relayer=str(row["relayer"] or client.relayer.address),
        tx_hash=str(row["tx_hash"]).partition(":")[0] if row["tx_hash"] else None,
    )
