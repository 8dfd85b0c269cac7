#!/usr/bin/env python3
"""Grant throughput and latency through the HTTP API, against a naive web3 loop.

For each chain (the embedded chain of ``consent serve --block-period P``, and/or an anvil
started here with ``consent serve --chain-url``):

1. setup, not measured: the admin (from the data directory) registers a department and
   a registrar; ``--n`` residents with fresh keys are made in worker processes, each
   with a record and its signed bodies (enrolment, record commitment, grant) —
   every signature is made before the clock starts; they are enrolled, signed in and
   commit their records through HTTP, concurrently;
2. measured: the ``--n`` pre-signed ``POST /consents`` bodies are fired by
   ``--concurrency`` concurrent HTTP clients; latency is send → 201 per request,
   throughput is 201s / (first send → last answer);
3. the naive baseline on the same chain, the server stopped: one ``grant(...)`` call
   per transaction (not the batch), signed with ``TransactionSigner`` (gas estimated,
   as web3's ``transact`` does), ``send_raw_transaction`` then
   ``wait_for_transaction_receipt``, one after another, for min(n, 200) grants. On the
   embedded chain it runs twice: with the server's block period (one block per period,
   so ~1/P grants/s by construction) and with block period 0 (the EVM's own speed);
4. the raw batched ceiling on the same chain, the server stopped: the next ``--raw``
   residents' grants through ``LedgerClient.submit`` — the relayer's own batch
   transactions sent directly, no HTTP, as many per block as the gas allows (embedded:
   block period 0). ``ratio_api_over_raw_batched`` is the API's share of that speed.

Writes ``grants.<chain>`` in ``bench/results.json``. ``--profile`` records the server
with py-spy during the measured phase and prints the top costs.

    python scripts/bench_grants.py --n 2000 --concurrency 64 [--chain embedded|anvil|both]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchlib.direct import open_ledger
from benchlib.load import fire, status_counts, throughput
from benchlib.processes import ResourceSampler, start_served
from benchlib.profiler import Profiler
from benchlib.results import RESULTS, latency_summary, machine_info, say, write_results
from benchlib.scenario import GRANT_FIELDS
from benchlib.served import ServedLedger, grant_jobs, populate

from ledger.client import LedgerClient
from ledger.codec import from_hex
from ledger.types import SignedIntent
from wallets.signing import normalize_message

#: Where a grant's server time goes, for ``--profile``: each sample is counted under the
#: first category whose frame it contains.
GRANT_PATH = (
    ("auth: the caller's roles read from the chain (api.auth.roles_of)", ["roles_of (api/auth"]),
    ("auth: token and other", ["current_actor (api/deps"]),
    ("relayer.check: nonce-used eth_call", ["LedgerClient.is_nonce_used"]),
    ("relayer.check: EIP-712 signer recovery", ["recover_signer (ledger/relayer"]),
    ("relayer.check: chain time", ["Relayer.check (ledger/relayer"]),
    ("batch: web3 ABI encoding", ["LedgerClient._batch_tx"]),
    ("batch: signing the transaction", ["TransactionSigner.sign_many"]),
    ("batch: mining / sending and awaiting", ["send_raw_transactions"]),
    ("batch: decoding outcomes", ["LedgerClient._outcomes"]),
    ("indexer catch-up", ["Indexer.catch_up"]),
    ("journal and vault writes", ["Relayer._settle", "Relayer._process"]),
    ("grant route: parsing, read-model lookups", ["grant (api/routers/consents"]),
    ("FastAPI / pydantic / uvicorn", ["fastapi/", "starlette/", "uvicorn/", "pydantic"]),
)


def naive_loop(client: LedgerClient, intents: list[SignedIntent]) -> dict[str, Any]:
    """One ``grant`` transaction per intent, each awaited before the next is sent."""
    w3 = client.chain.w3
    signer = client.relayer
    gas: list[int] = []
    started = time.perf_counter()
    for intent in intents:
        data = client.ledger.encode_abi("grant", args=[intent.as_abi(), intent.signature])
        raw = signer.sign(client.chain, {"to": client.ledger.address, "data": data})
        tx_hash = w3.eth.send_raw_transaction(raw)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.01)
        if receipt["status"] != 1:
            raise RuntimeError(f"naive grant reverted: {tx_hash.hex()}")
        gas.append(int(receipt["gasUsed"]))
    elapsed = time.perf_counter() - started
    return {
        "grants": len(intents),
        "seconds": round(elapsed, 2),
        "grants_per_s": round(len(intents) / elapsed, 2),
        "gas_per_grant": round(sum(gas) / len(gas)) if gas else None,
    }


def raw_batched(client: LedgerClient, intents: list[SignedIntent]) -> dict[str, Any]:
    """The relayer's own batch transactions, no HTTP: ``LedgerClient.submit`` (the
    relayer's encoder, signer and outcome decoding) over all ``intents`` at once, so
    the chain takes as many per block as its gas allows — the chain's ceiling for grants."""
    started = time.perf_counter()
    head = client.chain.head_number()
    outcomes = client.submit(intents)
    elapsed = time.perf_counter() - started
    refused = [o for o in outcomes if not o.ok]
    if refused:
        raise RuntimeError(f"raw batch: {len(refused)} grants refused, e.g. {refused[0]}")
    return {
        "grants": len(intents),
        "blocks": client.chain.head_number() - head,
        "seconds": round(elapsed, 2),
        "grants_per_s": round(len(intents) / elapsed, 1),
    }


def run(chain: str, args: argparse.Namespace) -> dict[str, Any]:
    say(f"\n== grants on the {chain} chain ==")
    workdir, anvil, server = start_served("grants", chain, args.block_period, args.workers)
    try:
        ledger = ServedLedger.connect(server)
        departments = ledger.register_departments(1)
        registrar = ledger.grant_role("registrar")
        population, bundles = populate(
            ledger,
            departments,
            args.n,
            registrar=registrar,
            grants_per_resident=1,
            naive=True,
            concurrency=args.setup_concurrency,
        )
        jobs = grant_jobs(bundles, population.tokens)
        head_before = int(server.health()["block_number"])
        profiler = (
            Profiler(
                server.pid,
                workdir / f"profile-{chain}.txt",
                gil=args.profile == "gil",
                idle=args.profile == "idle",
            )
            if args.profile
            else None
        )
        anvil_process = anvil.pid if anvil is not None else None
        anvil_sampler = ResourceSampler(anvil_process) if anvil_process else None
        say(f"  firing {len(jobs)} grants with {args.concurrency} concurrent clients")
        if profiler is not None:
            profiler.__enter__()
        try:
            with ResourceSampler(server.pid) as sampler:
                if anvil_sampler is not None:
                    anvil_sampler.__enter__()
                answers = fire(server.url, jobs, args.concurrency)
                if anvil_sampler is not None:
                    anvil_sampler.__exit__()
        finally:
            if profiler is not None:
                profiler.__exit__()
        head_after = int(server.health()["block_number"])
    finally:
        server.stop()
    ok = [a for a in answers if a.status == 201]
    _, span = throughput(answers)
    figures: dict[str, Any] = {
        "chain": chain,
        "block_period_s": args.block_period if chain == "embedded" else "anvil automine",
        "workers": args.workers,
        "residents": args.n,
        "concurrency": args.concurrency,
        "fields_per_grant": len(GRANT_FIELDS),
        "grants_ok": len(ok),
        "status_counts": status_counts(answers),
        "grants_per_s": round(len(ok) / span, 1) if span else None,
        "span_s": round(span, 2),
        "latency_2xx": latency_summary([a.latency for a in ok]),
        "blocks": head_after - head_before,
        "grants_per_block": round(len(ok) / max(1, head_after - head_before), 1),
        "server": sampler.summary(),
        "presign_s": round(population.presign_seconds, 1),
        "presign_residents_per_s": round(args.n / population.presign_seconds, 1),
        "setup_s": round(population.setup_seconds, 1),
    }
    if anvil_sampler is not None:
        figures["anvil_process"] = anvil_sampler.summary()
    # The whole served tree (workers, and on the embedded chain the EVM process).
    figures["server_cpu_ms_per_grant"] = sampler.cpu_ms_per(len(ok))
    latency = figures["latency_2xx"]
    say(
        f"  API: {figures['grants_ok']}/{len(jobs)} granted, {figures['grants_per_s']} grants/s, "
        f"p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms, "
        f"{figures['blocks']} blocks; server CPU {figures['server']['cpu_percent_of_one_core']}% "
        f"of one core, {figures.get('server_cpu_ms_per_grant')} ms CPU per grant"
    )
    if profiler is not None:
        figures["profile"] = {
            **profiler.top(),
            "grant_path": profiler.breakdown(GRANT_PATH),
            "file": str(profiler.path),
        }

    # Each resident's second grant, signed in setup and unused by the API run: the first
    # --naive for the naive loop, the next --raw for the raw batch (disjoint residents).
    spare = [
        SignedIntent(
            "Grant",
            normalize_message("Grant", b["naive"]["message"]),
            from_hex(b["naive"]["signature"], what="signature"),
        )
        for b in bundles
    ]
    naive = spare[: args.naive]
    raw = spare[args.naive : args.naive + args.raw]
    if raw:
        client = open_ledger(workdir / "data", None if anvil is None else anvil.url, 0)
        try:
            figures["raw_batched"] = raw_batched(client, raw)
        finally:
            client.chain.close()
        say(
            f"  raw batched (the relayer's batch transactions, no HTTP, block period 0): "
            f"{figures['raw_batched']['grants_per_s']} grants/s over {len(raw)} grants in "
            f"{figures['raw_batched']['blocks']} blocks"
        )
        if figures["grants_per_s"]:
            figures["ratio_api_over_raw_batched"] = round(
                figures["grants_per_s"] / figures["raw_batched"]["grants_per_s"], 2
            )
    if chain == "embedded":
        periodic = naive[: args.naive_periodic]
        client = open_ledger(workdir / "data", None, args.block_period)
        try:
            result = naive_loop(client, periodic)
        finally:
            client.chain.close()
        result["block_period_s"] = args.block_period
        result["note"] = (
            f"one transaction per block and one block per {args.block_period} s: "
            f"~{1 / args.block_period if args.block_period else 'inf'} grants/s by construction"
        )
        figures["naive_same_block_period"] = result
        say(
            f"  naive web3 loop, block period {args.block_period} s (the server's): "
            f"{result['grants_per_s']} grants/s over {result['grants']} grants "
            "(one block per period: bounded by construction)"
        )
        client = open_ledger(workdir / "data", None, 0)
        try:
            result = naive_loop(client, naive[args.naive_periodic :])
        finally:
            client.chain.close()
        result["block_period_s"] = 0
        figures["naive_unthrottled"] = result
        say(
            f"  naive web3 loop, block period 0 (EVM speed): {result['grants_per_s']} grants/s "
            f"over {result['grants']} grants, {result['gas_per_grant']} gas each"
        )
        if figures["grants_per_s"]:
            figures["ratio_api_over_naive_same_block_period"] = round(
                figures["grants_per_s"] / figures["naive_same_block_period"]["grants_per_s"], 1
            )
            figures["ratio_api_over_naive_unthrottled"] = round(
                figures["grants_per_s"] / result["grants_per_s"], 2
            )
    else:
        assert anvil is not None
        client = open_ledger(workdir / "data", anvil.url, 0)
        try:
            result = naive_loop(client, naive)
        finally:
            client.chain.close()
            anvil.stop()
        figures["naive"] = result
        say(
            f"  naive web3 loop on anvil: {result['grants_per_s']} grants/s over "
            f"{result['grants']} grants, {result['gas_per_grant']} gas each"
        )
        if figures["grants_per_s"]:
            figures["ratio_api_over_naive"] = round(
                figures["grants_per_s"] / result["grants_per_s"], 1
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="residents, one grant each")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent HTTP clients")
    parser.add_argument("--chain", choices=("embedded", "anvil", "both"), default="both")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument(
        "--workers", type=int, default=1, help="consent serve --workers (HTTP processes)"
    )
    parser.add_argument("--setup-concurrency", type=int, default=128)
    parser.add_argument("--naive", type=int, default=200, help="naive loop: min(n, this) grants")
    parser.add_argument(
        "--raw", type=int, default=1000, help="raw batch: the next min(n - naive, this) grants"
    )
    parser.add_argument(
        "--naive-periodic",
        type=int,
        default=20,
        help="embedded: of those, how many run at the server's block period (~1 s each)",
    )
    parser.add_argument(
        "--profile",
        choices=("gil", "all", "idle"),
        help="py-spy the server during the measured phase: gil = CPU (the thread holding "
        "the GIL), all = every active thread (shows lock waits too), idle = every thread, "
        "idle ones too (where a request's wall time goes)",
    )
    args = parser.parse_args()
    chains = ("embedded", "anvil") if args.chain == "both" else (args.chain,)
    machine = machine_info()
    summaries = {}
    for chain in chains:
        figures = run(chain, args)
        summaries[chain] = figures
        # A profiled run is slowed by the profiler: kept apart from the headline figures.
        section = "grants_profiled" if args.profile else "grants"
        write_results(section, {**figures, **machine}, sub=chain)
    say("\nsummary (grants):")
    for chain, f in summaries.items():
        latency = f["latency_2xx"]
        ratio = f.get("ratio_api_over_naive") or f.get("ratio_api_over_naive_unthrottled")
        raw_ratio = f.get("ratio_api_over_raw_batched")
        say(
            f"  {chain:9s} {f['grants_per_s']:>8} grants/s  p50 {latency.get('p50_ms')} ms  "
            f"p99 {latency.get('p99_ms')} ms  API/naive {ratio}  API/raw batched {raw_ratio}"
            f"  server CPU {f.get('server_cpu_ms_per_grant')} ms/grant"
        )
        if "profile" in f:
            say(f"  grant path, {f['profile']['mode']}, share of server samples:")
            for name, share in f["profile"]["grant_path"]:
                say(f"    {share:6.1%}  {name}")
            say("  top functions (inclusive):")
            for name, share in f["profile"].get("inclusive", [])[:15]:
                say(f"    {share:6.1%}  {name}")
            say("  top costs (self):")
            for name, share in f["profile"].get("self", [])[:15]:
                say(f"    {share:6.1%}  {name}")
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
