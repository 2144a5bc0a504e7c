"""How soon an urgent job starts behind a queued backlog of its queue, with and without priority.

Setup: real Redis and durable PostgreSQL (``servers``), a fresh table prefix per run, and a real
``dramatiq syncjobs.actors --processes 2 --threads 8 --queues syncjobs`` worker (Dramatiq's
default worker timeout, 1 s). BACKLOG ``syncjobs.noop`` jobs are submitted at the default
priority (5, what scheduled work uses) before the worker starts. Once the worker has run the
first WARM of them, one more ``syncjobs.noop`` is submitted to the same queue:

- *without priority*: at the default priority 5, so it queues behind the backlog (FIFO);
- *with priority*: at priority 1, so it goes to the queue's high band (``syncjobs.high``),
  IDLE seconds later, so that band's consumer has long been idle (polling at its slowest), as
  in a worker that has run for a while. The backlog's own time does not matter to it.

The figure is that job's time from submit to start: ``started_at - created_at`` in the ledger
(one clock, this machine's), and how many backlog jobs started after it. The aim row is the
speed-up, without ÷ with (≥ 100x).

Run: `make bench BENCH_ARGS=priority` or `.venv/bin/python bench/priority.py [BACKLOG] [ROUNDS]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import aim, processes, servers, wait_for

QUEUE = "syncjobs"
PROCESSES, THREADS = 2, 8
WORKER = [sys.executable, "-m", "dramatiq", "syncjobs.actors", "--processes", str(PROCESSES)]
WORKER += ["--threads", str(THREADS), "--queues", QUEUE]
#: Backlog jobs that must have started before the urgent one is sent (the worker is busy).
WARM = 50
#: Seconds the worker runs after WARM before the urgent job is sent (idle consumers back off).
IDLE = 2.5


def _fresh_prefix(pg_url: str) -> str:
    from syncjobs.storage.sql import SQLAlchemyRepository

    prefix = f"p{uuid.uuid4().hex[:8]}_"
    repo = SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False)
    repo.upgrade()
    repo.close()
    return prefix


def _one(redis_url: str, pg_url: str, backlog: int, priority: int, idle: float) -> dict[str, Any]:
    """Submit the backlog, start the worker, send the urgent job; its wait and place."""
    redis.Redis.from_url(redis_url).flushall()
    env = {
        "SYNCJOBS_BROKER_URL": redis_url,
        "SYNCJOBS_DATABASE_URL": pg_url,
        "SYNCJOBS_TABLE_PREFIX": _fresh_prefix(pg_url),
    }
    os.environ.update(env)
    from syncjobs.factory import create_app
    from syncjobs.settings import Settings

    app = create_app(Settings())
    for _ in range(backlog):
        app.submit("syncjobs.noop", owner_id="backlog", enforce_limit=False)

    def started(owner: str, at_least: int) -> bool:
        return len(app.jobs(owner, status="completed", limit=at_least)) >= at_least

    with processes([WORKER], env):
        wait_for(lambda: started("backlog", WARM), timeout=300, what="the worker to start")
        time.sleep(idle)
        urgent = app.submit("syncjobs.noop", owner_id="urgent", priority=priority)
        wait_for(lambda: started("urgent", 1), timeout=900, what="the urgent job", interval=0.02)
    done = app.status(urgent.id, owner_id="urgent")
    assert done.started_at is not None
    waited = (done.started_at - done.created_at).total_seconds()
    left = backlog - sum(
        1
        for job in _all(app, "backlog")
        if job.started_at is not None and job.started_at < done.started_at
    )
    app.close()
    return {"seconds": waited, "backlog_left": left}


def _all(app: Any, owner: str) -> list[Any]:
    out: list[Any] = []
    while batch := app.jobs(owner, limit=1000, offset=len(out)):
        out += batch
    return out


def run(backlog: int = 10_000, rounds: int = 1) -> dict[str, Any]:
    """Measure and return the figures."""
    without: list[dict[str, Any]] = []
    with_: list[dict[str, Any]] = []
    with servers() as (redis_url, pg_url):
        for _ in range(rounds):
            without.append(_one(redis_url, pg_url, backlog, priority=5, idle=0))
            with_.append(_one(redis_url, pg_url, backlog, priority=1, idle=IDLE))
    slow = statistics.median(r["seconds"] for r in without)
    fast = statistics.median(r["seconds"] for r in with_)
    return {
        "backlog": backlog,
        "rounds": rounds,
        "worker": " ".join(["dramatiq", *WORKER[3:]]),
        "without_priority_s": round(slow, 4),
        "with_priority_s": round(fast, 4),
        "rounds_without": without,
        "rounds_with": with_,
        "backlog_left_with_priority": min(r["backlog_left"] for r in with_),
        "aims": [
            aim(
                f"urgent job's start behind {backlog:,} queued jobs: speed-up from priority 1",
                # The value is the start at the default priority, the baseline at priority 1.
                baseline_name="start at priority 1; syncjobs column: at the default priority",
                baseline=fast,
                value=slow,
                target=100,
                better="higher",
                unit="s",
            )
        ],
    }


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures as a table."""
    table = Table(
        "figure",
        "without priority (5)",
        "with priority (1)",
        "speed-up",
        "aim",
        title=f"priority: one urgent job behind {result['backlog']:,} queued jobs of its queue",
        caption=f"Redis + PostgreSQL, {result['worker']}; submit → start, median of "
        f"{result['rounds']} round(s)",
    )
    row = result["aims"][0]
    table.add_row(
        "seconds from submit to start",
        f"{result['without_priority_s']:.3f}",
        f"{result['with_priority_s']:.3f}",
        f"{row['ratio']}x",
        f"{row['aim']} {'met' if row['met'] else 'NOT met'}",
    )
    table.add_row(
        "backlog jobs started after it",
        f"{min(r['backlog_left'] for r in result['rounds_without']):,}",
        f"{result['backlog_left_with_priority']:,}",
        "",
        "",
    )
    console.print(table)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    figures = run(*args)
    show(figures, Console())
