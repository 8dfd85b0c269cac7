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

import bench_common as bc
import httpx


def stream_export(url: str, token: str) -> dict[str, Any]:
    lines = size = 0
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.stream(
            "GET", url + "/audit/export", params={"format": "jsonl"}, headers=headers, timeout=None
        ) as response,
        open("/dev/null", "wb") as sink,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
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
    from ledger.intents import name_to_bytes32

    chain = args.chain
    bc.say(f"\n== audit on the {chain} chain: up to {args.events} events or {args.budget} s ==")
    workdir = bc.work_dir(f"audit-{chain}")
    data = workdir / "data"
    anvil = bc.start_anvil() if chain == "anvil" else None
    url = anvil.url if anvil is not None else None
    extra = ["--chain-url", url] if url else ["--block-period", str(args.block_period)]
    server = bc.Server(data, *extra).start()
    bc.say(f"  consent serve {' '.join(extra)} ready in {server.ready_seconds:.1f} s ({workdir})")
    try:
        ledger = bc.Ledger.connect(server)
        departments = ledger.register_departments(args.departments)
        registrar = ledger.grant_role("registrar")
        auditor = ledger.grant_role("auditor")
        population, bundles = bc.populate(
            ledger,
            departments,
            args.residents,
            registrar_key=registrar,
            grants_per_resident=len(departments),
            concurrency=64,
        )
        granted = bc.setup_fire(
            server.url,
            bc.grant_jobs(bundles, population.tokens),
            64,
            "granting",
            keep_body=True,
        )
        consents = bc.consents_of(granted)
        bc.say(f"  {len(consents)} consents granted through the API")
        server.stop()

        client = bc.open_ledger(data, url, 0)
        try:
            terms = bc.consent_terms(client, [c["id"] for c in consents])
            context = {"chain_id": client.chain_id, "contracts": client.deployment.contracts}
            deadline = client.chain.latest_timestamp() + 2 * bc.DAY
            fields = sorted(name_to_bytes32(f) for f in bc.QUERY_FIELDS)
            dept_key = {d.address: d.key for d in departments}
            of_department: dict[str, list[dict[str, Any]]] = {d: [] for d in dept_key}
            for consent in consents:
                of_department[consent["department"]].append(consent)
            start_events = _count_all(client)
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
                        (
                            dept_key[dept],
                            "Access",
                            {
                                "department": dept,
                                "resident": consent["resident"],
                                "consentId": consent["id"],
                                "fields": fields,
                                "nonce": nonce[dept],
                                "deadline": deadline,
                            },
                        )
                    )
                    nonce[dept] += 1
                for part in bc.presign_stream(bc.fast_sign_intents, context, items, chunk=5000):
                    intents = [bc.to_intent("Access", x, terms[x[0]["consentId"]]) for x in part]
                    produced += bc.bulk_submit(client, "Access", intents)["ok"]
                    if time.perf_counter() - started > args.budget:
                        break
                bc.say(
                    f"  {start_events + produced} events on chain "
                    f"({time.perf_counter() - started:.0f} s)"
                )
            produce_seconds = time.perf_counter() - started
            total_events = _count_all(client)
        finally:
            client.chain.close()
        bc.say(
            f"  produced {produced} AccessLogged events in {produce_seconds:.0f} s; "
            f"{total_events} events on chain in all"
        )

        server.start()
        bc.say(f"  restart-to-ready {server.ready_seconds:.1f} s (indexing {produced} events)")
        token = bc.sign_in_many(server.url, [auditor])
        token_value = next(iter(token.values()))
        with bc.ResourceSampler(server.pid, interval=0.05) as export_rss:
            export = stream_export(server.url, token_value)
        bc.say(
            f"  export: {export['lines']} lines, {export['bytes'] / 2**20:.1f} MiB in "
            f"{export['seconds']} s; server RSS {export_rss.summary()}"
        )
        token_value = next(iter(bc.sign_in_many(server.url, [auditor]).values()))
        with bc.ResourceSampler(server.pid, interval=0.05) as verify_rss:
            verify_started = time.perf_counter()
            answer = httpx.get(
                server.url + "/audit/verify",
                headers={"Authorization": f"Bearer {token_value}"},
                timeout=None,
            )
            verify_seconds = time.perf_counter() - verify_started
        answer.raise_for_status()
        report = answer.json()
        bc.say(
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
        "database_mib": bc.file_mib(data / "consent.sqlite3"),
    }


def _count_all(client: Any) -> int:
    """Events of both contracts from the deployment block to the head."""
    w3 = client.chain.w3
    head = int(w3.eth.block_number)
    total = 0
    addresses = [client.directory.address, client.ledger.address]
    for first in range(int(client.deployment.block_number), head + 1, 1000):
        total += len(
            w3.eth.get_logs(
                {"fromBlock": first, "toBlock": min(head, first + 999), "address": addresses}
            )
        )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="target events on chain")
    parser.add_argument(
        "--budget", type=float, default=300, help="seconds allowed for producing events"
    )
    parser.add_argument("--chain", choices=("anvil", "embedded"), default="anvil")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument("--departments", type=int, default=4)
    parser.add_argument("--residents", type=int, default=16)
    parser.add_argument("--wave", type=int, default=50_000, help="intents signed per wave")
    args = parser.parse_args()
    machine = bc.machine_info()
    figures = run(args)
    bc.write_results("audit", {**figures, **machine}, sub=args.chain)
    verify, export = figures["verify"], figures["export"]
    bc.say("\nsummary (audit):")
    bc.say(
        f"  {figures['events_on_chain']} events on chain ({figures['chain']}); verify "
        f"{verify['events_per_s']} events/s (ok={verify['ok']}, {verify['seconds']} s, peak RSS "
        f"{verify['server_rss']['rss_peak_mib']} MiB); export {export['events_per_s']} events/s, "
        f"server RSS {export['server_rss']['rss_start_mib']} → peak "
        f"{export['server_rss']['rss_peak_mib']} MiB; restart-to-ready "
        f"{figures['restart_to_ready_s']} s ({figures['index_events_per_s']} events/s indexed)"
    )
    bc.say(f"written to {bc.RESULTS}")


if __name__ == "__main__":
    main()
