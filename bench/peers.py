"""The same tracked workload on syncjobs, Procrastinate and Celery 5 (status in PostgreSQL).

N no-op jobs are enqueued (each enqueue timed), then the system's workers are started as
subprocesses and stopped once PostgreSQL records all N as done. Throughput is read from
each system's OWN completion record in PostgreSQL:

- syncjobs: the ledger (``<prefix>jobs``: status ``completed``, ``completed_at``);
- Procrastinate: ``procrastinate_jobs.status = 'succeeded'`` and the ``succeeded`` rows of
  ``procrastinate_events``;
- Celery: ``celery_taskmeta`` (``status = 'SUCCESS'``, ``date_done``).

Celery's table has no start time, so for every system the rate is (N - 1) / (last finished
- first finished); where a start time exists (syncjobs, Procrastinate) the "first started ->
last finished" rate is saved as well. Workers, as alike as each model allows:

- syncjobs: ``dramatiq syncjobs.actors --processes 2 --threads 8`` (prefetch 2 per thread);
- Procrastinate: 2 worker processes x ``--concurrency 8`` (async no-op task; 10 pooled
  connections each; it has no prefetch: each slot fetches one job at a time);
- Celery: ``celery worker --pool prefork --concurrency 16`` (16 execution slots, as 2 x 8),
  prefetch multiplier 2 (as Dramatiq's 2 per thread), ``--without-gossip --without-mingle
  --without-heartbeat``, ``task_track_started`` (STARTED, then SUCCESS written: a status kept
  while the task runs, as the others do). Not ``--pool threads``: Celery's database backend
  only caches its engine in forked children, so in a threads pool every result write opens a
  new PostgreSQL connection (NullPool) and it ran at ~40-110 jobs/s here. Since 16 processes
  on 2 cores are not Celery's best either, the fastest setting found on this machine,
  ``--pool prefork --concurrency 2``, is measured too.

Each figure is the median of ROUNDS rounds; all systems share one Redis and one durable
PostgreSQL started for this run. Run: `.venv/bin/python bench/peers.py [N] [ROUNDS]`.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    aim,
    fresh,
    libpq,
    percentiles,
    processes,
    save,
    servers,
    timed,
    tracked_app,
    wait_for,
    worker,
)

PROCESSES, THREADS = 2, 8
SIDES = ("syncjobs", "procrastinate", "celery16", "celery2")
CELERY_SLOTS = {"celery16": PROCESSES * THREADS, "celery2": 2}
WORKERS = {
    "syncjobs": f"dramatiq syncjobs.actors --processes {PROCESSES} --threads {THREADS} "
    "(default prefetch: 2 per thread)",
    "procrastinate": f"{PROCESSES} x `procrastinate worker --concurrency {THREADS}` "
    "(async task, pool 10)",
    "celery16": f"celery worker --pool prefork --concurrency {PROCESSES * THREADS} "
    "--prefetch-multiplier 2, task_track_started",
    "celery2": "celery worker --pool prefork --concurrency 2 --prefetch-multiplier 2, "
    "task_track_started (its best setting here)",
}
LABELS = {
    "syncjobs": "syncjobs",
    "procrastinate": "Procrastinate",
    "celery16": "Celery prefork 16",
    "celery2": "Celery prefork 2",
}

Span = tuple[datetime | None, datetime | None, datetime | None, int]


def _rates(n: int, span: Span) -> dict[str, float | None]:
    first_start, first_end, last_end, done = span
    if done != n or first_end is None or last_end is None:
        raise RuntimeError(f"{done} of {n} jobs recorded as done")
    finish = (n - 1) / max((last_end - first_end).total_seconds(), 1e-6)
    start = n / max((last_end - first_start).total_seconds(), 1e-6) if first_start else None
    return {"finish_to_finish": finish, "start_to_finish": start}


def _done(conn: psycopg.Connection[Any], sql: str, n: int) -> Callable[[], bool]:
    def check() -> bool:
        row = conn.execute(sql).fetchone()
        assert row is not None
        done, failed = int(row[0]), int(row[1])
        if failed:
            raise RuntimeError(f"{failed} jobs failed")
        return done >= n

    return check


class Bench:
    """One Redis, one PostgreSQL, the three systems set up on them."""

    def __init__(self, redis_url: str, pg_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.conn = psycopg.connect(libpq(pg_url), autocommit=True)
        self.prefix = f"p{uuid.uuid4().hex[:8]}_"
        env, self.app = tracked_app(redis_url, pg_url, self.prefix)
        self.env = {
            **env,
            "BENCH_PG_DSN": libpq(pg_url),
            "BENCH_PG_URL": pg_url,
            "BENCH_REDIS_URL": redis_url,
        }
        os.environ.update(self.env)
        peer_procrastinate = fresh("bench.peer_procrastinate")
        peer_celery = fresh("bench.peer_celery")
        self.procrastinate = peer_procrastinate
        peer_procrastinate.app.open()
        peer_procrastinate.app.schema_manager.apply_schema()
        self.celery = peer_celery
        peer_celery.app.backend.ResultSession().close()  # creates celery_taskmeta once

    def close(self) -> None:
        self.app.close()
        self.procrastinate.app.close()
        self.conn.close()
        self.client.close()

    # -- one round of one system -----------------------------------------------------------
    def syncjobs(self, n: int) -> tuple[Span, list[float]]:
        self.client.flushall()
        jobs = f'"{self.prefix}jobs"'
        self.conn.execute(f"TRUNCATE {jobs}")
        owners = itertools.count()
        samples = timed(
            lambda: self.app.submit("syncjobs.noop", owner_id=f"owner-{next(owners) % 500}"), n
        )
        done = _done(
            self.conn,
            f"SELECT count(*) FILTER (WHERE status = 'completed'), "
            f"count(*) FILTER (WHERE status IN ('failed', 'dead')) FROM {jobs}",
            n,
        )
        with worker("syncjobs.actors", "syncjobs", self.env, PROCESSES, THREADS):
            wait_for(done, what="syncjobs jobs")
        row = self.conn.execute(
            f"SELECT min(started_at), min(completed_at), max(completed_at), "
            f"count(*) FROM {jobs} WHERE status = 'completed'"
        ).fetchone()
        assert row is not None
        return (row[0], row[1], row[2], row[3]), samples

    def procrastinate_round(self, n: int) -> tuple[Span, list[float]]:
        self.conn.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, "
            "procrastinate_workers RESTART IDENTITY CASCADE"
        )
        samples = timed(self.procrastinate.noop.defer, n)
        done = _done(
            self.conn,
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
            "count(*) FILTER (WHERE status = 'failed') FROM procrastinate_jobs",
            n,
        )
        command = [
            sys.executable,
            "-m",
            "procrastinate",
            "--app=bench.peer_procrastinate.app",
            "worker",
            "--queues=peers",
            f"--concurrency={THREADS}",
        ]
        with processes([command] * PROCESSES, self.env):
            wait_for(done, what="procrastinate jobs")
        row = self.conn.execute(
            "SELECT min(at) FILTER (WHERE type = 'started'), "
            "min(at) FILTER (WHERE type = 'succeeded'), max(at) FILTER (WHERE type = 'succeeded'),"
            " (SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded') "
            "FROM procrastinate_events"
        ).fetchone()
        assert row is not None
        return (row[0], row[1], row[2], row[3]), samples

    def celery_round(
        self, n: int, slots: int, track_started: bool = True
    ) -> tuple[Span, list[float]]:
        self.client.flushall()
        self.conn.execute("TRUNCATE celery_taskmeta")
        samples = timed(self.celery.noop.delay, n)
        done = _done(
            self.conn,
            "SELECT count(*) FILTER (WHERE status = 'SUCCESS'), "
            "count(*) FILTER (WHERE status = 'FAILURE') FROM celery_taskmeta",
            n,
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.peer_celery",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(slots),
            "--prefetch-multiplier",
            "2",
            "-Q",
            "peers",
            "-n",
            "peer@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ]
        env = {**self.env, "BENCH_CELERY_TRACK_STARTED": "1" if track_started else "0"}
        with processes([command], env):
            wait_for(done, what="celery tasks")
        row = self.conn.execute(
            "SELECT min(date_done), max(date_done), count(*) "
            "FROM celery_taskmeta WHERE status = 'SUCCESS'"
        ).fetchone()
        assert row is not None
        return (None, row[0], row[1], row[2]), samples

    def round(self, side: str, n: int) -> tuple[Span, list[float]]:
        if side == "syncjobs":
            return self.syncjobs(n)
        if side == "procrastinate":
            return self.procrastinate_round(n)
        return self.celery_round(n, CELERY_SLOTS[side])


def run(n: int = 3000, rounds: int = 3) -> dict[str, Any]:
    """Measure and return the figures."""
    finish: dict[str, list[float]] = {s: [] for s in SIDES}
    start: dict[str, list[float]] = {s: [] for s in SIDES}
    latency: dict[str, list[float]] = {s: [] for s in SIDES}
    with servers() as (redis_url, pg_url):
        bench = Bench(redis_url, pg_url)
        try:
            for r in range(rounds):
                for side in SIDES[r % len(SIDES) :] + SIDES[: r % len(SIDES)]:  # rotate the order
                    span, samples = bench.round(side, n)
                    rates = _rates(n, span)
                    finish[side].append(rates["finish_to_finish"] or 0.0)
                    if rates["start_to_finish"] is not None:
                        start[side].append(rates["start_to_finish"])
                    latency[side].extend(samples)
        finally:
            bench.close()
    systems: dict[str, Any] = {}
    for side in SIDES:
        systems[side] = {
            "workers": WORKERS[side],
            "jobs_per_s": round(statistics.median(finish[side])),
            "jobs_per_s_rounds": [round(x) for x in finish[side]],
            "start_to_finish_jobs_per_s": round(statistics.median(start[side]))
            if start[side]
            else None,
            "enqueue": percentiles(latency[side]),
        }
    ours = systems["syncjobs"]
    for side in SIDES:
        row = systems[side]
        row["syncjobs_over_this_jobs_per_s"] = round(ours["jobs_per_s"] / row["jobs_per_s"], 3)
        row["syncjobs_over_this_enqueue_p50"] = round(
            ours["enqueue"]["p50_ms"] / row["enqueue"]["p50_ms"], 2
        )
    return {
        "n": n,
        "rounds": rounds,
        "rate": "(N-1) / (last finished - first finished), "
        "from each system's own completion record in PostgreSQL",
        "systems": systems,
        "baseline_description": "Procrastinate and Celery (PostgreSQL result backend) running "
        "the same tracked no-op jobs on the same Redis and PostgreSQL",
        "aims": _aims(systems),
    }


def _aims(systems: dict[str, Any]) -> list[dict[str, Any]]:
    """Enqueue faster than Procrastinate; tracked jobs/s ahead of every peer."""
    ours = systems["syncjobs"]
    rows = [
        aim(
            "enqueue p50 latency",
            baseline_name=LABELS["procrastinate"],
            baseline=systems["procrastinate"]["enqueue"]["p50_ms"],
            value=ours["enqueue"]["p50_ms"],
            target=1.0,
            better="lower",
            unit="ms",
        )
    ]
    for side in SIDES[1:]:
        rows.append(
            aim(
                "tracked jobs/s",
                baseline_name=LABELS[side],
                baseline=systems[side]["jobs_per_s"],
                value=ours["jobs_per_s"],
                target=1.0,
                unit="jobs/s",
            )
        )
    return rows


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures as a table."""
    table = Table(
        "system",
        "jobs/s",
        "ours ÷ this",
        "enqueue p50 ms",
        "p99 ms",
        "ours ÷ this p50",
        title=f"peers: {result['n']} tracked no-op jobs, status in PostgreSQL "
        f"(median of {result['rounds']})",
        caption="jobs/s = (N-1)/(last - first finished), each system's own completion record "
        "in PostgreSQL. ours = syncjobs; ratio > 1: syncjobs faster (jobs/s) / slower "
        "(p50)",
    )
    for side, row in result["systems"].items():
        table.add_row(
            LABELS.get(side, side),
            str(row["jobs_per_s"]),
            f"{row['syncjobs_over_this_jobs_per_s']}x",
            str(row["enqueue"]["p50_ms"]),
            str(row["enqueue"]["p99_ms"]),
            f"{row['syncjobs_over_this_enqueue_p50']}x",
        )
    console.print(table)
    workers = Table("system", "workers", title="peers: worker configurations")
    for side, row in result["systems"].items():
        workers.add_row(LABELS.get(side, side), row["workers"])
    console.print(workers)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("peers", res)
    show(res, Console())
