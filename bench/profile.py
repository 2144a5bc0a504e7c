"""Where the time of a tracked job goes: CPU per job by process, by hook, and per submit.

The core benchmark gives the ratios; this one says what they are made of, on the same servers
and with the same workers (`dramatiq MODULE --processes 2 --threads 8`, default prefetch):

- **CPU per job by process.** N no-op jobs are drained by bare Dramatiq and by syncjobs; the
  CPU time (user + system, from /proc) that each worker process, PostgreSQL and Redis spent
  meanwhile, divided by N. On a machine with C cores no run can go faster than
  C ÷ (total CPU per job), so the last row is each side's ceiling on this machine.
- **The hooks in one thread.** The tracking middleware's claim (`before_process_message`)
  and end (`after_process_message`) of N jobs, called in one thread with no broker: process
  CPU per job, beside the client CPU of one bare prepared psycopg statement.
- **submit.** Client CPU and p50 of `submit` for an owner with a backlog (every job of the
  round pending, as in the core benchmark) and for owners with none, beside a bare durable
  INSERT.

Run: `.venv/bin/python bench/profile.py [N]` or `make bench`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import drain_rate, fresh, libpq, servers, tracked_app, worker

CORES = os.cpu_count() or 1
_TICK = os.sysconf("SC_CLK_TCK")


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/", 1)[0]


def _cpu_by_kind(redis_url: str, pg_url: str, session: int) -> dict[str, float]:
    """CPU seconds so far of the worker's processes (its session), PostgreSQL and Redis."""
    out = {"worker processes": 0.0, "PostgreSQL": 0.0, "Redis": 0.0}
    stats: dict[int, tuple[str, list[str]]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                stats[int(pid)] = (cmd, f.read().rsplit(")", 1)[1].split())
        except OSError:  # gone meanwhile
            continue
    pg_flag, redis_addr = f"-p {_port(pg_url)} ", f":{_port(redis_url)}"
    postmaster = {pid for pid, (cmd, _) in stats.items() if pg_flag in cmd}
    for pid, (cmd, fields) in stats.items():
        ppid, sid = int(fields[1]), int(fields[3])
        kind = (
            "worker processes"
            if sid == session
            else "PostgreSQL"
            if pid in postmaster or ppid in postmaster
            else "Redis"
            if "redis-server" in cmd and cmd.rstrip().endswith(redis_addr)
            else None
        )
        if kind is not None:
            out[kind] += (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _booted(module: str, queue: str, env: dict[str, str]) -> float:
    """CPU seconds a worker spends booting: run on an empty queue until it idles."""
    urls = env["SYNCJOBS_BROKER_URL"], env["SYNCJOBS_DATABASE_URL"]
    with worker(module, queue, env) as proc:
        seen = -1.0
        while True:
            time.sleep(0.5)
            spent = _cpu_by_kind(*urls, proc.pid)["worker processes"]
            if spent - seen < 0.02:
                return spent
            seen = spent


def _drain(
    client: redis.Redis, module: str, queue: str, env: dict[str, str], n: int, boot: float
) -> Any:
    """Drain ``n`` queued messages with a worker; (jobs/s, CPU ms per job by kind).

    The worker's own CPU is counted from its start, less ``boot`` (what booting costs it).
    """
    urls = env["SYNCJOBS_BROKER_URL"], env["SYNCJOBS_DATABASE_URL"]
    with worker(module, queue, env) as proc:
        before = {**_cpu_by_kind(*urls, proc.pid), "worker processes": boot}
        rate = drain_rate(client, queue, n)
        after = _cpu_by_kind(*urls, proc.pid)
    return rate, {kind: round((after[kind] - before[kind]) * 1000 / n, 3) for kind in after}


def _by_process(client: redis.Redis, app: Any, env: dict[str, str], n: int) -> dict[str, Any]:
    bare = fresh("bench.bare_actors")
    client.flushall()
    bare_boot = _booted("bench.bare_actors", "bare", env)
    boot = _booted("syncjobs.actors", "syncjobs", env)
    for _ in range(n):
        bare.bare_noop.send()
    bare_rate, bare_cpu = _drain(client, "bench.bare_actors", "bare", env, n, bare_boot)
    client.flushall()
    for i in range(n):
        app.submit("syncjobs.noop", owner_id=f"owner-{i % 500}")
    rate, cpu = _drain(client, "syncjobs.actors", "syncjobs", env, n, boot)
    client.flushall()
    return {
        "bare": {"jobs_per_s": round(bare_rate), "cpu_ms": bare_cpu},
        "syncjobs": {"jobs_per_s": round(rate), "cpu_ms": cpu},
    }


def _hooks(app: Any, n: int) -> dict[str, float]:
    """Process CPU ms per job of the tracking middleware's claim and end, in one thread."""
    import dramatiq
    from dramatiq.broker import MessageProxy

    from syncjobs.core.middleware import TrackingMiddleware

    broker = app.broker
    tracking = next(m for m in broker.middleware if isinstance(m, TrackingMiddleware))
    name = next(name for name in tracking.job_types if name.endswith("noop"))
    actor = broker.get_actor(name)
    jobs = [app.submit("syncjobs.noop", owner_id=f"hooks-{i % 50}") for i in range(n)]
    claim = end = 0.0
    for job in jobs:
        message = MessageProxy(
            dramatiq.Message(
                queue_name=actor.queue_name, actor_name=name, args=(job.id,), kwargs={}, options={}
            )
        )
        t0 = time.process_time()
        broker.emit_before("process_message", message)
        t1 = time.process_time()
        result = actor.fn(*message.args)
        t2 = time.process_time()
        broker.emit_after("process_message", message, result=result)
        claim, end = claim + t1 - t0, end + time.process_time() - t2
    return {"claim_cpu_ms": round(claim * 1000 / n, 3), "end_cpu_ms": round(end * 1000 / n, 3)}


def _client_cpu(call: Callable[[], Any], n: int) -> dict[str, float]:
    """Process CPU ms per call and wall p50 ms of ``n`` calls."""
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        call()
        walls.append(time.perf_counter() - t)
    return {
        "cpu_ms": round((time.process_time() - cpu) * 1000 / n, 3),
        "p50_ms": round(statistics.median(walls) * 1000, 3),
    }


def _submits(app: Any, pg_url: str, prefix: str, n: int) -> dict[str, Any]:
    conn = psycopg.connect(libpq(pg_url), autocommit=True)
    table = f"{prefix}floor"
    conn.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, owner_id text NOT NULL)")
    statement = f"INSERT INTO {table} (id, owner_id) VALUES (%s, %s)"
    try:
        insert = _client_cpu(
            lambda: conn.execute(statement, (str(uuid.uuid4()), "o"), prepare=True), n
        )
        select = _client_cpu(lambda: conn.execute("SELECT 1", prepare=True), n)
    finally:
        conn.close()
    for _ in range(n):  # the owner's backlog, as the core benchmark's latency loop builds it
        app.submit("syncjobs.noop", owner_id="backlog")
    fresh = iter(range(10**9))
    return {
        "bare_insert": insert,
        "bare_select": select,
        "submit_backlog": _client_cpu(lambda: app.submit("syncjobs.noop", owner_id="backlog"), n),
        "submit_fresh": _client_cpu(
            lambda: app.submit("syncjobs.noop", owner_id=f"fresh-{next(fresh)}"), n
        ),
        "backlog": n,
    }


def run(n: int = 4000) -> dict[str, object]:
    """Measure and return the figures."""
    with servers() as (redis_url, pg_url):
        client = redis.Redis.from_url(redis_url)
        prefix = f"p{uuid.uuid4().hex[:8]}_"
        env, app = tracked_app(redis_url, pg_url, prefix)
        try:
            processes = _by_process(client, app, env, n)
            hooks = _hooks(app, min(n, 2000))
            submits = _submits(app, pg_url, prefix, min(n, 2000))
        finally:
            client.flushall()
            app.close()
    figures = {"by_process": processes, "hooks": hooks, "submit": submits}
    return {
        "n": n,
        "rounds": 1,
        "table": _table(figures, n),
        "cores": CORES,
        "baseline_description": "bare Dramatiq on the same Redis; a bare psycopg statement",
        **figures,
    }


def _table(figures: dict[str, Any], n: int) -> dict[str, Any]:
    """The figures as one table for bench/results/latest.md."""
    bare, ours = figures["by_process"]["bare"], figures["by_process"]["syncjobs"]
    rows: list[list[str]] = [
        [f"CPU ms per job: {kind} ({n:,} no-op jobs)", f"{bare['cpu_ms'][kind]:.3f}", f"{ms:.3f}"]
        for kind, ms in ours["cpu_ms"].items()
    ]
    totals = [sum(side["cpu_ms"].values()) for side in (bare, ours)]
    rows.append(["CPU ms per job: total", *(f"{t:.3f}" for t in totals)])
    rows.append(
        [f"ceiling on {CORES} cores, jobs/s", *(f"{CORES * 1000 / t:,.0f}" for t in totals)]
    )
    rows.append(["measured, jobs/s", f"{bare['jobs_per_s']:,}", f"{ours['jobs_per_s']:,}"])
    hooks, sub = figures["hooks"], figures["submit"]
    select = f"{sub['bare_select']['cpu_ms']:.3f} (one SELECT 1)"
    rows.append(["hooks in one thread: claim, CPU ms", select, f"{hooks['claim_cpu_ms']:.3f}"])
    rows.append(["hooks in one thread: end, CPU ms", select, f"{hooks['end_cpu_ms']:.3f}"])
    insert = sub["bare_insert"]
    for label, key in (
        ("an owner with a backlog", "submit_backlog"),
        ("fresh owners", "submit_fresh"),
    ):
        mine = sub[key]
        rows.append(
            [
                f"submit, {label}: client CPU ms / p50 ms",
                f"{insert['cpu_ms']:.3f} / {insert['p50_ms']:.3f} (durable INSERT)",
                f"{mine['cpu_ms']:.3f} / {mine['p50_ms']:.3f}",
            ]
        )
    return {"columns": ["figure", "bare", "syncjobs"], "rows": rows}


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures as one table."""
    figures = result["table"]
    table = Table(*figures["columns"], title="where the time of a tracked job goes")
    for row in figures["rows"]:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    figures = run(*(int(a) for a in sys.argv[1:2]))
    show(figures, Console())
