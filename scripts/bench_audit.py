#!/usr/bin/env python3
"""Audit at scale: verify rate (events/s) and the server's memory while it exports.

On one chain (anvil by default; ``--chain embedded`` for the embedded one):

1. setup through HTTP: departments, a registrar, an auditor, residents with records who
   grant every department (real consents, with wrapped keys in the vault);
2. the server stopped, events are produced directly on chain with the server's relayer
   key: ``Access`` intents by the departments under those consents (each one an
   ``AccessLogged`` event), signed in worker processes and loaded in big batches, until
   the chain holds ``--events`` events or ``--budget`` seconds have passed — the size
   reported is the size measured, nothing is extrapolated;
3. restart: time to ready (the indexer catches up with every new event);
4. ``GET /audit/export?format=jsonl`` streamed to /dev/null while the server's RSS is
   sampled from ``/proc`` every 50 ms;
5. ``GET /audit/verify`` (every event re-derived from the chain, every signature
   recovered and checked against its role, every access against its consent): events
   per second, and the server's RSS meanwhile.

Writes ``audit.<chain>`` in ``bench/results.json``.

    python scripts/bench_audit.py --events 1000000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchlib.direct import (
    consent_terms,
    count_all_events,
    open_ledger,
    submit_batches,
    to_intent,
)
from benchlib.presign import access_item, presign_stream, sign_messages
from benchlib.processes import ResourceSampler, start_served
from benchlib.results import RESULTS, file_mib, machine_info, say, write_results
from benchlib.scenario import DAY, QUERY_FIELDS
from benchlib.served import ServedLedger, grant_consents, grant_jobs, populate

from api.client import ConsentApi
from ledger.vocabulary import name_to_bytes32

#: ``Access`` intents per batch transaction when producing events: as many as the
#: recorded runs used, so blocks and transactions are shaped as they were.
ACCESSES_PER_TX = 500
#: No client-side limit on the export and the verification (a million events take minutes).
NO_TIMEOUT = 24 * 3600.0


def stream_export(auditor: ConsentApi) -> dict[str, Any]:
    """``GET /audit/export?format=jsonl`` through the auditor's client, to /dev/null."""
    lines = size = 0
    auditor.sign_in()  # before the clock starts
    started = time.perf_counter()
    with open("/dev/null", "wb") as sink:
        for chunk in auditor.audit_export("jsonl"):
            sink.write(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "bytes": size,
        "seconds": round(seconds, 2),
        "events_per_s": round(lines / seconds, 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    chain = args.chain
    say(f"\n== audit on the {chain} chain: up to {args.events} events or {args.budget} s ==")
    workdir, anvil, server = start_served("audit", chain, args.block_period, args.workers)
    data = workdir / "data"
    url = anvil.url if anvil is not None else None
    try:
        ledger = ServedLedger.connect(server)
        departments = ledger.register_departments(args.departments)
        registrar = ledger.grant_role("registrar")
        auditor = ledger.grant_role("auditor")
        population, bundles = populate(
            ledger,
            departments,
            args.residents,
            registrar=registrar,
            grants_per_resident=len(departments),
            concurrency=64,
        )
        consents = grant_consents(server.url, grant_jobs(bundles, population.tokens), 64)
        say(f"  {len(consents)} consents granted through the API")
        server.stop()

        client = open_ledger(data, url, 0)
        try:
            terms = consent_terms(client, [c["id"] for c in consents])
            context = {"chain_id": client.chain_id, "contracts": client.deployment.contracts}
            deadline = client.chain.latest_timestamp() + 2 * DAY
            fields = sorted(name_to_bytes32(f) for f in QUERY_FIELDS)
            dept_key = {d.address: d.key for d in departments}
            of_department: dict[str, list[dict[str, Any]]] = {d: [] for d in dept_key}
            for consent in consents:
                of_department[consent["department"]].append(consent)
            start_events = count_all_events(client)
            produced = 0
            nonce = dict.fromkeys(dept_key, 0)
            started = time.perf_counter()
            wave = args.wave
            while start_events + produced < args.events:
                if time.perf_counter() - started > args.budget:
                    break
                want = min(wave, args.events - start_events - produced)
                items = []
                for j in range(want):
                    dept = departments[(produced + j) % len(departments)].address
                    consent = of_department[dept][(produced + j) % len(of_department[dept])]
                    items.append(
                        access_item(
                            dept_key[dept],
                            dept,
                            consent,
                            fields,
                            nonce=nonce[dept],
                            deadline=deadline,
                        )
                    )
                    nonce[dept] += 1
                for part in presign_stream(sign_messages, context, items, chunk=5000):
                    intents = [to_intent("Access", x, terms[x[0]["consentId"]]) for x in part]
                    produced += submit_batches(client, intents, per_tx=ACCESSES_PER_TX)["ok"]
                    if time.perf_counter() - started > args.budget:
                        break
                say(
                    f"  {start_events + produced} events on chain "
                    f"({time.perf_counter() - started:.0f} s)"
                )
            produce_seconds = time.perf_counter() - started
            total_events = count_all_events(client)
        finally:
            client.chain.close()
        say(
            f"  produced {produced} AccessLogged events in {produce_seconds:.0f} s; "
            f"{total_events} events on chain in all"
        )

        server.start()
        say(f"  restart-to-ready {server.ready_seconds:.1f} s (indexing {produced} events)")
        auditor_api = ConsentApi(server.url, auditor, timeout=NO_TIMEOUT)
        with ResourceSampler(server.pid, interval=0.05) as export_rss:
            export = stream_export(auditor_api)
        say(
            f"  export: {export['lines']} lines, {export['bytes'] / 2**20:.1f} MiB in "
            f"{export['seconds']} s; server RSS {export_rss.summary()}"
        )
        auditor_api.sign_in()  # a fresh token: the export may have outlived the last one
        with ResourceSampler(server.pid, interval=0.05) as verify_rss:
            verify_started = time.perf_counter()
            report = auditor_api.audit_verify()
            verify_seconds = time.perf_counter() - verify_started
        auditor_api.close()
        say(
            f"  verify: ok={report['ok']} {report['events']} events, "
            f"{report['signatures_verified']} signatures in {verify_seconds:.1f} s = "
            f"{report['events'] / verify_seconds:.0f} events/s; server RSS {verify_rss.summary()}"
        )
    finally:
        server.stop()
        if anvil is not None:
            anvil.stop()
    return {
        "chain": chain,
        "block_period_s": args.block_period if chain == "embedded" else "anvil automine",
        "events_target": args.events,
        "events_on_chain": total_events,
        "events_produced_directly": produced,
        "produce_s": round(produce_seconds, 1),
        "budget_s": args.budget,
        "restart_to_ready_s": round(server.ready_seconds, 1),
        "index_events_per_s": round(produced / server.ready_seconds, 1),
        "export": {**export, "server_rss": export_rss.summary()},
        "verify": {
            "ok": report["ok"],
            "events": report["events"],
            "signatures_verified": report["signatures_verified"],
            "problems": len(report["problems"]),
            "first_problems": report["problems"][:3],
            "seconds": round(verify_seconds, 1),
            "events_per_s": round(report["events"] / verify_seconds, 1),
            "server_rss": verify_rss.summary(),
        },
        "database_mib": file_mib(data / "consent.sqlite3"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="target events on chain")
    parser.add_argument(
        "--budget", type=float, default=300, help="seconds allowed for producing events"
    )
    parser.add_argument("--chain", choices=("anvil", "embedded"), default="anvil")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument(
        "--workers", type=int, default=1, help="consent serve --workers (HTTP processes)"
    )
    parser.add_argument("--departments", type=int, default=4)
    parser.add_argument("--residents", type=int, default=16)
    parser.add_argument("--wave", type=int, default=50_000, help="intents signed per wave")
    args = parser.parse_args()
    machine = machine_info()
    figures = run(args)
    write_results("audit", {**figures, **machine}, sub=args.chain)
    verify, export = figures["verify"], figures["export"]
    say("\nsummary (audit):")
    say(
        f"  {figures['events_on_chain']} events on chain ({figures['chain']}); verify "
        f"{verify['events_per_s']} events/s (ok={verify['ok']}, {verify['seconds']} s, peak RSS "
        f"{verify['server_rss']['rss_peak_mib']} MiB); export {export['events_per_s']} events/s, "
        f"server RSS {export['server_rss']['rss_start_mib']} → peak "
        f"{export['server_rss']['rss_peak_mib']} MiB; restart-to-ready "
        f"{figures['restart_to_ready_s']} s ({figures['index_events_per_s']} events/s indexed)"
    )
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
