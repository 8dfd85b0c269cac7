#!/usr/bin/env python3
"""Bulk queries: N queries as ``POST /queries/batch`` against the same N as single
``POST /queries``, in the same run, on the same server and population.

For each chain (embedded ``consent serve --block-period P`` and/or anvil):

1. setup, not measured: two departments; ``--residents`` residents enrol, commit a
   record and grant both departments;
2. twice ``--queries`` signed ``Access`` bodies by the first department, made in worker
   processes (consecutive nonces); a share ``--refused`` of them ask under the second
   department's consents (refused on chain, ``not_granted``), the rest under its own;
3. measured, one mode after the other: *singles*, the first N as single ``POST
   /queries``, ``--concurrency`` in flight at once (``--concurrency 1``: one after the
   other); *batch*, the other N as ``POST /queries/batch`` requests of up to 500 each,
   sent one after the other; ``--order batch-first`` swaps the modes;
4. check, the server stopped: the ``AccessLogged`` + ``AccessDenied`` events the ledger
   contract logged in each mode's blocks, counted on the chain itself, equal that mode's
   queries, and each answer is the expected one (200, or 403 ``not_granted``).

Reports queries/s from first send to last answer, latency, blocks used, and the ratio
batch/singles of queries/s; writes ``query_batch.<chain>`` in ``bench/results.json``.
Run by hand; no test asserts a time.

    python scripts/bench_query_batch.py --queries 500 --chain embedded
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

from benchlib.direct import count_events, open_ledger
from benchlib.load import Answer, Job, fire, status_counts, throughput
from benchlib.presign import access_item, presign, sign_bodies
from benchlib.processes import ResourceSampler, start_served
from benchlib.results import RESULTS, latency_summary, machine_info, say, write_results
from benchlib.scenario import QUERY_FIELDS
from benchlib.served import ServedLedger, grant_consents, grant_jobs, populate, sign_in_many

from api.http_bounds import MAX_QUERY_BATCH
from ledger.codec import to_hex
from ledger.vocabulary import name_to_bytes32


def outcome_of(status: int, document: Any) -> str:
    if status == 200:
        return "ok"
    if status == 403 and isinstance(document, dict):
        return str(document.get("reason") or document.get("error") or "403")
    return str(status)


def run(chain: str, args: argparse.Namespace) -> dict[str, Any]:
    say(f"\n== {args.queries} queries, batch vs single, on the {chain} chain ==")
    rng = random.Random(args.seed)
    workdir, anvil, server = start_served("query-batch", chain, args.block_period, args.workers)
    modes: dict[str, dict[str, Any]] = {}
    try:
        ledger = ServedLedger.connect(server)
        departments = ledger.register_departments(2)
        asking, other = departments
        registrar = ledger.grant_role("registrar")
        population, bundles = populate(
            ledger,
            departments,
            args.residents,
            registrar=registrar,
            grants_per_resident=2,
            concurrency=args.setup_concurrency,
            say=say,
        )
        consents = grant_consents(
            server.url, grant_jobs(bundles, population.tokens), args.setup_concurrency
        )
        own = [c for c in consents if c["department"] == asking.address]
        theirs = [c for c in consents if c["department"] == other.address]
        say(f"  granted {len(consents)} consents ({len(own)} to the asking department)")

        fields = sorted(to_hex(name_to_bytes32(f)) for f in QUERY_FIELDS)
        context = ledger.context()
        plan: list[tuple[dict[str, Any], str]] = []
        for _ in range(2 * args.queries):
            refused = rng.random() < args.refused
            plan.append((rng.choice(theirs), "not_granted") if refused else (rng.choice(own), "ok"))
        items = [
            access_item(
                asking.key, asking.address, consent, fields, nonce=n, deadline=context["deadline"]
            )
            for n, (consent, _) in enumerate(plan)
        ]
        bodies, presign_seconds = presign(sign_bodies, context, items)
        say(f"  pre-signed {len(bodies)} queries in {presign_seconds:.1f} s (worker processes)")
        token = sign_in_many(server.url, [asking.identity], 1)[asking.address]
        halves = {
            "singles": (bodies[: args.queries], plan[: args.queries]),
            "batch": (bodies[args.queries :], plan[args.queries :]),
        }
        order = ["batch", "singles"] if args.order == "batch-first" else ["singles", "batch"]
        for mode in order:
            sent, expected = halves[mode]
            if mode == "singles":
                jobs = [Job("POST", "/queries", b, token, tag=(i, 1)) for i, b in enumerate(sent)]
            else:
                starts = range(0, len(sent), MAX_QUERY_BATCH)
                jobs = [
                    Job(
                        "POST",
                        "/queries/batch",
                        b'{"queries":[' + b",".join(sent[i : i + MAX_QUERY_BATCH]) + b"]}",
                        token,
                        tag=(i, len(sent[i : i + MAX_QUERY_BATCH])),
                    )
                    for i in starts
                ]
            head_before = int(server.health()["block_number"])
            concurrency = args.concurrency if mode == "singles" else 1
            say(f"  {mode}: {len(sent)} queries in {len(jobs)} requests, {concurrency} at a time")
            with ResourceSampler(server.pid) as sampler:
                answers = fire(server.url, jobs, concurrency, keep_body=True, timeout=900)
            head_after = int(server.health()["block_number"])
            modes[mode] = summarise(mode, answers, expected, sampler.summary())
            modes[mode]["blocks_span"] = (head_before + 1, head_after)
    finally:
        server.stop()

    client = open_ledger(workdir / "data", anvil.url if anvil else None, args.block_period)
    try:
        for figures in modes.values():
            start, end = figures.pop("blocks_span")
            on_chain = count_events(client, ("AccessLogged", "AccessDenied"), start, end)
            figures["blocks"] = end - start + 1
            figures["on_chain_events"] = on_chain
            figures["on_chain_recorded_equals_queries"] = (
                on_chain["AccessLogged"] + on_chain["AccessDenied"] == figures["queries"]
            )
    finally:
        client.chain.close()
        if anvil is not None:
            anvil.stop()

    singles, batch = modes["singles"]["queries_per_s"], modes["batch"]["queries_per_s"]
    figures = {
        "chain": chain,
        "block_period_s": args.block_period if chain == "embedded" else "anvil automine",
        "queries_per_mode": args.queries,
        "refused_share_planned": args.refused,
        "fields_per_query": len(QUERY_FIELDS),
        "residents": args.residents,
        "singles_concurrency": args.concurrency,
        "order": order,
        "singles": modes["singles"],
        "batch": modes["batch"],
        "batch_over_singles_queries_per_s": round(batch / singles, 2) if singles else None,
    }
    for mode in order:
        f = modes[mode]
        say(
            f"  {mode:8s} {f['queries_per_s']:>8} queries/s over {f['span_s']} s,"
            f" {f['blocks']} blocks, outcomes {f['outcomes']}, unexpected"
            f" {f['unexpected_outcomes']}, on chain = queries:"
            f" {f['on_chain_recorded_equals_queries']}"
        )
    say(f"  batch/singles: {figures['batch_over_singles_queries_per_s']} times")
    return figures


def summarise(
    mode: str, answers: list[Answer], expected: list[tuple[dict[str, Any], str]], server: Any
) -> dict[str, Any]:
    """Each query's outcome against the plan, and the mode's throughput and latency."""
    outcomes: dict[str, int] = {}
    got: list[str] = []
    latencies: list[float] = []
    # Answered in the order they completed; each job's tag is (first query, queries).
    for answer in sorted(answers, key=lambda a: int(a.job.tag[0])):
        if mode == "singles":
            document = json.loads(answer.body) if answer.body else None
            got.append(outcome_of(answer.status, document))
            latencies.append(answer.latency)
            continue
        items = answer.json().get("answers", []) if answer.status == 200 else []
        got.extend(outcome_of(int(i["status"]), i) for i in items)
        if answer.status != 200:  # the whole request failed: each of its queries did
            got.extend([str(answer.status)] * int(answer.job.tag[1]))
        latencies.extend([answer.latency] * max(1, len(items)))
    got = got[: len(expected)]
    for outcome in got:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    wrong = sum(1 for g, (_, want) in zip(got, expected, strict=False) if g != want)
    per_s, span = throughput(answers)
    queries_per_s = len(expected) / span if span else None
    return {
        "queries": len(expected),
        "requests": len(answers),
        "status_counts": status_counts(answers),
        "outcomes": dict(sorted(outcomes.items())),
        "unexpected_outcomes": wrong + max(0, len(expected) - len(got)),
        "queries_per_s": round(queries_per_s, 1) if queries_per_s else None,
        "requests_per_s": round(per_s, 2),
        "span_s": round(span, 2),
        "latency_per_query": latency_summary(latencies),
        "server": server,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=500, help="per mode")
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--refused", type=float, default=0.1, help="share of refused queries")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="singles in flight (1: one after another)"
    )
    parser.add_argument(
        "--order", choices=("singles-first", "batch-first"), default="singles-first"
    )
    parser.add_argument("--chain", choices=("embedded", "anvil", "both"), default="embedded")
    parser.add_argument("--block-period", type=float, default=1.0, help="embedded chain")
    parser.add_argument(
        "--workers", type=int, default=1, help="consent serve --workers (HTTP processes)"
    )
    parser.add_argument("--setup-concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    chains = ("embedded", "anvil") if args.chain == "both" else (args.chain,)
    machine = machine_info()
    for chain in chains:
        figures = run(chain, args)
        write_results("query_batch", {**figures, **machine}, sub=chain)
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
