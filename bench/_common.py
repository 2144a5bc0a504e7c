"""Shared pieces of the benchmarks: servers, worker processes, timing, the results file."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from syncjobs.testing.services import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """Real Redis and durable PostgreSQL (fsync on) on loopback ports, or SYNCJOBS_TEST_*_URL."""
    r_url, pg_url = os.environ.get("SYNCJOBS_TEST_REDIS_URL"), os.environ.get(
        "SYNCJOBS_TEST_POSTGRES_URL"
    )
    with RedisServer() if r_url is None else _nothing() as r, (
        PostgresServer(durable=True) if pg_url is None else _nothing()
    ) as pg:
        yield (r_url or r.url), (pg_url or pg.url)


@contextmanager
def _nothing() -> Iterator[Any]:
    yield None


@contextmanager
def worker(module: str, queue: str, env: dict[str, str], processes: int = 2, threads: int = 8
           ) -> Iterator[subprocess.Popen[bytes]]:
    """A `dramatiq MODULE` worker with the given flags, stopped at exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", module, "--processes", str(processes),
         "--threads", str(threads), "--queues", queue],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def outstanding(client: redis.Redis, queue: str) -> int:
    """Messages still queued or fetched-but-unacknowledged on a Dramatiq Redis queue."""
    total = int(client.llen(f"dramatiq:{queue}"))
    for key in client.scan_iter(match=f"dramatiq:__acks__.*.{queue}"):
        total += int(client.scard(key))
    return total


def drain_rate(client: redis.Redis, queue: str, n: int, timeout: float = 300) -> float:
    """Messages per second from the first one taken to the last one acknowledged."""
    deadline = time.monotonic() + timeout
    start = None
    while True:
        left = outstanding(client, queue)
        now = time.monotonic()
        if start is None and client.llen(f"dramatiq:{queue}") < n:
            start = now
        if left == 0 and start is not None:
            return n / max(now - start, 1e-6)
        if now > deadline:
            raise TimeoutError(f"{left} messages of {queue} still outstanding")
        time.sleep(0.005)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
    }


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Call ``fn`` n times; return each call's seconds."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def save(section: str, data: dict[str, Any]) -> None:
    """Merge one benchmark's figures into bench/results/latest.json."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current[section] = data
    RESULTS.write_text(json.dumps(current, indent=2) + "\n")
