#!/usr/bin/env python3
"""``verify`` in process on a data directory ``bench_audit.py`` left (server stopped):
events/s and the process's peak RSS, so two versions of the audit can be compared on
one log. ``--window-blocks``/``--workers`` as ``CONSENT_AUDIT_WINDOW_BLOCKS``/
``CONSENT_AUDIT_WORKERS``; ``--profile`` prints cProfile's top functions.

    python scripts/bench_audit_verify.py /tmp/bench-audit-embedded-XXXX/data
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import pstats
import resource
import time
from pathlib import Path
from typing import Any

from benchlib.direct import open_ledger

from ledger.audit import verify
from ledger.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--window-blocks", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    client = open_ledger(args.data, None, 0)
    store = Store(f"sqlite:///{args.data / 'consent.sqlite3'}")
    head = client.chain.head_number()
    options: dict[str, Any] = {}
    accepted = inspect.signature(verify).parameters  # an older verify takes neither
    if args.window_blocks is not None and "window_blocks" in accepted:
        options["window_blocks"] = args.window_blocks
    if args.workers is not None and "workers" in accepted:
        options["workers"] = args.workers
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    profile = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    report = verify(client, store, to_block=head, **options)
    if profile:
        profile.disable()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ok={report.ok} events={report.events} signatures={report.signatures_verified}"
        f" problems={len(report.problems)} {seconds:.1f} s = {report.events / seconds:.0f}"
        f" events/s; peak RSS {before:.0f} -> {peak:.0f} MiB ({options or 'defaults'})"
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    client.chain.close()


if __name__ == "__main__":
    main()
