#!/usr/bin/env python3
"""Cost growth: query latency and server memory as consents accumulate on chain, and
restart-to-ready time at the largest size.

On one chain (anvil by default; ``--chain embedded`` for the embedded one):

1. setup through HTTP: ``--departments`` departments, a registrar, ``--probes``
   residents with records who grant every department (the consents the measured
   queries use: they have wrapped keys in the vault);
2. for each size in ``--sizes``: stop the server; grow the number of consents on chain
   to that size directly (the server's relayer key, big batch transactions encoded by
   ``ledger.client.batch_calldata``; the grants are signed by bulk residents in worker
   processes while earlier ones are submitted); start the server again and time
   restart-to-ready (process start → ``/health`` answers with ``indexer_lag`` 0: the
   indexer has caught up with the growth); then fire ``--samples`` pre-signed queries
   under the probe consents with ``--query-concurrency`` clients and read the server's
   RSS from ``/proc``;
3. at the largest size, one more restart with nothing new to index (warm restart).

Writes ``growth.<chain>`` in ``bench/results.json``.

    python scripts/bench_growth.py --sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import secrets
import time
from typing import Any

import httpx
from benchlib.direct import open_ledger, submit_batches, to_intent
from benchlib.load import Job, fire, require_ok, throughput
from benchlib.presign import access_item, presign, presign_stream, sign_bodies, sign_messages
from benchlib.processes import ResourceSampler, proc_status, start_served
from benchlib.profiler import Profiler
from benchlib.results import (
    RESULTS,
    file_mib,
    latency_summary,
    machine_info,
    say,
    write_results,
)
from benchlib.scenario import DAY, GRANT_FIELDS, PURPOSE, QUERY_FIELDS
from benchlib.served import ServedLedger, grant_consents, grant_jobs, populate, sign_in_many
from eth_abi import encode

from ledger.abi import function_codec
from ledger.codec import to_hex
from ledger.vocabulary import name_to_bytes32, role_id
from wallets.signing import address_of

#: Intents per batch transaction when growing the chain: as many as the recorded runs
#: used, so blocks and transactions are shaped as they were.
GRANTS_PER_TX = 350
ENROLMENTS_PER_TX = 250


def run(args: argparse.Namespace) -> dict[str, Any]:
    chain = args.chain
    sizes = sorted(int(s) for s in args.sizes.split(","))
    say(f"\n== growth on the {chain} chain: sizes {sizes} ==")
    workdir, anvil, server = start_served("growth", chain, args.block_period, args.workers)
    data = workdir / "data"
    url = anvil.url if anvil is not None else None
    steps: list[dict[str, Any]] = []
    try:
        ledger = ServedLedger.connect(server)
        departments = ledger.register_departments(args.departments)
        registrar = ledger.grant_role("registrar")
        population, bundles = populate(
            ledger,
            departments,
            args.probes,
            registrar=registrar,
            grants_per_resident=len(departments),
            concurrency=args.setup_concurrency,
        )
        jobs = grant_jobs(bundles, population.tokens)
        probes = grant_consents(server.url, jobs, 64, "granting probe consents")
        say(f"  {len(probes)} probe consents granted through the API")
        dept_key = {d.address: d.key for d in departments}
        dept_nonce = dict.fromkeys(dept_key, 0)
        query_fields = sorted(to_hex(name_to_bytes32(f)) for f in QUERY_FIELDS)
        grant_fields = sorted(name_to_bytes32(f) for f in GRANT_FIELDS)
        purpose = name_to_bytes32(PURPOSE)

        def measure(label: str) -> dict[str, Any]:
            """``--samples`` queries under the probe consents; latency, RSS, CPU, sizes."""
            context = ledger.context()  # the ledger follows the server to its new port
            items = []
            for i in range(args.samples):
                consent = probes[i % len(probes)]
                dept = consent["department"]
                items.append(
                    access_item(
                        dept_key[dept],
                        dept,
                        consent,
                        query_fields,
                        nonce=dept_nonce[dept],
                        deadline=context["deadline"],
                    )
                )
                dept_nonce[dept] += 1
            bodies, _ = presign(sign_bodies, context, items)
            tokens = sign_in_many(server.url, [d.identity for d in departments])
            jobs = [
                Job("POST", "/queries", body, tokens[message["department"]])
                for body, (_, _, message) in zip(bodies, items, strict=True)
            ]
            # A few queries first: the first requests of a process pay for imports.
            warm = fire(server.url, jobs[: args.warmup], args.query_concurrency)
            require_ok(warm, "warm-up queries")
            profiler = None
            if args.profile:
                name = f"profile-{label.replace(' ', '-')}.txt"
                profiler = Profiler(server.pid, workdir / name, gil=False, idle=True)
                profiler.__enter__()
            chain_pid = anvil.pid if anvil is not None else None
            chain_sampler = ResourceSampler(chain_pid) if chain_pid else None
            try:
                with ResourceSampler(server.pid) as sampler:
                    if chain_sampler is not None:
                        chain_sampler.__enter__()
                    answers = fire(server.url, jobs[args.warmup :], args.query_concurrency)
                    if chain_sampler is not None:
                        chain_sampler.__exit__()
            finally:
                if profiler is not None:
                    profiler.__exit__()
            require_ok(answers, f"queries {label}")
            rate, _ = throughput(answers)
            status = proc_status(server.pid)
            figures: dict[str, Any] = {
                "query_latency": latency_summary([a.latency for a in answers]),
                "queries_per_s": round(rate, 1),
                "server_rss_mib": round(status["rss_mib"], 1),
                "server_rss_peak_mib": round(status["hwm_mib"], 1),
                "server_cpu_percent_during_queries": sampler.summary()["cpu_percent_of_one_core"],
                # The SQLite WAL left by a big catch-up slows reads until a clean close
                # checkpoints it: its size is reported with the database's.
                "database_mib": file_mib(data / "consent.sqlite3"),
                "database_wal_mib": file_mib(data / "consent.sqlite3-wal"),
            }
            if url is None:
                figures["chain_db_mib"] = file_mib(data / "chain.sqlite3")
            else:
                figures["anvil_rpc_ms"] = rpc_timings(
                    url, registrar.address, ledger.contracts["ConsentDirectory"]
                )
            if chain_sampler is not None:
                figures["anvil_cpu_percent_during_queries"] = chain_sampler.summary()[
                    "cpu_percent_of_one_core"
                ]
            if profiler is not None:
                figures["profile"] = {**profiler.top(25), "file": str(profiler.path)}
            latency = figures["query_latency"]
            say(
                f"  {label}: query p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms "
                f"({figures['queries_per_s']} q/s); server RSS {figures['server_rss_mib']} MiB "
                f"(peak {figures['server_rss_peak_mib']}), database {figures['database_mib']} "
                f"MiB incl. WAL {figures['database_wal_mib']}"
            )
            return figures

        # Bulk residents: enough for the largest size at --per-resident grants each.
        bulk_count = -(-max(sizes) // args.per_resident)
        bulk = [secrets.token_bytes(32) for _ in range(bulk_count)]
        bulk_address = [address_of(k) for k in bulk]
        bulk_next_nonce = [1] * bulk_count
        enrolled = False
        grants_made = 0
        current = len(probes)

        for size in sizes:
            server.stop()
            step: dict[str, Any] = {"consents": size}
            if size > current:
                client = open_ledger(data, url, 0)
                try:
                    context = {
                        "chain_id": client.chain_id,
                        "contracts": client.deployment.contracts,
                    }
                    now = client.chain.latest_timestamp()
                    deadline = now + 2 * DAY
                    grown_started = time.perf_counter()
                    if not enrolled:
                        registrar_key = bytes(registrar.account.key)
                        items = [
                            (
                                registrar_key,
                                "EnrollResident",
                                {
                                    "resident": bulk_address[i],
                                    "idCommitment": secrets.token_bytes(32),
                                    "encryptionKey": secrets.token_bytes(32),
                                    "nonce": 100_000 + i,
                                    "deadline": deadline,
                                },
                            )
                            for i in range(bulk_count)
                        ]
                        signed, _ = presign(sign_messages, context, items, chunk=2000)
                        submit_batches(
                            client,
                            [to_intent("EnrollResident", x) for x in signed],
                            per_tx=ENROLMENTS_PER_TX,
                        )
                        enrolled = True
                    delta = size - current
                    items = []
                    for j in range(delta):
                        r = (grants_made + j) % bulk_count
                        dept = departments[(grants_made + j) % len(departments)].address
                        items.append(
                            (
                                bulk[r],
                                "Grant",
                                {
                                    "resident": bulk_address[r],
                                    "department": dept,
                                    "fields": grant_fields,
                                    "purpose": purpose,
                                    "validFrom": now - 60,
                                    "validUntil": now + 30 * DAY,
                                    "maxUses": 0,
                                    "requestId": bytes(32),
                                    "nonce": bulk_next_nonce[r],
                                    "deadline": deadline,
                                },
                            )
                        )
                        bulk_next_nonce[r] += 1
                    grants_made += delta
                    ok = 0
                    for part in presign_stream(sign_messages, context, items, chunk=5000):
                        grants = [to_intent("Grant", x) for x in part]
                        ok += submit_batches(client, grants, per_tx=GRANTS_PER_TX)["ok"]
                    grow_seconds = time.perf_counter() - grown_started
                    on_chain = int(client.consent_count())
                finally:
                    client.chain.close()
                step["grown_by"] = ok
                step["grow_s"] = round(grow_seconds, 1)
                step["grow_grants_per_s"] = round(ok / grow_seconds, 1)
                step["consent_count_on_chain"] = on_chain
                current = size
                say(
                    f"  grew to {on_chain} consents on chain (+{ok} in {grow_seconds:.1f} s, "
                    f"{ok / grow_seconds:.0f} grants/s signed and submitted directly)"
                )
            server.start()
            step["restart_to_ready_s"] = round(server.ready_seconds, 2)
            step["rss_after_start_mib"] = round(proc_status(server.pid)["rss_mib"], 1)
            say(
                f"  restart-to-ready {server.ready_seconds:.1f} s (indexing the growth), "
                f"RSS {step['rss_after_start_mib']} MiB"
            )
            step.update(measure(f"at {size} consents"))
            steps.append(step)
        server.stop()
        server.start()
        warm_restart = round(server.ready_seconds, 2)
        warm_rss = round(proc_status(server.pid)["rss_mib"], 1)
        say(f"  warm restart at {sizes[-1]} consents: ready in {warm_restart} s")
        after_warm = measure(f"at {sizes[-1]} consents after the warm restart")
    finally:
        server.stop()
        if anvil is not None:
            anvil.stop()
    first, last = steps[0]["query_latency"], steps[-1]["query_latency"]
    return {
        "chain": chain,
        "block_period_s": args.block_period if chain == "embedded" else "anvil automine",
        "sizes": sizes,
        "departments": len(departments),
        "probe_consents": len(probes),
        "query_samples_per_size": args.samples - args.warmup,
        "query_concurrency": args.query_concurrency,
        "steps": steps,
        "query_p50_growth_first_to_last": round(last["p50_ms"] / first["p50_ms"] - 1, 3),
        "query_p99_growth_first_to_last": round(last["p99_ms"] / first["p99_ms"] - 1, 3),
        "restart_to_ready_after_growth_s": steps[-1]["restart_to_ready_s"],
        "warm_restart_to_ready_s": warm_restart,
        "rss_after_warm_restart_mib": warm_rss,
        "after_warm_restart": after_warm,
        "query_p50_growth_first_to_last_after_warm_restart": round(
            after_warm["query_latency"]["p50_ms"] / first["p50_ms"] - 1, 3
        ),
    }


def rpc_timings(url: str, account: str, directory: str, n: int = 30) -> dict[str, float]:
    """Milliseconds per JSON-RPC call straight to the node (raw HTTP, no web3): is the
    node itself slower at this size?"""
    selector, types = function_codec("ConsentDirectory", "hasRole")
    has_role = selector + encode(list(types), [role_id("registrar"), account])
    calls = {
        "eth_blockNumber": [],
        "eth_getBalance": [account, "latest"],
        "eth_getBlockByNumber": ["latest", False],
        "eth_call": [{"to": directory, "data": to_hex(has_role)}, "latest"],
    }
    out: dict[str, float] = {}
    with httpx.Client(timeout=30) as http:
        for method, params in calls.items():
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            started = time.perf_counter()
            for _ in range(n):
                http.post(url, json=body).raise_for_status()
            out[method] = round((time.perf_counter() - started) / n * 1000, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="consents on chain")
    parser.add_argument("--chain", choices=("anvil", "embedded"), default="anvil")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument(
        "--workers", type=int, default=1, help="consent serve --workers (HTTP processes)"
    )
    parser.add_argument("--departments", type=int, default=4)
    parser.add_argument("--probes", type=int, default=16, help="residents granting via the API")
    parser.add_argument("--per-resident", type=int, default=250, help="bulk grants per resident")
    parser.add_argument("--samples", type=int, default=220, help="queries per size (incl. warm-up)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--query-concurrency", type=int, default=4)
    parser.add_argument("--setup-concurrency", type=int, default=64)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the server (every thread, waiting ones too) during each size's queries",
    )
    args = parser.parse_args()
    machine = machine_info()
    figures = run(args)
    write_results("growth", {**figures, **machine}, sub=args.chain)
    say("\nsummary (growth):")
    for step in figures["steps"]:
        latency = step["query_latency"]
        say(
            f"  {step['consents']:>7} consents: query p50 {latency['p50_ms']} ms p99 "
            f"{latency['p99_ms']} ms, RSS {step['server_rss_mib']} MiB, restart-to-ready "
            f"{step['restart_to_ready_s']} s"
        )
    say(
        f"  p50 growth first→last {figures['query_p50_growth_first_to_last']:+.0%}; warm "
        f"restart at the largest size {figures['warm_restart_to_ready_s']} s"
    )
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
