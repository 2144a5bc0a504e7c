"""Shared pieces of the benchmarks: servers, worker processes, timing, the results file."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import redis
from tests.servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """Real Redis and durable PostgreSQL (fsync on) on loopback ports, or SYNCJOBS_TEST_*_URL."""
    r_url, pg_url = (
        os.environ.get("SYNCJOBS_TEST_REDIS_URL"),
        os.environ.get("SYNCJOBS_TEST_POSTGRES_URL"),
    )
    with (
        RedisServer() if r_url is None else _nothing() as r,
        PostgresServer(durable=True) if pg_url is None else _nothing() as pg,
    ):
        yield (r_url or r.url), (pg_url or pg.url)


@contextmanager
def _nothing() -> Iterator[Any]:
    yield None


@contextmanager
def worker(
    module: str, queue: str, env: dict[str, str], processes: int = 2, threads: int = 8
) -> Iterator[subprocess.Popen[bytes]]:
    """A `dramatiq MODULE` worker with the given flags, stopped at exit."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            module,
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            queue,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def libpq(url: str) -> str:
    """The libpq (psycopg) form of a SQLAlchemy PostgreSQL URL."""
    return "postgresql://" + url.split("://", 1)[1]


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def processes(
    commands: Sequence[Sequence[str]], env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start each command in its own session (cwd = the checkout); SIGTERM them all at exit.

    Their output goes to temporary log files; the tail of each is printed when the body
    raises (a worker that did not start, a run that timed out).
    """
    with ExitStack() as stack:
        logs: list[IO[bytes]] = []
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for command in commands:
                log = stack.enter_context(tempfile.TemporaryFile())
                logs.append(log)
                procs.append(
                    subprocess.Popen(
                        list(command),
                        cwd=ROOT,
                        env={**os.environ, **env},
                        start_new_session=True,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            yield procs
        except BaseException:
            for command, log in zip(commands, logs, strict=False):
                log.seek(0)
                tail = log.read().decode(errors="replace").splitlines()[-20:]
                print(f"--- {' '.join(command[:6])} …\n" + "\n".join(tail), file=sys.stderr)
            raise
        finally:
            for proc in procs:
                _stop(proc)


def wait_for(
    check: Callable[[], bool], timeout: float = 300, what: str = "condition", interval: float = 0.05
) -> None:
    """Poll ``check`` until it returns true; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def maxrss_mib() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) in MiB.

    Beware: Linux carries ru_maxrss across fork and execve, so a child started by a big
    process reports at least its parent's peak at the fork. See ``peak_rss_mib``.
    """
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def peak_rss_mib() -> float:
    """This process image's own peak resident set size (``VmHWM``), in MiB.

    VmHWM is the high-water mark of the current address space, which execve replaces, so it
    is not inherited from the parent as ru_maxrss is. Falls back to ru_maxrss without /proc.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return maxrss_mib()


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


def aim(
    figure: str,
    *,
    baseline_name: str,
    baseline: float,
    value: float,
    target: float,
    better: str = "higher",
    unit: str = "",
) -> dict[str, Any]:
    """One aim row: ``value / baseline`` against ``target``; ``better`` says which way wins.

    ``better="higher"``: met when ratio ≥ target (e.g. throughput ≥ 0.6x bare Dramatiq).
    ``better="lower"``: met when ratio ≤ target (e.g. latency ≤ 1.5x the physical limit).
    Benchmarks put a list of these under the result key ``"aims"``; ``bench/run.py`` prints
    them and writes them to ``bench/results/latest.md``.
    """
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    ratio = value / baseline if baseline else float("inf")
    met = ratio >= target if better == "higher" else ratio <= target
    sign = "≥" if better == "higher" else "≤"
    return {
        "figure": figure,
        "baseline_name": baseline_name,
        "baseline": round(baseline, 4),
        "value": round(value, 4),
        "unit": unit,
        "ratio": round(ratio, 3),
        "aim": f"{sign} {target:g}x",
        "met": met,
    }


def tracked_app(redis_url: str, pg_url: str, prefix: str) -> tuple[dict[str, str], Any]:
    """The environment of a tracked no-op benchmark (also set here) and its app, schema made.

    Tables get ``prefix``; the per-owner active-job limit is lifted so that queueing a
    round's jobs up front is never refused.
    """
    env = {
        "SYNCJOBS_BROKER_URL": redis_url,
        "SYNCJOBS_DATABASE_URL": pg_url,
        "SYNCJOBS_TABLE_PREFIX": prefix,
        "SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER": "1000000",
    }
    os.environ.update(env)
    from syncjobs import builtin_jobs  # noqa: F401
    from syncjobs.factory import create_app
    from syncjobs.settings import Settings
    from syncjobs.storage.sql import SQLAlchemyRepository

    SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False).upgrade()
    return env, create_app(Settings())


def fresh(name: str) -> Any:
    """Import the module ``name`` anew: a bare or peer module binds the servers named in the
    environment when it loads, and an earlier benchmark of the same run may have loaded it."""
    import importlib

    return importlib.reload(importlib.import_module(name))
