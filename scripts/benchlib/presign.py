"""Signed bodies and intents made in worker processes, before any clock starts.

Workers sign with the project's own code: the JSON bodies the API takes with the
wallet's :func:`wallets.signing.signed_intent_body` (:func:`make_residents`,
:func:`sign_bodies`) and, for loads straight to the chain, ``(message, signature)``
pairs with the protocol's digest and signature (:func:`ledger.intents.intent_digest`,
:func:`ledger.eip712.sign`; :func:`sign_messages`), whose message keeps its canonical
Python form so the submitting process need not convert it back.
A worker takes ``(context, chunk)``; ``context`` names the ledger's chain and contracts
(:meth:`benchlib.served.ServedLedger.context`) and whatever else the worker needs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from benchlib.scenario import DAY, GRANT_FIELDS, PURPOSE, RECORD_VALUES
from ledger.codec import from_hex, to_hex
from ledger.eip712 import sign
from ledger.intents import INTENTS, intent_digest
from ledger.vocabulary import name_to_bytes32
from wallets.grants import wrap_keys_for_department
from wallets.identity import Identity
from wallets.record import RecordVersion
from wallets.signing import signed_intent_body

#: One intent to sign: the signer's key, the intent's type, its message.
Item = tuple[bytes, str, dict[str, Any]]
Worker = Callable[[dict[str, Any], list[Any]], list[Any]]
#: The project's packages, which every process can import (unlike ``benchlib``).
_PROJECT = frozenset({"api", "ledger", "wallets"})


def presign(
    worker: Worker,
    context: dict[str, Any],
    items: Sequence[Any],
    *,
    processes: int | None = None,
    chunk: int = 200,
) -> tuple[list[Any], float]:
    """Run ``worker(context, chunk_of_items)`` over ``items`` in worker processes
    (:func:`_fork_server`); results in order, and the seconds it took."""
    started = time.perf_counter()
    out: list[Any] = []
    for part in presign_stream(worker, context, items, processes=processes, chunk=chunk):
        out.extend(part)
    return out, time.perf_counter() - started


def presign_stream(
    worker: Worker,
    context: dict[str, Any],
    items: Sequence[Any],
    *,
    processes: int | None = None,
    chunk: int = 500,
) -> Iterable[list[Any]]:
    """Like :func:`presign`, but yields each chunk's results (in order) as soon as it is
    ready, so a caller can submit while the workers go on signing."""
    processes = processes or max(1, os.cpu_count() or 1)
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=_fork_server()) as pool:
        yield from pool.map(worker, [context] * len(chunks), chunks)


def _fork_server() -> multiprocessing.context.BaseContext:
    """Workers forked from a server process that imported, once, the project's modules
    this process has loaded (and with them web3, eth-account, SQLAlchemy): each worker
    re-imports the benchmark script it serves, and spawned workers paid for all of it
    again, a second or more per pool. No thread of this process is forked.

    ``benchlib`` itself is not preloaded: Python 3.11's fork server ignores the
    ``sys_path`` it is handed, so ``scripts/`` is not on its path (the project is
    installed), and it is cheap to import."""
    project = sorted(m for m in sys.modules if m.partition(".")[0] in _PROJECT)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(project)
    return context


def access_item(
    key: bytes,
    department: str,
    consent: Mapping[str, Any],
    fields: Sequence[Any],
    *,
    nonce: int,
    deadline: int,
) -> Item:
    """``department``'s ``Access`` (signed with ``key``) under ``consent``
    (``{"id", "resident", ...}``: its own or, to be refused, another department's)."""
    message = {
        "department": department,
        "resident": consent["resident"],
        "consentId": consent["id"],
        "fields": fields,
        "nonce": nonce,
        "deadline": deadline,
    }
    return key, "Access", message


def _domain(context: dict[str, Any], intent: str) -> dict[str, Any]:
    return {
        "chain_id": context["chain_id"],
        "verifying_contract": context["contracts"][INTENTS[intent].contract],
    }


def sign_bodies(context: dict[str, Any], items: list[Item]) -> list[bytes]:
    """Worker: ``(key, intent, message)`` → the JSON request body
    ``{"message", "signature"}``, as bytes ready to send."""
    return [
        json.dumps(signed_intent_body(key, intent, message, **_domain(context, intent))).encode()
        for key, intent, message in items
    ]


def sign_messages(context: dict[str, Any], items: list[Item]) -> list[tuple[dict[str, Any], bytes]]:
    """Worker: ``(key, intent, message)`` → ``(message, signature)``, for loads straight
    to the chain. ``message`` must be in canonical Python form (``bytes``, ``int``,
    checksummed addresses): it is hashed and returned as given, ready for
    ``SignedIntent``: the wallet's checks and conversions of every field
    (:func:`wallets.signing.sign_intent`) would only repeat what building it did."""
    return [
        (message, sign(intent_digest(intent, message, **_domain(context, intent)), key))
        for key, intent, message in items
    ]


def make_residents(context: dict[str, Any], indexes: list[int]) -> list[dict[str, Any]]:
    """Worker: for each index a resident with fresh keys and a record, and its signed bodies:

    - ``enrol``: ``EnrollResident`` by the registrar (nonce ``enrol_nonce_base + index``);
    - ``commit``: ``PUT /residents/{a}/record`` body (``CommitRecord``, nonce 0);
    - ``grants``: one ``POST /consents`` body per department in
      ``departments_of(index)`` (nonces 1, 2, ...), keys wrapped for that department;
    - ``naive``: with ``context["naive"]``, one more ``Grant`` (next nonce) as
      ``{"message", "signature"}`` for a direct contract call.

    Bodies are JSON bytes, ready to send. The resident's keys come back as ``key`` (the
    signing key) and ``encryption_secret`` (its X25519 private key), for
    :func:`benchlib.served.resident_identity`.
    """

    def sign_body(key: bytes, intent: str, message: dict[str, Any]) -> dict[str, Any]:
        return signed_intent_body(key, intent, message, **_domain(context, intent))

    registrar: bytes = context["registrar_key"]
    departments = context["departments"]
    per_resident = int(context.get("grants_per_resident", 1))
    fields = sorted(context.get("grant_fields", GRANT_FIELDS))
    field_ids = [to_hex(name_to_bytes32(f)) for f in fields]
    purpose = to_hex(name_to_bytes32(context.get("purpose", PURPOSE)))
    valid_from = int(context["now"]) - 60
    valid_until = valid_from + int(context.get("valid_days", 30)) * DAY
    no_request = to_hex(bytes(32))

    def grant_message(address: str, department: str, nonce: int) -> dict[str, Any]:
        return {
            "resident": address,
            "department": department,
            "fields": field_ids,
            "purpose": purpose,
            "validFrom": valid_from,
            "validUntil": valid_until,
            "maxUses": 0,
            "requestId": no_request,
            "nonce": nonce,
            "deadline": context["deadline"],
        }

    out = []
    for index in indexes:
        identity = Identity.create()
        key = bytes(identity.account.key)
        address = identity.address
        record = RecordVersion.build(
            context.get("record", RECORD_VALUES),
            resident=address,
            version=1,
            owner_public_key=identity.encryption_public_key,
        )
        enrol = sign_body(
            registrar,
            "EnrollResident",
            {
                "resident": address,
                "idCommitment": secrets.token_bytes(32),
                "encryptionKey": identity.encryption_public_key,
                "nonce": int(context.get("enrol_nonce_base", 0)) + index,
                "deadline": context["deadline"],
            },
        )
        commit = sign_body(
            key,
            "CommitRecord",
            {
                "resident": address,
                "version": 1,
                "root": record.root,
                "nonce": 0,
                "deadline": context["deadline"],
            },
        )
        commit["fields"] = record.envelopes()
        grants = []
        granted_to = []
        nonce = 1
        for k in range(per_resident):
            dept = departments[(index * per_resident + k) % len(departments)]
            body = sign_body(key, "Grant", grant_message(address, dept["address"], nonce))
            nonce += 1
            body["wrapped_keys"] = wrap_keys_for_department(
                record,
                fields,
                department=dept["address"],
                department_public_key=from_hex(dept["encryption_key"], what="encryption key"),
            )
            grants.append(json.dumps(body).encode())
            granted_to.append(dept["address"])
        naive = None
        if context.get("naive"):
            dept = departments[index % len(departments)]
            naive = sign_body(key, "Grant", grant_message(address, dept["address"], nonce))
        out.append(
            {
                "index": index,
                "key": key,
                "encryption_secret": identity.x25519_private_key.private_bytes_raw(),
                "address": address,
                "enrol": json.dumps(enrol).encode(),
                "commit": json.dumps(commit).encode(),
                "grants": grants,
                "granted_to": granted_to,
                "naive": naive,
            }
        )
    return out
