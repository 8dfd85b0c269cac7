"""The load generator: pre-signed requests fired by many concurrent clients at once.

A load tool, not an API client: it sends bodies that were signed beforehand
(:mod:`benchlib.presign`, by the wallet's own code) and measures each request from send
to answer; it signs, hashes and encodes nothing. The project's client
(``api.client.ConsentApi``) cannot make this load: it is synchronous, one request at a
time per client, signs each intent as it sends it (a nonce and the chain time fetched
first), and waits for the relayer's answer before the next call — so a few hundred
writes in flight would need a few hundred threads, and on httpx the client side
saturates its own core near 30-60 requests/s and then measures itself. aiohttp on one
asyncio loop keeps 512 requests in flight near idle, so the server stays the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    method: str
    path: str
    body: bytes | None = None
    token: str | None = None
    tag: Any = None


@dataclass
class Answer:
    job: Job
    status: int
    sent: float
    done: float
    body: bytes = b""
    error: str | None = None
    #: Sent again after a transport error (setup only): a 409 then means the first
    #: attempt went through after all.
    retried: bool = False

    @property
    def latency(self) -> float:
        return self.done - self.sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


async def _fire(
    url: str,
    lanes: Sequence[Iterable[Job]],
    *,
    connections: int,
    keep_body: bool,
    timeout: float,
    retries: int = 0,
) -> list[Answer]:
    # aiohttp, not httpx: httpx's connection pool costs grow with the number of open
    # connections, and at a few hundred the client, not the server, was the bottleneck
    # (100% CPU in the client while the server idled).
    import aiohttp

    answers: list[Answer] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        base_url=url, connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as client:

        async def lane(jobs: Iterable[Job]) -> None:
            for job in jobs:
                headers = {"Content-Type": "application/json"}
                if job.token:
                    headers["Authorization"] = f"Bearer {job.token}"
                for attempt in range(retries + 1):
                    sent = time.perf_counter()
                    try:
                        async with client.request(
                            job.method, job.path, data=job.body, headers=headers
                        ) as response:
                            status = response.status
                            body = await response.read()
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        transport = isinstance(exc, aiohttp.ClientConnectionError)
                        if attempt < retries and transport:
                            continue
                        answers.append(
                            Answer(job, -1, sent, time.perf_counter(), error=type(exc).__name__)
                        )
                        break
                    keep = keep_body or status >= 300
                    answers.append(
                        Answer(
                            job,
                            status,
                            sent,
                            time.perf_counter(),
                            body if keep else b"",
                            retried=attempt > 0,
                        )
                    )
                    break

        await asyncio.gather(*(lane(jobs) for jobs in lanes))
    return answers


def fire(
    url: str,
    jobs: Sequence[Job],
    concurrency: int,
    *,
    keep_body: bool = False,
    timeout: float = 300,
    retries: int = 0,
) -> list[Answer]:
    """Send ``jobs`` with ``concurrency`` clients, each taking the next job as soon as its
    previous one is answered; one :class:`Answer` per job (latency = send → answer).
    ``retries``: resend after a transport error (for setup; measured runs use 0)."""
    shared = iter(jobs)  # one asyncio thread: the lanes take turns on one iterator
    return asyncio.run(
        _fire(
            url,
            [shared] * max(1, min(concurrency, len(jobs))),
            connections=concurrency,
            keep_body=keep_body,
            timeout=timeout,
            retries=retries,
        )
    )


def setup_fire(
    url: str, jobs: Sequence[Job], concurrency: int, what: str, *, keep_body: bool = False
) -> list[Answer]:
    """:func:`fire` for setup: transport errors are retried, a retried job answering 409
    counts as done (its first attempt went through), anything else non-2xx raises."""
    answers = fire(url, jobs, concurrency, keep_body=keep_body, retries=3)
    require_ok([a for a in answers if not (a.retried and a.status == 409)], what)
    return answers


def fire_lanes(
    url: str, lanes: Sequence[Sequence[Job]], *, keep_body: bool = False, timeout: float = 300
) -> list[Answer]:
    """One client per lane, each sending its own jobs one after another."""
    return asyncio.run(
        _fire(url, lanes, connections=len(lanes), keep_body=keep_body, timeout=timeout)
    )


def throughput(answers: Sequence[Answer]) -> tuple[float, float]:
    """``(per second, span seconds)`` from the first send to the last answer."""
    if not answers:
        return 0.0, 0.0
    span = max(a.done for a in answers) - min(a.sent for a in answers)
    return (len(answers) / span if span > 0 else math.inf), span


def require_ok(answers: Sequence[Answer], what: str, *, allowed: Iterable[int] = ()) -> None:
    """Raise with the first problem if any answer is neither 2xx nor in ``allowed``."""
    allowed = set(allowed)
    bad = [a for a in answers if not a.ok and a.status not in allowed]
    if bad:
        first = bad[0]
        raise RuntimeError(
            f"{what}: {len(bad)} of {len(answers)} failed; first: {first.status} "
            f"{first.error or first.body[:400]!r}"
        )


def status_counts(answers: Iterable[Answer]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in answers:
        key = str(a.status) if a.status >= 0 else f"error:{a.error}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
