#!/usr/bin/env python3
"""Query throughput and latency: C departments querying concurrently, some refused.

For each chain (embedded ``consent serve --block-period P`` and/or anvil):

1. setup, not measured: ``--concurrency`` departments; residents (made in worker
   processes) enrol, commit a record and grant ``--consents`` consents spread over the
   departments, through HTTP; ``--refused``/2 of the consents are then revoked;
2. ``--queries`` signed ``Access`` bodies are made in worker processes: a share
   ``--refused`` of them will be refused on chain — half under a revoked consent
   (``revoked``), half under another department's consent (``not_granted``) — the rest
   are under valid consents;
3. measured: each department is one HTTP client sending its own queries one after the
   other, all departments at once; latency is send → answer (200 or 403);
4. the raw batched ceiling, the server stopped: ``--raw`` more queries of the same mix
   through ``LedgerClient.submit`` — the relayer's own batch transactions, no HTTP, as
   many per block as the gas allows (embedded: block period 0);
5. check, the server stopped: the ``AccessLogged`` + ``AccessDenied`` events the ledger
   contract logged during the run, counted on the chain itself, equal the queries
   answered, and each answer is the expected one.

Writes ``queries.<chain>`` in ``bench/results.json``.

    python scripts/bench_queries.py --consents 1000 --concurrency 16 --refused 0.1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import time
from typing import Any

from benchlib.direct import consent_terms, count_events, open_ledger
from benchlib.load import Job, fire_lanes, setup_fire, status_counts, throughput
from benchlib.presign import access_item, presign, sign_bodies
from benchlib.processes import ResourceSampler, start_served
from benchlib.profiler import Profiler
from benchlib.results import RESULTS, latency_summary, machine_info, say, write_results
from benchlib.scenario import QUERY_FIELDS
from benchlib.served import ServedLedger, grant_consents, grant_jobs, populate, sign_in_many

from ledger.client import LedgerClient
from ledger.codec import from_hex, to_hex
from ledger.types import SignedIntent
from ledger.vocabulary import name_to_bytes32
from wallets.signing import normalize_message


def run(chain: str, args: argparse.Namespace) -> dict[str, Any]:
    say(f"\n== queries on the {chain} chain ==")
    rng = random.Random(args.seed)
    workdir, anvil, server = start_served("queries", chain, args.block_period, args.workers)
    try:
        ledger = ServedLedger.connect(server)
        departments = ledger.register_departments(args.concurrency)
        registrar = ledger.grant_role("registrar")
        per_resident = min(args.grants_per_resident, len(departments))
        residents = -(-args.consents // per_resident)
        population, bundles = populate(
            ledger,
            departments,
            residents,
            registrar=registrar,
            grants_per_resident=per_resident,
            concurrency=args.setup_concurrency,
        )
        jobs = grant_jobs(bundles, population.tokens)[: args.consents]
        consents = grant_consents(server.url, jobs, args.setup_concurrency)
        say(f"  granted {len(consents)} consents")
        keys = {b["address"]: b["key"] for b in bundles}
        next_nonce = {b["address"]: 1 + len(b["grants"]) for b in bundles}
        revoked_count = round(len(consents) * args.refused / 2)
        to_revoke = rng.sample(consents, revoked_count)
        context = ledger.context()
        items = []
        for consent in to_revoke:
            message = {
                "resident": consent["resident"],
                "consentId": consent["id"],
                "nonce": next_nonce[consent["resident"]],
                "deadline": context["deadline"],
            }
            next_nonce[consent["resident"]] += 1
            items.append((keys[consent["resident"]], "Revoke", message))
        bodies, _ = presign(sign_bodies, context, items)
        setup_fire(
            server.url,
            [
                Job(
                    "POST",
                    f"/consents/{c['id']}/revoke",
                    body,
                    population.tokens[c["resident"]],
                )
                for c, body in zip(to_revoke, bodies, strict=True)
            ],
            args.setup_concurrency,
            "revoking",
        )
        revoked_ids = {c["id"] for c in to_revoke}
        say(f"  revoked {len(revoked_ids)} consents")

        # The queries: each department queries its own consents; a share is refused.
        by_department: dict[str, list[dict[str, Any]]] = {d.address: [] for d in departments}
        for consent in consents:
            if consent["id"] not in revoked_ids:
                by_department[consent["department"]].append(consent)
        revoked_of: dict[str, list[dict[str, Any]]] = {d.address: [] for d in departments}
        for consent in to_revoke:
            revoked_of[consent["department"]].append(consent)
        valid = [c for c in consents if c["id"] not in revoked_ids]
        dept_key = {d.address: d.key for d in departments}
        fields = sorted(to_hex(name_to_bytes32(f)) for f in QUERY_FIELDS)
        plan: list[tuple[str, dict[str, Any], str]] = []  # (department, consent, expected)
        # --raw more, held back from the API run for the raw batched ceiling (below).
        for i in range(args.queries + args.raw):
            dept = departments[i % len(departments)].address
            roll = rng.random()
            if roll < args.refused / 2 and revoked_of[dept]:
                plan.append((dept, rng.choice(revoked_of[dept]), "revoked"))
            elif roll < args.refused:
                others = [c for c in valid if c["department"] != dept]
                plan.append((dept, rng.choice(others), "not_granted"))
            else:
                plan.append((dept, rng.choice(by_department[dept]), "ok"))
        dept_nonce = dict.fromkeys(dept_key, 0)
        items = []
        for dept, consent, _ in plan:
            items.append(
                access_item(
                    dept_key[dept],
                    dept,
                    consent,
                    fields,
                    nonce=dept_nonce[dept],
                    deadline=context["deadline"],
                )
            )
            dept_nonce[dept] += 1
        bodies, presign_seconds = presign(sign_bodies, context, items)
        say(f"  pre-signed {len(bodies)} queries in {presign_seconds:.1f} s (worker processes)")
        raw_bodies = bodies[args.queries :]
        bodies, plan = bodies[: args.queries], plan[: args.queries]
        dept_tokens = sign_in_many(server.url, [d.identity for d in departments])
        lanes: dict[str, list[Job]] = {d.address: [] for d in departments}
        for (dept, consent, expected), body in zip(plan, bodies, strict=True):
            lanes[dept].append(
                Job("POST", "/queries", body, dept_tokens[dept], tag=(expected, consent["id"]))
            )
        head_before = int(server.health()["block_number"])
        say(f"  firing {len(plan)} queries from {len(lanes)} departments at once")
        profiler = (
            Profiler(
                server.pid,
                workdir / f"profile-{chain}.txt",
                gil=args.profile == "gil",
                idle=args.profile == "idle",
            )
            if args.profile
            else contextlib.nullcontext()
        )
        with profiler, ResourceSampler(server.pid) as sampler:
            answers = fire_lanes(server.url, list(lanes.values()), keep_body=True)
        head_after = int(server.health()["block_number"])
    finally:
        server.stop()

    # Block period 0: the raw batch below is the chain's own speed.
    client = open_ledger(workdir / "data", anvil.url if anvil else None, 0)
    try:
        head = int(client.chain.w3.eth.block_number)
        on_chain = count_events(client, ("AccessLogged", "AccessDenied"), head_before + 1, head)
        raw = raw_batched(client, raw_bodies) if raw_bodies else None
    finally:
        client.chain.close()
        if anvil is not None:
            anvil.stop()

    outcomes: dict[str, int] = {}
    wrong = 0
    for answer in answers:
        expected = answer.job.tag[0]
        if answer.status == 200:
            got = "ok"
        elif answer.status == 403:
            got = json.loads(answer.body).get("reason") or "403"
        else:
            got = f"{answer.status}"
        outcomes[got] = outcomes.get(got, 0) + 1
        wrong += got != expected
    answered = [a for a in answers if a.status in (200, 403)]
    served = [a for a in answers if a.status == 200]
    _, span = throughput(answers)
    recorded = on_chain["AccessLogged"] + on_chain["AccessDenied"]
    figures: dict[str, Any] = {
        "chain": chain,
        "block_period_s": args.block_period if chain == "embedded" else "anvil automine",
        "workers": args.workers,
        "departments": len(departments),
        "consents": len(consents),
        "revoked_consents": len(revoked_ids),
        "queries": len(answers),
        "refused_share_planned": args.refused,
        "fields_per_query": len(QUERY_FIELDS),
        "outcomes": dict(sorted(outcomes.items())),
        "unexpected_outcomes": wrong,
        "status_counts": status_counts(answers),
        "answered_per_s": round(len(answered) / span, 1) if span else None,
        "served_per_s": round(len(served) / span, 1) if span else None,
        "span_s": round(span, 2),
        "latency_answered": latency_summary([a.latency for a in answered]),
        "latency_served": latency_summary([a.latency for a in served]),
        "blocks": head_after - head_before,
        "on_chain_events": on_chain,
        "on_chain_recorded_equals_answered": recorded == len(answered),
        "server": sampler.summary(),
        # The whole served tree (workers, and on the embedded chain the EVM process).
        "server_cpu_ms_per_query": sampler.cpu_ms_per(len(answered)),
        "setup_s": round(population.setup_seconds, 1),
    }
    if raw is not None:
        figures["raw_batched"] = raw
        if figures["answered_per_s"]:
            figures["ratio_api_over_raw_batched"] = round(
                figures["answered_per_s"] / raw["answered_per_s"], 2
            )
    if isinstance(profiler, Profiler):
        figures["profile"] = {**profiler.top(), "file": str(profiler.path)}
    latency = figures["latency_answered"]
    say(
        f"  {len(answered)}/{len(answers)} answered ({outcomes}), {figures['answered_per_s']} "
        f"recorded accesses/s, p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms; "
        f"on chain {on_chain} -> equal to answered: {figures['on_chain_recorded_equals_answered']}"
        f"; server CPU {figures['server_cpu_ms_per_query']} ms per query"
    )
    if raw is not None:
        say(
            f"  raw batched (the relayer's batch transactions, no HTTP, block period 0): "
            f"{raw['answered_per_s']} recorded accesses/s over {raw['queries']} queries in "
            f"{raw['blocks']} blocks; API/raw {figures.get('ratio_api_over_raw_batched')}"
        )
    return figures


def raw_batched(client: LedgerClient, bodies: list[bytes]) -> dict[str, Any]:
    """The relayer's own batch transactions, no HTTP: ``LedgerClient.submit`` (the
    relayer's encoder, signer and outcome decoding) over all the queries at once, so the
    chain takes as many per block as its gas allows — the chain's ceiling for accesses.
    Each carries its consent's terms from the chain, as the API's read model gives them."""
    parsed = [json.loads(body) for body in bodies]
    messages = [normalize_message("Access", b["message"]) for b in parsed]
    terms = consent_terms(client, {int(m["consentId"]) for m in messages})
    intents = [
        SignedIntent(
            "Access", m, from_hex(b["signature"], what="signature"), terms[int(m["consentId"])]
        )
        for m, b in zip(messages, parsed, strict=True)
    ]
    head = client.chain.head_number()
    started = time.perf_counter()
    outcomes = client.submit(intents)
    elapsed = time.perf_counter() - started
    names = [outcome.unwrap().name for outcome in outcomes]  # raises for a rejected intent
    return {
        "queries": len(intents),
        "served": names.count("AccessLogged"),
        "refused": names.count("AccessDenied"),
        "blocks": client.chain.head_number() - head,
        "seconds": round(elapsed, 2),
        "answered_per_s": round(len(intents) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="departments, all querying")
    parser.add_argument("--refused", type=float, default=0.1, help="share of refused queries")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--raw", type=int, default=1000, help="more queries for the raw batched ceiling"
    )
    parser.add_argument("--chain", choices=("embedded", "anvil", "both"), default="both")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument(
        "--workers", type=int, default=1, help="consent serve --workers (HTTP processes)"
    )
    parser.add_argument(
        "--grants-per-resident",
        type=int,
        default=16,
        help="setup: each resident grants this many departments (fewer residents to enrol)",
    )
    parser.add_argument("--setup-concurrency", type=int, default=128)
    parser.add_argument(
        "--profile",
        choices=("gil", "all", "idle"),
        help="py-spy the server while the queries run (written as queries_profiled)",
    )
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    chains = ("embedded", "anvil") if args.chain == "both" else (args.chain,)
    machine = machine_info()
    summaries = {}
    for chain in chains:
        figures = run(chain, args)
        summaries[chain] = figures
        write_results(
            "queries_profiled" if args.profile else "queries", {**figures, **machine}, sub=chain
        )
    say("\nsummary (queries):")
    for chain, f in summaries.items():
        latency = f["latency_answered"]
        say(
            f"  {chain:9s} {f['answered_per_s']:>8} recorded accesses/s "
            f"({f['served_per_s']} served)  p50 {latency.get('p50_ms')} ms  "
            f"p99 {latency.get('p99_ms')} ms  on chain = answered: "
            f"{f['on_chain_recorded_equals_answered']}"
        )
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
