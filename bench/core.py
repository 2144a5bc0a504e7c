"""Tracked no-op jobs vs bare Dramatiq on the same Redis, and submit vs send latency.

Both sides: `dramatiq MODULE --processes 2 --threads 8`, default prefetch, the same Redis.
The tracked side also writes the ledger on PostgreSQL (insert at submit; processing and
completed in the worker). Each figure is the median of ROUNDS runs in this one process.
Run: `make bench` or `.venv/bin/python bench/core.py [N] [ROUNDS]`.
"""

from __future__ import annotations

import statistics
import sys
import uuid

import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from bench._common import drain_rate, percentiles, save, servers, timed, worker


def run(n: int = 4000, rounds: int = 3) -> dict[str, object]:
    """Measure and return the figures."""
    with servers() as (redis_url, pg_url):
        client = redis.Redis.from_url(redis_url)
        prefix = f"b{uuid.uuid4().hex[:8]}_"
        env = {
            "SYNCJOBS_BROKER_URL": redis_url,
            "SYNCJOBS_DATABASE_URL": pg_url,
            "SYNCJOBS_TABLE_PREFIX": prefix,
            "SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER": "1000000",
        }
        import os

        os.environ.update(env)
        from syncjobs.settings import Settings
        from syncjobs.storage.sql import SQLAlchemyRepository

        SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False).upgrade()
        import bench.bare_actors as bare
        from syncjobs import builtin_jobs  # noqa: F401
        from syncjobs.factory import create_app

        app = create_app(Settings())
        bare_rates, tracked_rates = [], []
        for _ in range(rounds):
            client.flushall()
            for _ in range(n):
                bare.bare_noop.send()
            with worker("bench.bare_actors", "bare", env):
                bare_rates.append(drain_rate(client, "bare", n))
            client.flushall()
            for i in range(n):
                app.submit("syncjobs.noop", owner_id=f"owner-{i % 500}")
            with worker("syncjobs.actors", "syncjobs", env):
                tracked_rates.append(drain_rate(client, "syncjobs", n))
        send = percentiles(timed(bare.bare_noop.send, 2000))
        sub = percentiles(timed(lambda: app.submit("syncjobs.noop", owner_id="lat"), 2000))
        client.flushall()
        app.close()
    bare_rate, tracked_rate = statistics.median(bare_rates), statistics.median(tracked_rates)
    return {
        "n": n,
        "rounds": rounds,
        "workers": "2 processes x 8 threads, default prefetch",
        "bare_jobs_per_s": round(bare_rate),
        "tracked_jobs_per_s": round(tracked_rate),
        "tracked_over_bare": round(tracked_rate / bare_rate, 3),
        "bare_send": send,
        "tracked_submit": sub,
        "submit_over_send_p50": round(sub["p50_ms"] / send["p50_ms"], 2),
    }


def show(result: dict[str, object], console: Console) -> None:
    """Print the figures as a table."""
    table = Table("figure", "bare Dramatiq", "syncjobs", "ratio", title="core (Redis + PostgreSQL)")
    table.add_row(
        "no-op jobs/s",
        str(result["bare_jobs_per_s"]),
        str(result["tracked_jobs_per_s"]),
        f"{result['tracked_over_bare']}x",
    )
    send, sub = result["bare_send"], result["tracked_submit"]
    assert isinstance(send, dict) and isinstance(sub, dict)
    table.add_row(
        "send / submit p50 ms",
        str(send["p50_ms"]),
        str(sub["p50_ms"]),
        f"{result['submit_over_send_p50']}x",
    )
    table.add_row("send / submit p99 ms", str(send["p99_ms"]), str(sub["p99_ms"]), "")
    console.print(table)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("core", res)
    show(res, Console())
