"""``sync_due_accounts`` over N due accounts vs raw bulk SQL + a batched Redis send.

Setup: a fresh table prefix, N active accounts due now, bulk-inserted straight into its
accounts table (SQLAlchemy Core ``execute(insert, list_of_dicts)``; no credentials: the sync
jobs never run). The fan-out job is submitted on the Redis broker and run by a real worker,
``dramatiq syncjobs.actors --processes 1 --threads 1 --queues sync``; the worker is stopped
as soon as the ledger records the job completed, and the N ``sync_account`` messages it
queued stay queued (its one thread may take one of them after the fan-out has finished and
before the stop lands: ``sync_messages_left_queued`` is then N - 1). Its duration is the
job's own ``completed_at - started_at`` in the ledger.

The raw baseline does the same work without syncjobs, timed as one sequence: SELECT the due
accounts' ids (the job's own query), ``executemany`` N rows into a jobs table of the same
shape (a second fresh prefix; one transaction), then send N Dramatiq messages for them on
a Redis pipeline (``HSET dramatiq:<q>.msgs`` + ``RPUSH dramatiq:<q>`` per message, exactly
what the broker's enqueue script does, one round trip). The variant with a
``RedisBroker.enqueue`` loop instead of the pipeline is reported too.

In the same run, on the same servers, ``bench.bulk_submit`` times ``submit_many`` of N no-op
jobs against raw ``executemany`` + one Redis pipeline. The result's ``aims`` (rows of
``bench._common.aim``): the fan-out at most 2x the raw pipelined baseline, and
``submit_many`` at least 0.5x the raw rate.
Run: `.venv/bin/python bench/fanout.py [N] [ROUNDS]`.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import aim, libpq, outstanding, save, servers, wait_for, worker
from bench.bulk_submit import measure as measure_submit_many

QUEUE = "sync"
BASELINE_QUEUE = "fanout_baseline"
DUE_SQL = (
    "SELECT id, owner_id FROM {acc} WHERE state = 'active' AND (next_sync_at IS NULL "
    "OR next_sync_at <= %s) ORDER BY next_sync_at NULLS FIRST, id LIMIT %s"
)
INSERT_SQL = (
    "INSERT INTO {jobs} (id, owner_id, job_type, queue, priority, params, status, "
    "progress_percent, retry_count, attempts, max_retries, cancel_requested, expires_at, "
    "idempotency_key, created_at, updated_at) VALUES (%s, %s, 'sync_account', 'sync', 5, "
    "%s::jsonb, 'pending', 0, 0, 0, 5, false, %s, %s, %s, %s)"
)


def _fresh_schema(pg_url: str) -> str:
    from syncjobs.storage.sql import SQLAlchemyRepository

    prefix = f"f{uuid.uuid4().hex[:8]}_"
    repo = SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False)
    repo.upgrade()
    repo.close()
    return prefix


def _due_accounts(pg_url: str, prefix: str, n: int) -> None:
    """N active accounts of N owners, all due a minute ago, in one executemany."""
    from sqlalchemy import insert

    from syncjobs.storage.sql import SQLAlchemyRepository

    repo = SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False)
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "owner_id": f"user-{i}",
            "provider": "gmail",
            "external_id": f"acct-{i}",
            "display_name": None,
            "state": "active",
            "cursor": None,
            "sync_interval": 1800,
            "next_sync_at": now - timedelta(minutes=1),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    with repo.engine.begin() as conn:
        conn.execute(insert(repo.tables.accounts), rows)
    repo.close()


def _fanout(redis_url: str, pg_url: str, n: int, client: redis.Redis) -> dict[str, Any]:
    """One fan-out job over N fresh due accounts; its ledger duration."""
    prefix = _fresh_schema(pg_url)
    _due_accounts(pg_url, prefix, n)
    env = {
        "SYNCJOBS_BROKER_URL": redis_url,
        "SYNCJOBS_DATABASE_URL": pg_url,
        "SYNCJOBS_TABLE_PREFIX": prefix,
    }
    os.environ.update(env)
    from syncjobs import builtin_jobs  # noqa: F401
    from syncjobs.core.models import JobStatus
    from syncjobs.factory import create_app
    from syncjobs.settings import Settings

    app = create_app(Settings())
    job = app.submit(
        "sync_due_accounts", owner_id="system", params={"limit": n}, enforce_limit=False
    )
    holder = {"job": job}

    def finished() -> bool:
        holder["job"] = app.status(job.id, owner_id="system")
        return holder["job"].is_terminal

    with worker("syncjobs.actors", QUEUE, env, processes=1, threads=1):
        wait_for(finished, timeout=600, what="the fan-out job", interval=0.1)
    done = holder["job"]
    if done.status is not JobStatus.COMPLETED or not done.started_at or not done.completed_at:
        raise RuntimeError(f"fan-out ended {done.status}: {done.error_message}")
    with psycopg.connect(libpq(pg_url)) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM \"{prefix}jobs\" WHERE job_type = 'sync_account'"
        ).fetchone()
    app.close()
    return {
        "seconds": (done.completed_at - done.started_at).total_seconds(),
        "result": done.result,
        "sync_jobs_in_ledger": row[0] if row else 0,
        "sync_messages_queued": outstanding(client, QUEUE),
        "prefix": prefix,
    }


def _baseline(
    redis_url: str, pg_url: str, n: int, accounts_prefix: str, client: redis.Redis
) -> dict[str, Any]:
    """SELECT due ids + executemany N ledger rows + N messages on one Redis pipeline."""
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker

    jobs = f'"{_fresh_schema(pg_url)}jobs"'
    acc = f'"{accounts_prefix}accounts"'
    with psycopg.connect(libpq(pg_url)) as conn:
        began = time.perf_counter()
        now = datetime.now(UTC)
        due = conn.execute(DUE_SQL.format(acc=acc), (now, n)).fetchall()
        conn.commit()
        selected = time.perf_counter()
        ids = [str(uuid.uuid4()) for _ in due]
        expires = now + timedelta(days=1)
        with conn.cursor() as cur:
            cur.executemany(
                INSERT_SQL.format(jobs=jobs),
                [
                    (
                        job_id,
                        owner,
                        json.dumps({"account_id": account, "full": False}),
                        expires,
                        f"sync:{account}:first",
                        now,
                        now,
                    )
                    for job_id, (account, owner) in zip(ids, due, strict=True)
                ],
            )
        conn.commit()
        inserted = time.perf_counter()
    messages = [
        Message(
            queue_name=BASELINE_QUEUE,
            actor_name="sync_account",
            args=(job_id,),
            kwargs={},
            options={"redis_message_id": str(uuid.uuid4())},
        )
        for job_id in ids
    ]
    pipe = client.pipeline(transaction=False)
    for message in messages:
        pipe.hset(
            f"dramatiq:{BASELINE_QUEUE}.msgs", message.options["redis_message_id"], message.encode()
        )
        pipe.rpush(f"dramatiq:{BASELINE_QUEUE}", message.options["redis_message_id"])
    pipe.execute()
    sent = time.perf_counter()
    if client.llen(f"dramatiq:{BASELINE_QUEUE}") != len(due) or len(due) != n:
        raise RuntimeError("the baseline did not queue every message")
    broker = RedisBroker(url=redis_url)
    loop_began = time.perf_counter()
    for job_id in ids:
        broker.enqueue(
            Message(
                queue_name=f"{BASELINE_QUEUE}_loop",
                actor_name="sync_account",
                args=(job_id,),
                kwargs={},
                options={},
            )
        )
    loop_seconds = time.perf_counter() - loop_began
    broker.close()
    return {
        "select_s": selected - began,
        "insert_s": inserted - selected,
        "pipeline_send_s": sent - inserted,
        "seconds": sent - began,
        "enqueue_loop_send_s": loop_seconds,
        "seconds_with_enqueue_loop": inserted - began + loop_seconds,
    }


def run(accounts: int = 10_000, rounds: int = 1) -> dict[str, Any]:
    """Measure and return the figures."""
    ours, raw = [], []
    with servers() as (redis_url, pg_url):
        client = redis.Redis.from_url(redis_url)
        for _ in range(rounds):
            client.flushall()
            fan = _fanout(redis_url, pg_url, accounts, client)
            if (
                fan["result"] != {"due": accounts, "submitted": accounts}
                or fan["sync_jobs_in_ledger"] != accounts
            ):
                raise RuntimeError(f"unexpected fan-out outcome: {fan}")
            ours.append(fan)
            raw.append(_baseline(redis_url, pg_url, accounts, fan["prefix"], client))
        bulk = measure_submit_many(redis_url, pg_url, client, accounts, rounds)
        client.close()

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    baseline = {k: median(raw, k) for k in raw[0]}
    fanout_s = median(ours, "seconds")
    fanout_aim = aim(
        f"sync_due_accounts over {accounts:,} due accounts (seconds)",
        baseline_name="raw SELECT + executemany + Redis pipeline",
        baseline=baseline["seconds"],
        value=fanout_s,
        target=2.0,
        better="lower",
        unit="s",
    )
    return {
        "accounts": accounts,
        "rounds": rounds,
        "worker": f"dramatiq syncjobs.actors --processes 1 --threads 1 --queues {QUEUE}",
        "fanout_seconds": fanout_s,
        "fanout_seconds_rounds": [round(r["seconds"], 3) for r in ours],
        "sync_messages_left_queued": ours[-1]["sync_messages_queued"],
        "baseline": baseline,
        "fanout_over_baseline": round(fanout_s / baseline["seconds"], 2),
        "fanout_over_baseline_enqueue_loop": round(
            fanout_s / baseline["seconds_with_enqueue_loop"], 2
        ),
        "submit_many": {k: v for k, v in bulk.items() if k != "aims"},
        "aims": [fanout_aim, *bulk["aims"]],
    }


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures as a table."""
    n, base = result["accounts"], result["baseline"]
    table = Table(
        "figure",
        "raw baseline",
        "syncjobs",
        "ratio",
        title=f"fan-out: sync_due_accounts over {n:,} due accounts (Redis + PostgreSQL)",
        caption="ratio = syncjobs seconds ÷ baseline seconds (lower is better)",
    )
    table.add_row(
        "seconds (pipeline send)",
        f"{base['seconds']:.2f}",
        f"{result['fanout_seconds']:.2f}",
        f"{result['fanout_over_baseline']}x",
    )
    table.add_row(
        "seconds (enqueue-loop send)",
        f"{base['seconds_with_enqueue_loop']:.2f}",
        f"{result['fanout_seconds']:.2f}",
        f"{result['fanout_over_baseline_enqueue_loop']}x",
    )
    table.add_row(
        "  select / insert / send",
        f"{base['select_s']:.2f} / {base['insert_s']:.2f}"
        f" / {base['pipeline_send_s']:.2f} ({base['enqueue_loop_send_s']:.2f})",
        "",
        "",
    )
    table.add_row(
        "jobs per second", f"{n / base['seconds']:,.0f}", f"{n / result['fanout_seconds']:,.0f}", ""
    )
    console.print(table)
    bulk = result["submit_many"]
    console.print(
        f"submit_many of {bulk['jobs']:,} no-op jobs: {bulk['submit_many_seconds']:.2f} s; "
        f"raw executemany + Redis pipeline: {bulk['raw_seconds']:.2f} s; ledger insert alone: "
        f"create_jobs {bulk['insert_only']['create_jobs_s']:.2f} s, "
        f"executemany {bulk['insert_only']['executemany_s']:.2f} s"
    )
    for row in result["aims"]:
        verdict = "met" if row["met"] else "NOT met"
        console.print(
            f"aim {row['figure']}: {row['value']:,.3f} vs {row['baseline_name']} "
            f"{row['baseline']:,.3f} = {row['ratio']}x (aim {row['aim']}): {verdict}"
        )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("fanout", res)
    show(res, Console())
