"""The chain itself, while the server is stopped: big loads of intents signed in worker
processes (:func:`submit_batches`), events counted, consents' terms read.

A load goes through the project's client and encoder (:class:`ledger.client.LedgerClient`
with the server's relayer key, :meth:`ledger.client.LedgerClient.batch_tx`); only the receipt
check is lighter than :meth:`LedgerClient.submit`'s, which decodes every log into an
:class:`~ledger.types.Outcome`: a load counts its intents' events by topic instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_typing import HexStr
from web3.types import FilterParams, LogReceipt

from api.node import RELAYER_KEY_FILE
from ledger.artifacts import load_artifact
from ledger.chain import TransactionSigner, open_chain
from ledger.client import LedgerClient
from ledger.codec import as_bytes, checksum, to_hex
from ledger.deployment import read_deployment
from ledger.intents import INTENTS
from ledger.types import ConsentTerms, SignedIntent

#: A batch transaction's gas beyond its intents' budgets (the transaction itself and the
#: batch loop); a limit only, so generous.


def open_ledger(data_dir: Path, chain_url: str | None, block_period: float) -> LedgerClient:
    """A ``LedgerClient`` on the server's chain and deployment, submitting with the
    server's relayer key (only while that server is stopped: they would share nonces)."""
    chain = open_chain(data_dir=data_dir, url=chain_url, block_period=block_period)
    deployment = read_deployment(data_dir / "deployment.json")
    assert deployment is not None
    key = as_bytes((data_dir / RELAYER_KEY_FILE).read_text().strip())
    return LedgerClient(chain, deployment, TransactionSigner(key))


def _logs(
    client: LedgerClient,
    start: int,
    end: int,
    address: str | Sequence[str],
    topics: Iterable[bytes] | None = None,
) -> Iterator[LogReceipt]:
    """The logs of blocks ``start..end`` at ``address``, 1000 blocks per request."""
    w3 = client.chain.w3
    where = checksum(address) if isinstance(address, str) else [checksum(a) for a in address]
    for first in range(start, end + 1, 1000):
        query: FilterParams = {
            "fromBlock": first,
            "toBlock": min(end, first + 999),
            "address": where,
        }
        if topics is not None:
            query["topics"] = [[HexStr(to_hex(t)) for t in topics]]
        yield from w3.eth.get_logs(query)


def _head(client: LedgerClient) -> int:
    return int(client.chain.w3.eth.block_number)


def count_events(
    client: LedgerClient, names: Iterable[str], start: int, end: int
) -> dict[str, int]:
    """How many events of each name the ledger contract logged in blocks ``start..end``."""
    wanted = set(names)
    topics = {
        topic: abi["name"]
        for topic, abi in load_artifact("ConsentLedger").events_by_topic().items()
        if abi["name"] in wanted
    }
    counts = dict.fromkeys(sorted(wanted), 0)
    for entry in _logs(client, start, end, client.ledger.address, topics):
        counts[topics[bytes(entry["topics"][0])]] += 1
    return counts


def count_all_events(client: LedgerClient) -> int:
    """Events of both contracts from the deployment block to the head."""
    addresses = [client.directory.address, client.ledger.address]
    total = 0
    for _ in _logs(client, int(client.deployment.block_number), _head(client), addresses):
        total += 1
    return total


def consent_terms(client: LedgerClient, ids: Iterable[int]) -> dict[int, ConsentTerms]:
    """The terms of the given consents, from their ``ConsentGranted`` events on chain."""
    wanted = set(ids)
    found: dict[int, ConsentTerms] = {}
    start = int(client.deployment.block_number)
    for entry in _logs(client, start, _head(client), client.ledger.address):
        event = client.decode_log(entry)
        if event is not None and event.name == "ConsentGranted":
            consent_id = int(event.args["consentId"])
            if consent_id in wanted:
                found[consent_id] = ConsentTerms.from_event(event.args)
    return found


def to_intent(
    name: str, signed: tuple[Mapping[str, Any], bytes], terms: ConsentTerms | None = None
) -> SignedIntent:
    """A :func:`benchlib.presign.sign_messages` result as a ``SignedIntent``."""
    message, signature = signed
    return SignedIntent(name, message, signature, terms)


def submit_batches(
    client: LedgerClient, intents: Sequence[SignedIntent], *, per_tx: int
) -> dict[str, Any]:
    """Load many intents of one type fast, for setup only: ``per_tx`` of them per batch
    transaction, one transaction per block, each receipt checked by counting the
    intent's events (:attr:`ledger.intents.IntentType.events`). Raises on any rejected
    intent."""
    if not intents:
        return {"ok": 0, "seconds": 0.0}
    name = intents[0].name
    spec = INTENTS[name]
    topics = {
        topic
        for topic, abi in load_artifact(spec.contract).events_by_topic().items()
        if abi["name"] in spec.events
    }
    started = time.perf_counter()
    done = 0
    for i in range(0, len(intents), per_tx):
        batch = intents[i : i + per_tx]
        tx = client.batch_tx(name, batch)
        raw = client.relayer.sign(client.chain, tx)
        (receipt,) = client.chain.send_raw_transactions([raw])
        logged = sum(1 for log in receipt["logs"] if bytes(log["topics"][0]) in topics)
        if receipt["status"] != 1 or logged != len(batch):
            problems = [client.decode_log(log) for log in receipt["logs"]]
            rejected = [p for p in problems if p is not None and p.name == "IntentRejected"]
            detail = rejected[0].args if rejected else f"status {receipt['status']}"
            raise RuntimeError(f"bulk {name}: {len(batch) - logged} not recorded: {detail}")
        done += len(batch)
    return {"ok": done, "seconds": time.perf_counter() - started}
