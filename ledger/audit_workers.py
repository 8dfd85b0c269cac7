"""The audit's per-transaction work that needs no chain: decoding a transaction's
calldata into its intents and recovering each intent's signer, optionally in worker
processes (``CONSENT_AUDIT_WORKERS``; off by default).

:func:`decode_transaction` is a pure function of a transaction's ``to`` contract, its
input and the deployment's EIP-712 domains, so :func:`ledger.audit.verify` can hand
a window's transactions to a process pool while it checks the window's read model,
and judge them in chain order when they come back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ledger.abi import abi_decode, abi_type, functions_by_selector, named
from ledger.calldata import intents_from_call
from ledger.eip712 import recover
from ledger.errors import LedgerError, MalformedIntent
from ledger.intents import BY_FUNCTION, intent_digest
from ledger.types import SignedIntent

#: Direct admin calls: checked against their sender, they carry no intent.
ADMIN_CALLS = frozenset({"defineFields", "definePurposes", "setDepartmentActive", "distrustIssuer"})


@dataclass(frozen=True)
class Job:
    """One transaction to decode: the contract it calls, its input, the domains."""

    contract: str
    data: bytes
    chain_id: int
    #: Intent type name → the address its EIP-712 domain names.
    verifying: Mapping[str, str]
    #: Recover every intent's signer too (a worker's share of the work).
    recover: bool


@dataclass(frozen=True)
class Decoded:
    """A decoded call: ``None`` name when no function of the contract has its selector
    (or its arguments do not decode); ``intents`` when it carries intents; ``signers``
    (when asked) one per intent: (True, address) or (False, why it recovers to no one)."""

    name: str | None
    params: dict[str, Any]
    intents: list[SignedIntent] | None = None
    signers: list[tuple[bool, str]] | None = None


def decode_transaction(job: Job) -> Decoded:
    entry = functions_by_selector(job.contract).get(bytes(job.data[:4]))
    if entry is None:
        return Decoded(None, {})
    try:
        values = abi_decode([abi_type(i) for i in entry["inputs"]], bytes(job.data[4:]))
    except ValueError:
        return Decoded(None, {})
    params = {i["name"]: named(i, v) for i, v in zip(entry["inputs"], values, strict=True)}
    name = str(entry["name"])
    spec = None if name in ADMIN_CALLS else BY_FUNCTION.get(name)
    if spec is None:
        return Decoded(name, params)
    try:
        intents = intents_from_call(spec.name, name, params)
    except ValueError:  # a scoped batch naming a scope it lacks: it reverted
        return Decoded(None, {})
    if not job.recover:
        return Decoded(name, params, intents)
    return Decoded(name, params, intents, [_signer(job, intent) for intent in intents])


def _signer(job: Job, intent: SignedIntent) -> tuple[bool, str]:
    """As :meth:`ledger.client.LedgerClient.recover_signer`, its exception as text."""
    try:
        try:
            digest = intent_digest(
                intent.name,
                intent.message,
                chain_id=job.chain_id,
                verifying_contract=job.verifying[intent.name],
            )
        except ValueError as exc:
            raise MalformedIntent(f"{intent.name}: {exc}") from exc
        return True, recover(digest, bytes(intent.signature))
    except LedgerError as exc:
        return False, str(exc)


def workers_wanted() -> int:
    """``CONSENT_AUDIT_WORKERS``: worker processes for the audit (0 or unset: none)."""
    try:
        return max(0, int(os.environ.get("CONSENT_AUDIT_WORKERS", "") or 0))
    except ValueError:
        return 0


def pool(workers: int) -> Executor:
    """A pool of ``workers`` fresh processes (spawned: the server's threads and open
    databases are not forked into them)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
