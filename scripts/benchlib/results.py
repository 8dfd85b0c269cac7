"""Where a figure comes from and where it goes: the machine, the commit and the command
(:func:`machine_info`), ``bench/results.json`` (:func:`write_results`), and the latency
statistics every benchmark reports."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results.json"


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------- provenance


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mib() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def command_line() -> str:
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def machine_info() -> dict[str, Any]:
    """Where and when a figure was measured, and by which command."""
    load = os.getloadavg()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mib": _mem_total_mib(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "host": platform.node(),
        "load_avg_1m_at_start": round(load[0], 2),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command_line(),
    }


def write_results(section: str, figures: Mapping[str, Any], *, sub: str | None = None) -> Path:
    """Merge ``figures`` into ``bench/results.json`` under ``section`` (or
    ``section.sub``, keeping the section's other subsections), under a file lock."""
    RESULTS.parent.mkdir(exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        if sub is None:
            results[section] = dict(figures)
        else:
            current = results.get(section)
            if not isinstance(current, dict) or "measured_at" in current:
                current = {}  # an older flat section: replace it
            current[sub] = dict(figures)
            results[section] = current
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, RESULTS)
    with contextlib.suppress(OSError):
        RESULTS.with_suffix(".lock").unlink()
    return RESULTS


def file_mib(path: Path) -> float | None:
    """Size of a file plus its SQLite WAL, if any, in MiB."""
    total = 0
    for candidate in (path, Path(str(path) + "-wal")):
        with contextlib.suppress(OSError):
            total += candidate.stat().st_size
    return round(total / 2**20, 1) if total else None


# ---------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, p50, p90, p99 and max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p90_ms": round(percentile(ms, 90), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
    }
