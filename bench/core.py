"""Tracked no-op jobs vs bare Dramatiq on the same Redis, and submit vs its physical limit.

Both sides: `dramatiq MODULE --processes 2 --threads 8`, default prefetch, the same Redis.
The tracked side also writes the ledger on durable PostgreSQL (insert at submit; processing
and the terminal state in the worker, whose terminal writes are group-committed).

`submit` is one durable ledger insert plus one broker send, so its physical limit is measured
in the same run: a bare psycopg durable single-row INSERT (autocommit, prepared) p50 plus a
bare Dramatiq `send` p50. The three are timed interleaved (insert, send, submit, insert, …) so
that a noisy machine slows them alike; Procrastinate's `defer` (one durable INSERT, its whole
enqueue) is timed beside them. Each figure is the median over ROUNDS rounds of this one run.
Run: `make bench` or `.venv/bin/python bench/core.py [N] [ROUNDS]`.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from bench._common import (
    aim,
    drain_rate,
    fresh,
    libpq,
    percentiles,
    save,
    servers,
    tracked_app,
    worker,
)

#: Latency samples of each kind per round.
LATENCY_SAMPLES = 1000
THROUGHPUT_AIM, SUBMIT_AIM = 0.6, 1.5


def _interleaved(calls: dict[str, Callable[[], Any]], n: int) -> dict[str, list[float]]:
    """Time each call ``n`` times, taking turns; each call's seconds."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            out[name].append(time.perf_counter() - t)
    return out


def _procrastinate(pg_url: str) -> Any:
    """The Procrastinate app of a no-op task on this PostgreSQL, open (its schema applied once)."""
    os.environ["BENCH_PG_DSN"] = libpq(pg_url)
    peer_procrastinate = fresh("bench.peer_procrastinate")
    peer_procrastinate.app.open()
    with contextlib.suppress(Exception):  # applied by an earlier run on the same server
        peer_procrastinate.app.schema_manager.apply_schema()
    return peer_procrastinate


def _bare_insert(pg_url: str, table: str) -> tuple[psycopg.Connection[Any], Callable[[], Any]]:
    """A durable single-row INSERT on its own autocommit connection: the ledger's floor."""
    conn = psycopg.connect(libpq(pg_url), autocommit=True)
    conn.execute(
        f"CREATE TABLE {table} (id text PRIMARY KEY, owner_id text NOT NULL, "
        "params jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    )
    sql = f"INSERT INTO {table} (id, owner_id, params) VALUES (%s, %s, %s)"

    def insert() -> None:
        conn.execute(sql, (str(uuid.uuid4()), "lat", '{"n": 1}'), prepare=True)

    return conn, insert


def run(n: int = 4000, rounds: int = 3) -> dict[str, object]:
    """Measure and return the figures."""
    with servers() as (redis_url, pg_url):
        client = redis.Redis.from_url(redis_url)
        prefix = f"b{uuid.uuid4().hex[:8]}_"
        env, app = tracked_app(redis_url, pg_url, prefix)
        bare = fresh("bench.bare_actors")
        conn, insert = _bare_insert(pg_url, f"{prefix}floor")
        procrastinate = _procrastinate(pg_url)
        defer = procrastinate.noop.defer
        rates: dict[str, list[float]] = {"bare": [], "tracked": []}
        p50s: dict[str, list[float]] = {"insert": [], "send": [], "submit": [], "defer": []}
        samples: dict[str, list[float]] = {name: [] for name in p50s}
        for _ in range(rounds):
            client.flushall()
            for _ in range(n):
                bare.bare_noop.send()
            with worker("bench.bare_actors", "bare", env):
                rates["bare"].append(drain_rate(client, "bare", n))
            client.flushall()
            for i in range(n):
                app.submit("syncjobs.noop", owner_id=f"owner-{i % 500}")
            with worker("syncjobs.actors", "syncjobs", env):
                rates["tracked"].append(drain_rate(client, "syncjobs", n))
            client.flushall()
            timed = _interleaved(
                {
                    "insert": insert,
                    "send": bare.bare_noop.send,
                    "submit": lambda: app.submit("syncjobs.noop", owner_id="lat"),
                    "defer": defer,
                },
                LATENCY_SAMPLES,
            )
            for name, values in timed.items():
                p50s[name].append(statistics.median(values))
                samples[name].extend(values)
        client.flushall()
        conn.close()
        app.close()
        procrastinate.app.close()
    return _figures(n, rounds, rates, p50s, samples)


def _figures(
    n: int,
    rounds: int,
    rates: dict[str, list[float]],
    p50s: dict[str, list[float]],
    samples: dict[str, list[float]],
) -> dict[str, object]:
    """The result dict: rates, latencies (p50 = median of the rounds' p50s), the aims."""
    bare_rate, tracked_rate = statistics.median(rates["bare"]), statistics.median(rates["tracked"])
    lat = {name: percentiles(values) for name, values in samples.items()}
    for name, values in p50s.items():
        lat[name]["p50_ms"] = round(statistics.median(values) * 1000, 3)
    limit_ms = lat["insert"]["p50_ms"] + lat["send"]["p50_ms"]
    submit_ms = lat["submit"]["p50_ms"]
    return {
        "n": n,
        "rounds": rounds,
        "workers": "2 processes x 8 threads, default prefetch",
        "bare_jobs_per_s": round(bare_rate),
        "tracked_jobs_per_s": round(tracked_rate),
        "tracked_over_bare": round(tracked_rate / bare_rate, 3),
        "bare_send": lat["send"],
        "bare_durable_insert": lat["insert"],
        "physical_limit_p50_ms": round(limit_ms, 3),
        "tracked_submit": lat["submit"],
        "procrastinate_defer": lat["defer"],
        "submit_over_send_p50": round(submit_ms / lat["send"]["p50_ms"], 2),
        "submit_over_limit_p50": round(submit_ms / limit_ms, 3),
        "aims": [
            aim(
                "worker no-op jobs/s",
                baseline_name="bare Dramatiq (same processes, threads, prefetch)",
                baseline=bare_rate,
                value=tracked_rate,
                target=THROUGHPUT_AIM,
                unit="jobs/s",
            ),
            aim(
                "submit p50",
                baseline_name="physical limit: durable INSERT p50 + send p50",
                baseline=limit_ms,
                value=submit_ms,
                target=SUBMIT_AIM,
                better="lower",
                unit="ms",
            ),
            aim(
                "submit p50",
                baseline_name="Procrastinate defer p50",
                baseline=lat["defer"]["p50_ms"],
                value=submit_ms,
                target=1.0,
                better="lower",
                unit="ms",
            ),
        ],
    }


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures and the aims as tables."""
    table = Table("figure", "bare", "syncjobs", "ratio", title="core (Redis + PostgreSQL)")
    table.add_row(
        "no-op jobs/s (bare Dramatiq)",
        str(result["bare_jobs_per_s"]),
        str(result["tracked_jobs_per_s"]),
        f"{result['tracked_over_bare']}x",
    )
    send, ins, sub = result["bare_send"], result["bare_durable_insert"], result["tracked_submit"]
    table.add_row(
        "p50 ms: durable INSERT + send = limit / submit",
        f"{ins['p50_ms']} + {send['p50_ms']} = {result['physical_limit_p50_ms']}",
        str(sub["p50_ms"]),
        f"{result['submit_over_limit_p50']}x",
    )
    table.add_row(
        "p99 ms: durable INSERT, send / submit",
        f"{ins['p99_ms']}, {send['p99_ms']}",
        str(sub["p99_ms"]),
        "",
    )
    defer = result["procrastinate_defer"]
    table.add_row(
        "p50 ms: Procrastinate defer / submit", str(defer["p50_ms"]), str(sub["p50_ms"]), ""
    )
    console.print(table)
    aims = Table("figure", "against", "value", "ratio", "aim", "", title="core: aims")
    for row in result["aims"]:
        aims.add_row(
            row["figure"],
            f"{row['baseline_name']}: {row['baseline']:g} {row['unit']}",
            f"{row['value']:g} {row['unit']}",
            f"{row['ratio']}x",
            row["aim"],
            "met" if row["met"] else "not met",
        )
    console.print(aims)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("core", res)
    show(res, Console())
