"""The relayer: checks signed intents, orders them into blocks, answers with receipts.

An intent is checked before it is queued (:mod:`ledger.admission`: deadline, signature,
signer, role, nonce, schema, the relayer's own bounds) and refused at once with the
exception the contract would raise. While the indexer cannot advance, or the queue is
at :data:`MAX_QUEUE`, writes are refused with 503-class errors before anything is sent.
Queued intents go out together: each round of the loop submits everything waiting, in
the order the relayer accepted them wherever order matters (:mod:`ledger.schedule`),
lets the indexer catch up to that block, writes the intents' vault rows and answers.

Crash safety rests on the journal, in the same database as the vault. An entry is
``queued``, then ``submitted`` with its transaction's hash just before that transaction
is sent, then ``done`` (vault rows written in the same database transaction) or
``rejected`` by the contract; ``failed`` if its round never sent it, ``lost`` if its
transaction never reached the chain. A round that was mined but cannot be settled —
the indexer cannot advance, the database is down — leaves its entries ``submitted`` and
answers :class:`ledger.errors.ReadModelUnavailable` (503: the intents are on chain, and
never a 500 after mining). Such entries, and whatever a crash interrupted
(:meth:`Relayer.recover` at start), are settled from the journal between rounds and
every ``retry_interval`` while idle, as soon as database and indexer work again: an
answered intent is never lost, none is ever half-applied, and no restart is needed.

Every intent whose transaction was mined is answered with the relayer's signed
*acceptance* (:mod:`ledger.acceptance`: the intent's EIP-712 digest, the time it was
journalled, its journal id), on success, on the contract's refusal and on the 503 of a
round mined but not yet settled. :meth:`Relayer.submit` hands it to whoever collects in
:data:`acceptances` (the API puts it into the answer); an answer that cannot say the
intent is on chain (the chain failed mid-round, the journal could not be written) has
none. ``GET /audit/verify`` reports acknowledged intents the chain does not hold.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Connection, bindparam, insert, select, update
from web3.exceptions import TransactionNotFound

from ledger.acceptance import Acceptance, sign_acceptance
from ledger.admission import Admission
from ledger.attestations import replay_key
from ledger.client import LedgerClient
from ledger.codec import dumps
from ledger.contract_errors import SignedIntentNonceUsed, SignedIntentWrongSigner
from ledger.errors import LedgerError, ReadModelUnavailable, RelayerBusy, Unavailable
from ledger.indexer import Indexer
from ledger.intents import INTENTS
from ledger.store import Store, journal
from ledger.types import BatchTx, Outcome, SignedIntent

log = logging.getLogger(__name__)

# A round's journal writes, one statement each for all its entries (executemany), built
# once: per-entry statements cost the relayer's thread more than the rows did.
_JOURNAL_QUEUED = insert(journal).returning(journal.c.id, sort_by_parameter_order=True)
_JOURNAL_SENT = (
    update(journal)
    .where(journal.c.id == bindparam("entry"))
    .values(state="submitted", tx_hash=bindparam("sent_as"))
)
_JOURNAL_CLOSED = (
    update(journal).where(journal.c.id == bindparam("entry")).values(state=bindparam("new_state"))
)

#: Where :meth:`Relayer.submit` puts the acceptances it hands out: a list set by the
#: caller's context (the API sets one per request and adds them to its answer).
acceptances: ContextVar[list[Acceptance] | None] = ContextVar("acceptances", default=None)

#: Intents waiting for a round, at most: two rounds of :attr:`Relayer.max_batch`. Over
#: HTTP the request threads (``CONSENT_REQUEST_THREADS``, 512) bound it already; the
#: bound is for callers in the process, and for more threads: an intent beyond it would
#: wait behind two full rounds, so its caller is told to come back
#: (:class:`ledger.errors.RelayerBusy`, 503 with ``Retry-After``) instead of the queue
#: and its latency growing without end.
MAX_QUEUE = 2_000

#: Writes an intent's vault rows once it succeeded: ``apply(connection, outcome, side_effects)``.
SideEffects = Callable[[Connection, Outcome, Mapping[str, Any]], None]


@dataclass
class _Job:
    intent: SignedIntent
    side_effects: Mapping[str, Any]
    key: tuple[str, str, int]
    future: Future[Outcome] = field(default_factory=Future)
    journal_id: int = 0
    queued_at: float = field(default_factory=time.monotonic)
    #: Unix time of its journal entry (its acceptance's ``accepted_at``).
    accepted_at: int = 0
    #: Whether its transaction was mined: only then is it answered with an acceptance.
    mined: bool = False


@dataclass(frozen=True)
class Relayed:
    """One intent's answer from :meth:`Relayer.submit_all`: its outcome (which may be a
    rejection by the contract), or the exception :meth:`Relayer.submit` would have
    raised for it; and the relayer's acceptance if its transaction was mined."""

    outcome: Outcome | None = None
    error: Exception | None = None
    acceptance: Acceptance | None = None


@dataclass
class RelayerStats:
    batches: int = 0
    intents: int = 0
    rejected: int = 0
    failures: int = 0
    last_block: int = 0


class Relayer:
    """Batches verified intents into blocks; one per service instance and relayer key."""

    def __init__(
        self,
        client: LedgerClient,
        store: Store,
        indexer: Indexer,
        *,
        apply: SideEffects | None = None,
        max_batch: int = 1_000,
        max_queue: int = MAX_QUEUE,
        retry_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.store = store
        self.indexer = indexer
        self.apply = apply
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.retry_interval = retry_interval
        self.admission = Admission(client)
        self.stats = RelayerStats()
        self._queue: list[_Job] = []
        self._in_flight: set[tuple[str, str, int]] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Journal ids this relayer sent (maybe mined) but could not settle yet, and
        #: whether the whole journal needs a look (recovery could not read it). Only the
        #: loop's thread (and :meth:`recover`, before it starts) changes them.
        self._unsettled: set[int] = set()
        self._rescan = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.recover()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="relayer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking intents, finish the queued ones, then return."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def queue_depth(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def unsettled(self) -> int:
        """Journal entries whose transactions were sent but whose vault rows wait for
        the database and the indexer (0 when all is well; at least 1 while the journal
        itself could not be read at start)."""
        return len(self._unsettled) or int(self._rescan)

    def wait_settled(self, timeout: float) -> bool:
        """Wait until no journal entry waits for settlement; whether that came to pass."""
        with self._cond:
            return self._cond.wait_for(lambda: self.unsettled == 0, timeout)

    # ------------------------------------------------------------------ intake

    def submit(
        self,
        intent: SignedIntent,
        side_effects: Mapping[str, Any] | None = None,
        *,
        expected_signer: str | None = None,
        timeout: float = 120.0,
    ) -> Outcome:
        """Check, queue and wait for ``intent``'s block; its outcome (which may be a
        rejection by the contract). Raises the contract's exception for an intent
        that fails the checks (``expected_signer``: the one address allowed to have
        signed it), and :class:`ledger.errors.LedgerError` if the chain fails."""
        job = self._enqueue(intent, side_effects, expected_signer)
        try:
            return job.future.result(timeout)
        finally:
            collected = acceptances.get()
            if job.mined and collected is not None:
                collected.append(self.acceptance(job.intent, job.journal_id, job.accepted_at))

    def submit_all(
        self,
        intents: Sequence[SignedIntent],
        *,
        expected_signer: str | None = None,
        timeout: float = 120.0,
    ) -> list[Relayed]:
        """:meth:`submit` for many intents at once, answered in their order. Each is
        checked on its own (a refusal is that intent's, not the others'); those that pass
        join the queue together, in this order, so one round takes them all into as few
        blocks as the gas allows; then all are waited for, within ``timeout`` in all.
        Each answer carries the relayer's acceptance when its transaction was mined,
        instead of handing it to :data:`acceptances`."""
        admitted: list[_Job | Exception] = []
        for intent in intents:
            try:
                admitted.append(self._admit(intent, None, expected_signer))
            except Exception as exc:  # the refusal :meth:`submit` would raise
                admitted.append(exc)
        not_queued = iter(self._queue_jobs([j for j in admitted if isinstance(j, _Job)]))
        until = time.monotonic() + timeout
        answers = []
        for entry in admitted:
            if isinstance(entry, Exception):
                answers.append(Relayed(error=entry))
                continue
            error = next(not_queued)
            if error is not None:
                answers.append(Relayed(error=error))
                continue
            try:
                outcome = entry.future.result(max(0.0, until - time.monotonic()))
            except Exception as exc:
                answers.append(Relayed(error=exc, acceptance=self._accepted(entry)))
            else:
                answers.append(Relayed(outcome=outcome, acceptance=self._accepted(entry)))
        return answers

    def _accepted(self, job: _Job) -> Acceptance | None:
        if not job.mined:
            return None
        return self.acceptance(job.intent, job.journal_id, job.accepted_at)

    def enqueue(
        self,
        intent: SignedIntent,
        side_effects: Mapping[str, Any] | None = None,
        *,
        expected_signer: str | None = None,
    ) -> Future[Outcome]:
        """:meth:`submit` without the wait: the checks raise here, the outcome (or the
        round's failure) arrives in the future. Intents enqueued one after another are
        recorded in that order wherever their order matters."""
        return self._enqueue(intent, side_effects, expected_signer).future

    def acceptance(self, intent: SignedIntent, journal_id: int, accepted_at: int) -> Acceptance:
        """The relayer's signed acceptance of ``intent`` as journal entry ``journal_id``.

        Signed in the caller's thread, not the loop's: a round of a thousand intents
        must not wait for a thousand signatures."""
        digest = self.client.intent_digest(intent.name, intent.message)
        return sign_acceptance(
            bytes(self.client.relayer.account.key),
            intent=digest,
            chain_id=self.client.chain_id,
            journal_id=journal_id,
            accepted_at=accepted_at,
            relayer=self.client.relayer.address,
        )

    def _enqueue(
        self,
        intent: SignedIntent,
        side_effects: Mapping[str, Any] | None,
        expected_signer: str | None,
    ) -> _Job:
        job = self._admit(intent, side_effects, expected_signer)
        (error,) = self._queue_jobs([job])
        if error is not None:
            raise error
        return job

    def _admit(
        self,
        intent: SignedIntent,
        side_effects: Mapping[str, Any] | None,
        expected_signer: str | None,
    ) -> _Job:
        """The intent as a job, if the read model follows the chain and it passes the
        checks; else the exception it is refused with."""
        failure = self.indexer.failure
        if failure is not None:
            raise ReadModelUnavailable(
                f"the read model cannot follow the chain ({failure}); writes wait until it can"
            )
        signer = self.check(intent)
        if expected_signer is not None and signer != to_checksum_address(expected_signer):
            raise SignedIntentWrongSigner(to_checksum_address(expected_signer), signer)
        key = (INTENTS[intent.name].contract, signer, replay_key(self.client, intent))
        return _Job(intent, side_effects or {}, key)

    def _queue_jobs(self, jobs: Sequence[_Job]) -> list[Exception | None]:
        """Queue ``jobs`` in order at once (one wake-up of the loop for all of them);
        for each, ``None`` or why it was not queued."""
        errors: list[Exception | None] = []
        with self._cond:
            for job in jobs:
                errors.append(self._refusal(job))
                if errors[-1] is None:
                    self._in_flight.add(job.key)
                    self._queue.append(job)
            self._cond.notify_all()
        return errors

    def _refusal(self, job: _Job) -> Exception | None:
        """Why ``job`` cannot join the queue now (the caller holds the lock)."""
        if self._stopping or self._thread is None:
            return Unavailable("the relayer is not running")
        if job.key in self._in_flight:
            return SignedIntentNonceUsed(job.key[1], job.key[2])
        if len(self._queue) >= self.max_queue:
            return RelayerBusy(f"{len(self._queue)} intents wait for a block; try again")
        return None

    def check(self, intent: SignedIntent) -> str:
        """The intent's signer if every check before relaying holds (:mod:`ledger.admission`)."""
        return self.admission.check(intent)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    if self.unsettled or self.indexer.failure is not None:
                        self._cond.wait(self.retry_interval)
                        break
                    self._cond.wait()
                finished = self._stopping and not self._queue
            self._tend()
            if finished:
                return
            with self._cond:
                if not self._queue:
                    continue
            # Gather late: whatever arrives before the chain can take the next block
            # goes into it (the embedded chain mines at most one block per period).
            self.client.chain.wait_for_slot()
            with self._cond:
                jobs = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self._process(jobs)
            except Exception as exc:
                log.exception("relayer round failed")
                self.stats.failures += 1
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            finally:
                with self._cond:
                    for job in jobs:
                        self._in_flight.discard(job.key)

    def _tend(self) -> None:
        """Between rounds: settle what earlier rounds left, or nudge a failing indexer
        (the service's follower does too; a relayer without one must not wait forever)."""
        try:
            if self._rescan:
                self._resolve_journal(None)
            elif self._unsettled:
                self._resolve_journal(self._unsettled)
            elif self.indexer.failure is not None:
                self.indexer.catch_up()
        except Exception as exc:
            log.warning("relayer: settling earlier rounds still fails: %s", exc)

    def _process(self, jobs: list[_Job]) -> None:
        accepted_at = int(time.time())
        rows = [
            {
                "name": job.intent.name,
                "body": dumps(job.intent.to_json()),
                "side_effects": dumps(job.side_effects),
                "state": "queued",
                "created_at": accepted_at,
                "relayer": self.client.relayer.address,
            }
            for job in jobs
        ]
        try:
            with self.store.begin() as c:
                ids = c.execute(_JOURNAL_QUEUED, rows).scalars().all()
        except Exception as exc:
            raise ReadModelUnavailable(f"the relayer's journal cannot be written: {exc}") from exc
        for job, journal_id in zip(jobs, ids, strict=True):
            job.journal_id = int(journal_id)
            job.accepted_at = accepted_at

        sent: list[_Job] = []

        def journal_sent(batches: list[BatchTx]) -> None:
            sent_as = [
                {"entry": jobs[index].journal_id, "sent_as": f"{batch.tx_hash}:{position}"}
                for batch in batches
                for position, index in enumerate(batch.indexes)
            ]
            if sent_as:
                with self.store.begin() as c:
                    c.execute(_JOURNAL_SENT, sent_as)
            sent.extend(jobs[index] for batch in batches for index in batch.indexes)

        try:
            outcomes = self.client.submit([j.intent for j in jobs], before_send=journal_sent)
        except Exception as exc:
            self._round_failed(jobs, sent)
            if isinstance(exc, LedgerError):
                raise
            raise ReadModelUnavailable(f"the relayer's journal cannot be written: {exc}") from exc
        done = list(zip(jobs, outcomes, strict=True))
        for job in jobs:
            job.mined = True
        try:
            self._settle(done)
        except Exception as exc:
            self._add_unsettled(job.journal_id for job in jobs)
            block = max(outcome.receipt.block_number for outcome in outcomes)
            raise ReadModelUnavailable(
                f"recorded on chain (block {block}) but not yet in this service's database:"
                f" {exc}; it will be settled once the database and the indexer work again"
            ) from exc
        self.stats.batches += 1
        self.stats.intents += len(jobs)
        for job, outcome in done:
            job.future.set_result(outcome)

    def _round_failed(self, jobs: list[_Job], sent: list[_Job]) -> None:
        """Entries never sent are ``failed``; sent ones stay ``submitted`` for
        :meth:`_resolve_journal` (a block of an earlier chunk may be mined)."""
        sent_ids = {job.journal_id for job in sent}
        try:
            with self.store.begin() as c:
                for job in jobs:
                    if job.journal_id not in sent_ids:
                        c.execute(
                            update(journal)
                            .where(journal.c.id == job.journal_id)
                            .values(state="failed")
                        )
        except Exception:
            # The database went away mid-round: the entries stay ``queued``, and the
            # loop marks them ``lost`` (never sent) between rounds once it is back.
            log.exception("relayer: cannot mark unsent intents failed yet")
            self._add_unsettled(job.journal_id for job in jobs)
            return
        self._add_unsettled(sent_ids)

    def _settle(self, done: Sequence[tuple[_Job, Outcome]]) -> None:
        """Index the block(s), write vault rows, close the journal entries: one transaction."""
        if not done:
            return
        last_block = max(outcome.receipt.block_number for _, outcome in done)
        self.indexer.catch_up(last_block)
        self.stats.last_block = max(self.stats.last_block, last_block)
        with self.store.begin() as c:
            self._close(c, done)
        self.stats.rejected += sum(1 for _, outcome in done if not outcome.ok)

    def _close(self, c: Connection, done: Sequence[tuple[_Job, Outcome]]) -> None:
        for job, outcome in done:
            if outcome.ok and job.side_effects and self.apply is not None:
                self.apply(c, outcome, job.side_effects)
        closed = [
            {"entry": job.journal_id, "new_state": "done" if outcome.ok else "rejected"}
            for job, outcome in done
        ]
        if closed:
            c.execute(_JOURNAL_CLOSED, closed)

    # ------------------------------------------------------------------ recovery

    def recover(self) -> int:
        """Settle intents a crash left between journal and answer; returns how many were
        settled or found lost. What cannot be settled yet (the database or indexer
        failing, a transaction still pending on a node) stays for the loop to retry.

        Only this relayer's entries (``journal.relayer``, its account): instances sharing
        one database each recover their own and never touch another's rounds in flight.
        Entries written before the journal named its relayer (store layout 2 and older,
        when one instance served a database) are claimed first, by whichever relayer
        recovers first: one ``UPDATE`` takes them all, so each is settled once."""
        self._rescan = True  # until one look at the whole journal succeeds
        try:
            settled, lost = self._resolve_journal(None)
        except Exception as exc:
            log.warning("relayer recovery must wait: %s", exc)
            return 0
        if settled or lost:
            log.info("relayer recovery: %d settled, %d never sent", settled, lost)
        return settled + lost

    def _resolve_journal(self, only: set[int] | None) -> tuple[int, int]:
        """Settle every ``submitted`` entry whose transaction was mined, mark ``lost``
        those whose transaction the chain does not know (and ``queued`` ones: no round
        is running, so they were never sent); returns (settled, lost). ``only``: the
        entries this relayer left, between rounds (another instance sharing the database
        may be mid-round with its own); ``None``: all of this relayer's journal, at start
        (never another relayer's entries: another instance may be mid-round with them)."""
        query = select(journal).where(
            journal.c.state.in_(("queued", "submitted")),
            journal.c.relayer == self.client.relayer.address,
        )
        if only is not None:
            query = query.where(journal.c.id.in_(sorted(only)))
        else:
            self._claim_unowned()
        with self.store.connect() as c:
            rows = c.execute(query).mappings().all()
        if only is None:
            self._rescan = False
        by_tx: dict[str, list[tuple[int, Any]]] = {}
        lost: list[int] = []
        for row in rows:
            if row["state"] == "queued" or not row["tx_hash"]:
                lost.append(row["id"])
                continue
            tx_hash, position = row["tx_hash"].split(":")
            by_tx.setdefault(tx_hash, []).append((int(position), row))
        groups: list[list[tuple[_Job, Outcome]]] = []
        pending: set[int] = set()
        for tx_hash, entries in by_tx.items():
            entries.sort(key=lambda entry: entry[0])
            receipt = self._receipt(tx_hash)
            if receipt is None:
                lost.extend(row["id"] for _, row in entries)
                continue
            if receipt == "pending":
                pending.update(row["id"] for _, row in entries)
                continue
            intents = [SignedIntent.from_json(json.loads(row["body"])) for _, row in entries]
            outcomes = self.client.outcomes_for(intents[0].name, intents, receipt)
            group = []
            for (_, row), intent, outcome in zip(entries, intents, outcomes, strict=True):
                job = _Job(intent, json.loads(row["side_effects"]), ("", "", 0))
                job.journal_id = row["id"]
                group.append((job, outcome))
            groups.append(group)
        if lost:
            with self.store.begin() as c:
                c.execute(update(journal).where(journal.c.id.in_(lost)).values(state="lost"))
        mined = {job.journal_id for group in groups for job, _ in group}
        try:
            failed = self._settle_groups(groups)
        except Exception:
            self._set_unsettled(pending | mined)
            raise
        self._set_unsettled(pending | failed)
        return len(mined - failed), len(lost)

    def _claim_unowned(self) -> None:
        """Make this relayer the owner of the journal's entries that name none."""
        with self.store.begin() as c:
            claimed = c.execute(
                update(journal)
                .where(journal.c.relayer.is_(None))
                .values(relayer=self.client.relayer.address)
            ).rowcount
        if claimed:
            log.info("relayer: took on %d journal entries of an older layout", claimed)

    def _add_unsettled(self, ids: Iterable[int]) -> None:
        self._set_unsettled(self._unsettled | set(ids))

    def _set_unsettled(self, ids: set[int]) -> None:
        with self._cond:
            self._unsettled = ids
            self._cond.notify_all()

    def _settle_groups(self, groups: list[list[tuple[_Job, Outcome]]]) -> set[int]:
        """Settle mined batches together, else one transaction's batch at a time (so one
        that cannot be written does not hold the others back); the ids left unsettled."""
        done = [pair for group in groups for pair in group]
        try:
            self._settle(done)
            return set()
        except Exception as exc:
            if self.indexer.failure is not None or len(groups) < 2:
                raise
            log.warning("relayer: settling %d batches together failed: %s", len(groups), exc)
        unsettled: set[int] = set()
        for group in groups:
            try:
                self._settle(group)
            except Exception:
                log.exception("relayer: a mined batch cannot be settled yet")
                unsettled.update(job.journal_id for job, _ in group)
        return unsettled

    def _receipt(self, tx_hash: str) -> Any:
        """The transaction's receipt; ``"pending"`` if a node holds it unmined; ``None``
        if the chain does not know it (it was never sent, or the node dropped it)."""
        eth = self.client.chain.w3.eth
        try:
            return eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            pass
        try:
            eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        return "pending"
