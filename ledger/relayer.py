"""The relayer: checks signed intents, batches them into blocks, answers with receipts.

An intent is checked before it is queued — deadline, signature form (65 bytes, low s),
signer, role, unused nonce — and refused at once with the same exception the contract
would raise. Queued intents go out together: each round of the loop submits everything
waiting as one block (the embedded chain makes at most one per block period), lets the
indexer catch up to that block, writes the intents' vault rows and answers.

Crash safety rests on the journal, in the same database as the vault: an intent is
journalled before its transaction is sent (with the transaction's hash), and its vault
rows are written in the same database transaction that marks it done. On start,
:meth:`Relayer.recover` settles what a crash interrupted: an intent whose transaction
was mined gets its vault rows; one whose transaction never left is dropped (it was
never answered). So an answered intent is never lost, and none is ever half-applied.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address
from sqlalchemy import Connection, select, update
from web3.exceptions import TransactionNotFound

from ledger.client import BatchTx, ConsentTerms, LedgerClient, Outcome, SignedIntent
from ledger.contract_errors import (
    ConsentDirectoryUnauthorizedSigner,
    ConsentLedgerUnauthorizedSigner,
    ECDSAInvalidSignature,
    ECDSAInvalidSignatureLength,
    ECDSAInvalidSignatureS,
    SignedIntentExpired,
    SignedIntentNonceUsed,
    SignedIntentWrongSigner,
)
from ledger.errors import LedgerError
from ledger.indexer import Indexer
from ledger.intents import INTENTS, role_id
from ledger.store import Store, dumps, journal

log = logging.getLogger(__name__)

_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
#: Who must sign intents that do not name their signer.
_SIGNER_ROLES = {
    "RegisterDepartment": ("admin", ConsentDirectoryUnauthorizedSigner),
    "GrantRole": ("admin", ConsentDirectoryUnauthorizedSigner),
    "EnrollResident": ("registrar", ConsentLedgerUnauthorizedSigner),
}

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
    ) -> None:
        self.client = client
        self.store = store
        self.indexer = indexer
        self.apply = apply
        self.max_batch = max_batch
        self.stats = RelayerStats()
        self._queue: list[_Job] = []
        self._in_flight: set[tuple[str, str, int]] = set()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

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
        signer = self.check(intent)
        if expected_signer is not None and signer != to_checksum_address(expected_signer):
            raise SignedIntentWrongSigner(to_checksum_address(expected_signer), signer)
        key = (INTENTS[intent.name].contract, signer, int(intent.message["nonce"]))
        job = _Job(intent, side_effects or {}, key)
        with self._cond:
            if self._stopping or self._thread is None:
                raise LedgerError("the relayer is not running")
            if key in self._in_flight:
                raise SignedIntentNonceUsed(signer, key[2])
            self._in_flight.add(key)
            self._queue.append(job)
            self._cond.notify_all()
        return job.future.result(timeout)

    def check(self, intent: SignedIntent) -> str:
        """The intent's signer if deadline, signature, authority and nonce hold."""
        message = intent.message
        spec = INTENTS[intent.name]
        now = self.client.chain.latest_timestamp()
        deadline = int(message["deadline"])
        if deadline <= now:
            raise SignedIntentExpired(deadline, now)
        signer = recover_signer(self.client, intent)
        if spec.signer_field:
            expected = to_checksum_address(message[spec.signer_field])
            if signer != expected:
                raise SignedIntentWrongSigner(expected, signer)
        else:
            role, error = _SIGNER_ROLES[intent.name]
            if not self.client.has_role(role, signer):
                raise error(signer, role_id(role))
        nonce = int(message["nonce"])
        if self.client.is_nonce_used(intent.name, signer, nonce):
            raise SignedIntentNonceUsed(signer, nonce)
        return signer

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
            # Gather late: whatever arrives before the chain can take the next block
            # goes into it (the embedded chain mines at most one block per period).
            self.client.chain.wait_for_slot()
            with self._cond:
                jobs = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self._process(jobs)
            except Exception as exc:
                log.exception("relayer batch failed")
                self.stats.failures += 1
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            finally:
                with self._cond:
                    for job in jobs:
                        self._in_flight.discard(job.key)

    def _process(self, jobs: list[_Job]) -> None:
        with self.store.begin() as c:
            for job in jobs:
                result = c.execute(
                    journal.insert().values(
                        name=job.intent.name,
                        body=dumps(intent_to_json(job.intent)),
                        side_effects=dumps(job.side_effects),
                        state="queued",
                        created_at=int(time.time()),
                    )
                )
                assert result.inserted_primary_key is not None
                job.journal_id = int(result.inserted_primary_key[0])

        def journal_sent(batches: list[BatchTx]) -> None:
            with self.store.begin() as c:
                for batch in batches:
                    for position, index in enumerate(batch.indexes):
                        c.execute(
                            update(journal)
                            .where(journal.c.id == jobs[index].journal_id)
                            .values(state="submitted", tx_hash=f"{batch.tx_hash}:{position}")
                        )

        try:
            outcomes = self.client.submit([j.intent for j in jobs], before_send=journal_sent)
        except LedgerError:
            with self.store.begin() as c:
                for job in jobs:
                    c.execute(
                        update(journal).where(journal.c.id == job.journal_id).values(state="failed")
                    )
            raise
        self._settle(list(zip(jobs, outcomes, strict=True)))
        self.stats.batches += 1
        self.stats.intents += len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.future.set_result(outcome)

    def _settle(self, done: Sequence[tuple[_Job, Outcome]]) -> None:
        """Index the block(s), write vault rows, close the journal entries: one transaction."""
        if not done:
            return
        last_block = max(outcome.receipt.block_number for _, outcome in done)
        self.indexer.catch_up(last_block)
        self.stats.last_block = max(self.stats.last_block, last_block)
        with self.store.begin() as c:
            for job, outcome in done:
                if outcome.ok and job.side_effects and self.apply is not None:
                    self.apply(c, outcome, job.side_effects)
                if not outcome.ok:
                    self.stats.rejected += 1
                c.execute(
                    update(journal)
                    .where(journal.c.id == job.journal_id)
                    .values(state="done" if outcome.ok else "rejected")
                )

    # ------------------------------------------------------------------ recovery

    def recover(self) -> int:
        """Settle intents a crash left between journal and answer; returns how many."""
        with self.store.connect() as c:
            rows = (
                c.execute(select(journal).where(journal.c.state.in_(("queued", "submitted"))))
                .mappings()
                .all()
            )
        if not rows:
            return 0
        by_tx: dict[str, list[tuple[int, Any]]] = {}
        lost: list[int] = []
        for row in rows:
            if row["state"] == "queued" or not row["tx_hash"]:
                lost.append(row["id"])
                continue
            tx_hash, position = row["tx_hash"].split(":")
            by_tx.setdefault(tx_hash, []).append((int(position), row))
        settled: list[tuple[_Job, Outcome]] = []
        for tx_hash, entries in by_tx.items():
            entries.sort(key=lambda entry: entry[0])
            try:
                receipt = self.client.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                lost.extend(row["id"] for _, row in entries)
                continue
            intents = [intent_from_json(json.loads(row["body"])) for _, row in entries]
            outcomes = self.client.outcomes_for(intents[0].name, intents, receipt)
            for (_, row), intent, outcome in zip(entries, intents, outcomes, strict=True):
                job = _Job(intent, json.loads(row["side_effects"]), ("", "", 0))
                job.journal_id = row["id"]
                settled.append((job, outcome))
        self._settle(settled)
        with self.store.begin() as c:
            for journal_id in lost:
                c.execute(update(journal).where(journal.c.id == journal_id).values(state="lost"))
        log.info("relayer recovery: %d settled, %d never sent", len(settled), len(lost))
        return len(settled) + len(lost)


def recover_signer(client: LedgerClient, intent: SignedIntent) -> str:
    """The intent's signer by OpenZeppelin's rules, or the contract's exception."""
    signature = bytes(intent.signature)
    if len(signature) != 65:
        raise ECDSAInvalidSignatureLength(len(signature))
    s = signature[32:64]
    if int.from_bytes(s, "big") > _HALF_N:
        raise ECDSAInvalidSignatureS(s)
    if signature[64] not in (27, 28):
        raise ECDSAInvalidSignature()
    from wallets.signing import intent_digest

    digest = intent_digest(
        intent.name,
        intent.message,
        chain_id=client.chain_id,
        verifying_contract=client.verifying_contract(intent.name),
    )
    try:
        recovered = Account._recover_hash(digest, signature=signature)
    except Exception as exc:
        raise ECDSAInvalidSignature() from exc
    return str(to_checksum_address(recovered))


def intent_to_json(intent: SignedIntent) -> dict[str, Any]:
    terms = None
    if intent.terms is not None:
        t = intent.terms
        terms = {
            "resident": t.resident,
            "department": t.department,
            "fields": ["0x" + f.hex() for f in t.fields],
            "purpose": "0x" + t.purpose.hex(),
            "valid_from": t.valid_from,
            "valid_until": t.valid_until,
            "max_uses": t.max_uses,
        }
    return {
        "name": intent.name,
        "message": json.loads(dumps(intent.message)),
        "signature": "0x" + bytes(intent.signature).hex(),
        "terms": terms,
    }


def intent_from_json(body: Mapping[str, Any]) -> SignedIntent:
    terms = None
    if body.get("terms"):
        t = body["terms"]
        terms = ConsentTerms(
            resident=t["resident"],
            department=t["department"],
            fields=tuple(bytes.fromhex(f[2:]) for f in t["fields"]),
            purpose=bytes.fromhex(t["purpose"][2:]),
            valid_from=int(t["valid_from"]),
            valid_until=int(t["valid_until"]),
            max_uses=int(t["max_uses"]),
        )
    return SignedIntent(body["name"], body["message"], bytes.fromhex(body["signature"][2:]), terms)
