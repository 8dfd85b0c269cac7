"""py-spy of a served process: where its samples went, by function and by category."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


class Profiler:
    """``py-spy record`` of a pid (all threads, idle frames excluded) into collapsed
    stacks; :meth:`top` names the functions with the largest shares of the samples.
    A no-op (``available`` False) when py-spy is not installed."""

    def __init__(
        self, pid: int, path: Path, rate: int = 100, *, gil: bool = True, idle: bool = False
    ) -> None:
        self.pid = pid
        #: Also sample threads that are waiting (on I/O, a lock, a socket).
        self.idle = idle
        self.path = Path(path)
        self.rate = rate
        #: Only samples of the thread holding the GIL: where the CPU goes (else every
        #: non-idle thread, including those waiting on a lock).
        self.gil = gil
        self.process: subprocess.Popen[bytes] | None = None
        binary = Path(sys.executable).parent / "py-spy"
        self.binary = str(binary) if binary.exists() else None

    @property
    def available(self) -> bool:
        return self.binary is not None

    def __enter__(self) -> Profiler:
        if self.binary is not None:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "record",
                    "--pid",
                    str(self.pid),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--threads",
                    "--nonblocking",
                    # `consent serve --workers N`: the workers and the chain process too.
                    "--subprocesses",
                    *(["--gil"] if self.gil else []),
                    *(["--idle"] if self.idle else []),
                    "--output",
                    str(self.path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=self.path.with_suffix(".log").open("wb"),
            )
            time.sleep(1.0)  # let it attach before the measured work starts
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def top(self, limit: int = 15) -> dict[str, Any]:
        """``{"samples", "inclusive": [(function, share)], "self": [...], "threads": ...}``.

        Inclusive: share of samples whose stack contains the function (counted once per
        stack); self: share where it is the innermost frame."""
        if not self.path.exists():
            return {}
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        threads: dict[str, int] = {}
        total = 0
        for thread, frames, count in self._samples():
            # "thread (1234): AnyIO worker thread" -> "AnyIO worker thread"
            thread = thread.split("): ", 1)[1] if "): " in thread else thread
            threads[thread] = threads.get(thread, 0) + count
            total += count
            for name in {_short(f) for f in frames}:
                inclusive[name] = inclusive.get(name, 0) + count
            if frames:
                leaf = _short(frames[-1])
                own[leaf] = own.get(leaf, 0) + count

        def ranked(table: dict[str, int]) -> list[tuple[str, float]]:
            best = sorted(table.items(), key=lambda kv: -kv[1])[:limit]
            return [(name, round(count / total, 3)) for name, count in best]

        return {
            "mode": "gil (CPU)"
            if self.gil
            else ("all threads, waiting ones too" if self.idle else "all active threads"),
            "samples": total,
            "inclusive": ranked(inclusive),
            "self": ranked(own),
            "threads": ranked(threads),
        }

    def breakdown(self, categories: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, float]]:
        """Share of samples per category: each stack goes to the first category one of
        whose substrings occurs in it (outermost frames first), else to "other"."""
        if not self.path.exists():
            return []
        counts: dict[str, int] = {}
        total = 0
        for _, frames, count in self._samples():
            total += count
            joined = ";".join(_short(f) for f in frames)
            label = next(
                (name for name, keys in categories if any(k in joined for k in keys)), "other"
            )
            counts[label] = counts.get(label, 0) + count
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        return [(name, round(count / total, 3)) for name, count in ranked] if total else []

    def _samples(self) -> Iterator[tuple[str, list[str], int]]:
        """``(thread, frames outermost first, count)`` of each line py-spy recorded."""
        for line in self.path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if stack and count_text.isdigit():
                thread, *frames = stack.split(";")
                yield thread, frames, int(count_text)


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` → ``func (module.py)``; site-packages paths trimmed."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
