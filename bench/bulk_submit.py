"""``submit_many`` of N no-op jobs vs raw ``executemany`` + one Redis pipeline, same run.

syncjobs: ``app.submit_many`` of N ``syncjobs.noop`` specs (N owners, no per-owner limit, as
a system fan-out submits) on the Redis broker and a fresh PostgreSQL table prefix, timed from
the call to its return (validation, one ledger transaction, the pipelined send). The raw
baseline writes N rows of the same shape into a second fresh jobs table with psycopg's
``executemany`` (one transaction) and sends N Dramatiq messages on one Redis pipeline
(``HSET`` + ``RPUSH`` each, as the broker's enqueue script does). The ratio is baseline seconds
÷ syncjobs seconds (≥ 0.5 means syncjobs reaches half the raw rate). The messages are never
run. It also times the ledger insert alone both ways PostgreSQL can take it
(``create_jobs``' one ``INSERT … SELECT FROM json_to_recordset``, and ``executemany``).
Run: `.venv/bin/python bench/bulk_submit.py [N] [ROUNDS]`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import aim, libpq, save, servers

QUEUE = "bulk_baseline"
INSERT_SQL = (
    "INSERT INTO {jobs} (id, owner_id, job_type, queue, priority, params, status, "
    "progress_percent, retry_count, attempts, max_retries, cancel_requested, expires_at, "
    "idempotency_key, created_at, updated_at) VALUES (%s, %s, 'syncjobs.noop', 'syncjobs', 5, "
    "%s::jsonb, 'pending', 0, 0, 0, 3, false, %s, NULL, %s, %s)"
)


def _fresh_prefix(pg_url: str) -> str:
    from syncjobs.storage.sql import SQLAlchemyRepository

    prefix = f"b{uuid.uuid4().hex[:8]}_"
    repo = SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False)
    repo.upgrade()
    repo.close()
    return prefix


def _ours(redis_url: str, pg_url: str, n: int) -> float:
    """Seconds of one ``submit_many`` of N no-op jobs on a fresh prefix."""
    from syncjobs import JobSpec
    from syncjobs.factory import create_app
    from syncjobs.settings import Settings

    settings = Settings(
        broker_url=redis_url, database_url=pg_url, table_prefix=_fresh_prefix(pg_url)
    )
    app = create_app(settings)
    app.submit_many([JobSpec("syncjobs.noop", owner_id="warm-up")], enforce_limit=False)
    specs = [JobSpec("syncjobs.noop", owner_id=f"user-{i}") for i in range(n)]
    began = time.perf_counter()
    jobs = app.submit_many(specs, enforce_limit=False)
    seconds = time.perf_counter() - began
    if len({j.id for j in jobs}) != n:
        raise RuntimeError("submit_many did not create every job")
    app.close()
    return seconds


def _raw(pg_url: str, n: int, client: redis.Redis) -> float:
    """Seconds of executemany N rows + N messages on one Redis pipeline."""
    from dramatiq import Message

    jobs = f'"{_fresh_prefix(pg_url)}jobs"'
    with psycopg.connect(libpq(pg_url)) as conn:
        began = time.perf_counter()
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in range(n)]
        with conn.cursor() as cur:
            cur.executemany(
                INSERT_SQL.format(jobs=jobs),
                [
                    (job_id, f"user-{i}", json.dumps({}), now + timedelta(days=1), now, now)
                    for i, job_id in enumerate(ids)
                ],
            )
        conn.commit()
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        message = Message(
            queue_name=QUEUE,
            actor_name="syncjobs.noop",
            args=(job_id,),
            kwargs={},
            options={"redis_message_id": str(uuid.uuid4())},
        )
        pipe.hset(f"dramatiq:{QUEUE}.msgs", message.options["redis_message_id"], message.encode())
        pipe.rpush(f"dramatiq:{QUEUE}", message.options["redis_message_id"])
    pipe.execute()
    return time.perf_counter() - began


def _insert_only(pg_url: str, n: int) -> dict[str, float]:
    """The ledger insert alone: ``create_jobs`` (json_to_recordset) vs a plain executemany."""
    from syncjobs.core.ledger.contract import new_job
    from syncjobs.storage.sql import SQLAlchemyRepository

    out = {}
    for way in ("create_jobs", "executemany"):
        prefix = _fresh_prefix(pg_url)
        news = [new_job(f"user-{i}", job_type="syncjobs.noop", params={}) for i in range(n)]
        repo = SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False)
        repo.get_job(str(uuid.uuid4()))  # both ways time a connection already open
        with psycopg.connect(libpq(pg_url)) as conn, conn.cursor() as cur:
            began = time.perf_counter()
            if way == "create_jobs":
                repo.create_jobs(news, active_limit=None)
            else:
                cur.executemany(
                    INSERT_SQL.format(jobs=f'"{prefix}jobs"'),
                    [(j.id, j.owner_id, "{}", None, j.created_at, j.created_at) for j in news],
                )
                conn.commit()
            out[f"{way}_s"] = round(time.perf_counter() - began, 3)
        repo.close()
    return out


def measure(
    redis_url: str, pg_url: str, client: redis.Redis, jobs: int, rounds: int
) -> dict[str, Any]:
    """Both ways ``rounds`` times on running servers; the medians and the aim row."""
    ours, raw, inserts = [], [], []
    for _ in range(rounds):
        client.flushall()
        ours.append(_ours(redis_url, pg_url, jobs))
        raw.append(_raw(pg_url, jobs, client))
        inserts.append(_insert_only(pg_url, jobs))
    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    return {
        "jobs": jobs,
        "rounds": rounds,
        "submit_many_seconds": round(ours_s, 3),
        "raw_seconds": round(raw_s, 3),
        "insert_only": {k: statistics.median(r[k] for r in inserts) for k in inserts[0]},
        "aims": [submit_many_aim(jobs, ours_s, raw_s)],
    }


def run(jobs: int = 10_000, rounds: int = 1) -> dict[str, Any]:
    """Start the servers, measure and return the figures."""
    with servers() as (redis_url, pg_url):
        client = redis.Redis.from_url(redis_url)
        try:
            return measure(redis_url, pg_url, client, jobs, rounds)
        finally:
            client.close()


def submit_many_aim(n: int, ours_s: float, raw_s: float) -> dict[str, Any]:
    """The aim row: submit_many's rate ≥ 0.5x the raw executemany + pipeline rate."""
    return aim(
        f"submit_many of {n:,} no-op jobs (jobs/s)",
        baseline_name="raw executemany + Redis pipeline",
        baseline=n / raw_s,
        value=n / ours_s,
        target=0.5,
        better="higher",
        unit="jobs/s",
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("bulk_submit", res)
    print(json.dumps(res, indent=2))
