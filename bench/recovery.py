"""What the recovery pass costs with a big ledger: ``recover()`` and ``maintain()`` vs a key read.

Setup: a fresh table prefix on durable PostgreSQL (fsync on), filled by ``COPY`` with N
finished jobs (completed, failed, cancelled; created over the last six days, so inside the
default retention and none is purged) and a realistic few hundred active ones: 200 pending
and due, 50 pending waiting out a retry backoff, 100 processing on live workers. ``ANALYZE``
runs once after the fill, as autovacuum would. The app is ``create_app`` on that ledger and a
real Redis broker, every setting at its default.

Each pass runs RUNS times after three untimed warm-up runs, and the processing jobs'
heartbeats are refreshed (untimed) before each run, as live workers do, so every run sees the
steady state: nothing stale, nothing to resend, nothing to purge. Timed, p50 and p95:

- ``recover(app)``, the fast pass every worker runs from its heartbeat thread (``n/a`` when
  ``syncjobs.core.maintenance`` has none);
- ``maintain(app)``, the ``maintain_jobs`` round;
- the baselines, through the same engine: one job read by primary key, and
  ``SELECT count(*)`` of the processing jobs.

Statements are counted at the driver (every ``psycopg`` cursor ``execute``), because the
job hot path runs prebuilt SQL on the raw connection, which SQLAlchemy's events never see;
broker calls are counted on the broker's Redis client. Every statement the passes issue is
then ``EXPLAIN``ed (``FORMAT JSON``; only plain SELECTs run, with ``ANALYZE``, for their actual
time): the scans of the jobs table each one plans, with any ``Seq Scan`` flagged.
``stale_jobs`` and ``unsent_jobs`` (the upkeep store's queries for crashed and for lost jobs)
are labelled.

Run: `make bench BENCH_ARGS=recovery` or `.venv/bin/python bench/recovery.py [JOBS] [RUNS]`.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import libpq, save, servers

ACTIVE = {"pending": 200, "scheduled": 50, "processing": 100}
FINISHED = (("completed", 90), ("failed", 6), ("cancelled", 4))
JOB_TYPES = (
    ("sync_account", "sync", 60),
    ("analyze_items", "insights", 20),
    ("deliver_notification", "notify", 15),
    ("syncjobs.noop", "syncjobs", 5),
)
OWNERS = 10_000
COLUMNS = (
    "id, owner_id, job_type, queue, priority, params, status, progress_percent, retry_count, "
    "attempts, max_retries, cancel_requested, error_code, scheduled_for, expires_at, "
    "created_at, started_at, completed_at, heartbeat_at, updated_at"
)
NULL = "\\N"


def _ts(value: datetime) -> str:
    return value.isoformat()


def _weighted(pairs: tuple[tuple[Any, ...], ...], n: int, rng: random.Random) -> list[Any]:
    return rng.choices([p[:-1] for p in pairs], weights=[p[-1] for p in pairs], k=n)


def _finished_rows(n: int, now: datetime, rng: random.Random) -> Iterator[str]:
    """COPY text lines of n finished jobs created over the last six days."""
    statuses = _weighted(FINISHED, n, rng)
    types = _weighted(JOB_TYPES, n, rng)
    span = 6 * 24 * 3600
    for i in range(n):
        (status,), (job_type, queue) = statuses[i], types[i]
        created = now - timedelta(seconds=rng.uniform(60, span))
        started = created + timedelta(seconds=rng.uniform(0.01, 5))
        done = started + timedelta(seconds=rng.uniform(0.05, 30))
        code = {"failed": "provider_error", "cancelled": "cancelled"}.get(status, NULL)
        yield "\t".join(
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"owner-{rng.randrange(OWNERS)}",
                job_type,
                queue,
                "5",
                "{}",
                status,
                "100" if status == "completed" else "40",
                "0",
                "1",
                "3",
                "f",
                code,
                NULL,
                NULL,
                _ts(created),
                _ts(started),
                _ts(done),
                _ts(done),
                _ts(done),
            )
        )


def _active_rows(now: datetime, rng: random.Random) -> Iterator[str]:
    """COPY text lines of the active jobs: pending (due, or backing off) and processing."""
    kinds = ["pending"] * ACTIVE["pending"] + ["scheduled"] * ACTIVE["scheduled"]
    kinds += ["processing"] * ACTIVE["processing"]
    for kind in kinds:
        created = now - timedelta(seconds=rng.uniform(1, 120))
        status = "processing" if kind == "processing" else "pending"
        yield "\t".join(
            (
                str(uuid.uuid4()),
                f"owner-{rng.randrange(OWNERS)}",
                "sync_account",
                "sync",
                "5",
                "{}",
                status,
                "0",
                "1" if kind == "scheduled" else "0",
                "1" if kind != "pending" else "0",
                "3",
                "f",
                "provider_error" if kind == "scheduled" else NULL,
                _ts(now + timedelta(seconds=rng.uniform(30, 600))) if kind == "scheduled" else NULL,
                _ts(now + timedelta(days=1)),
                _ts(created),
                _ts(created) if kind == "processing" else NULL,
                NULL,
                _ts(now) if kind == "processing" else NULL,
                _ts(now),
            )
        )


def fill(dsn: str, table: str, n: int) -> float:
    """COPY n finished and the active jobs into ``table``, then ANALYZE; return the seconds."""
    began, rng, now = time.monotonic(), random.Random(14), datetime.now(UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f'COPY "{table}" ({COLUMNS}) FROM STDIN') as copy:
            chunk: list[str] = []
            for line in _finished_rows(n, now, rng):
                chunk.append(line)
                if len(chunk) == 20_000:
                    copy.write("\n".join(chunk) + "\n")
                    chunk = []
            chunk.extend(_active_rows(now, rng))
            copy.write("\n".join(chunk) + "\n")
        conn.commit()
        conn.autocommit = True
        conn.execute(f'ANALYZE "{table}"')
    return time.monotonic() - began


class Driver:
    """Counts (and keeps) every statement psycopg cursors execute while ``watching``."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.watching = False
        self._execute = psycopg.Cursor.execute
        self._executemany = psycopg.Cursor.executemany

    @contextmanager
    def installed(self) -> Iterator[Driver]:
        driver, execute, executemany = self, self._execute, self._executemany

        def counted(cur: Any, query: Any, params: Any = None, **kw: Any) -> Any:
            if driver.watching:
                driver.statements.append((_text(query, cur), params))
            return execute(cur, query, params, **kw)

        def counted_many(cur: Any, query: Any, params_seq: Any, **kw: Any) -> Any:
            if driver.watching:
                driver.statements.append((_text(query, cur), None))
            return executemany(cur, query, params_seq, **kw)

        psycopg.Cursor.execute = counted
        psycopg.Cursor.executemany = counted_many
        try:
            yield self
        finally:
            psycopg.Cursor.execute = execute
            psycopg.Cursor.executemany = executemany

    @contextmanager
    def watch(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements, self.watching = [], True
        try:
            yield self.statements
        finally:
            self.watching = False


def _text(query: Any, cur: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, str):
        return query
    return str(query.as_string(cur))


class RedisCalls:
    """Counts the commands the broker's Redis client sends."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        original = client.execute_command

        def counted(*args: Any, **kw: Any) -> Any:
            self.count += 1
            return original(*args, **kw)

        client.execute_command = counted


def timed(fn: Callable[[], Any], runs: int, before: Callable[[], Any]) -> dict[str, float]:
    """p50 and p95 (ms) of ``fn`` over ``runs`` calls, ``before`` run untimed ahead of each."""
    for _ in range(3):
        before()
        fn()
    samples = []
    for _ in range(runs):
        before()
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3),
    }


def scans(plan: dict[str, Any], table: str) -> list[str]:
    """The scans of ``table`` in a plan tree: ``Index Scan using …``, ``Seq Scan``, …"""
    found = []
    if plan.get("Relation Name") == table and "Scan" in plan["Node Type"]:
        index = plan.get("Index Name")
        found.append(f"{plan['Node Type']} using {index}" if index else plan["Node Type"])
    if plan["Node Type"] == "Bitmap Index Scan" and table in str(plan.get("Index Name", "")):
        found.append(f"Bitmap Index Scan using {plan['Index Name']}")
    prefix = table.removesuffix("jobs")
    found = [f.replace(f"using {prefix}", "using ") for f in found]
    for child in plan.get("Plans", []):
        found += scans(child, table)
    return found


def short(sql: str, table: str) -> str:
    """The statement without its column lists and table prefixes, on one line."""
    text = " ".join(sql.split())
    text = re.sub(r"^SELECT .*? FROM", "SELECT … FROM", text)
    text = re.sub(r"RETURNING .*$", "RETURNING …", text)
    text = re.sub(r"%\(\w+\)s(::(TIMESTAMP WITH TIME ZONE|[A-Z]+))?", "?", text)
    prefix = table.removesuffix("jobs")
    return text.replace(f"{table}.", "").replace(prefix, "")


def explain(dsn: str, statements: list[tuple[str, Any]], table: str) -> list[dict[str, Any]]:
    """EXPLAIN (FORMAT JSON) each distinct statement: its scans of ``table``, and for a plain
    SELECT (read-only) its actual execution time (``EXPLAIN ANALYZE``)."""
    out, seen = [], set()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql, params in statements:
            verb = sql.lstrip().split(None, 1)[0].upper()
            if sql in seen or verb not in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
                continue
            seen.add(sql)
            analyze = verb == "SELECT"  # read-only: safe to run for its actual time
            options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
            with conn.cursor() as cur:
                cur.execute(f"EXPLAIN ({options}) {sql}", params)
                row = cur.fetchone()
            assert row is not None
            plan = row[0][0]["Plan"]
            actual = row[0][0].get("Execution Time")
            found = scans(plan, table)
            out.append(
                {
                    "statement": short(sql, table),
                    "sql": " ".join(sql.split()),
                    "jobs_scans": found,
                    "seq_scan_on_jobs": any(s == "Seq Scan" for s in found),
                    "estimated_cost": plan.get("Total Cost"),
                    "actual_ms": round(actual, 3) if actual is not None else None,
                }
            )
    return out


def _labelled(repo: Any, driver: Driver) -> list[tuple[str, tuple[str, Any]]]:
    """The SQL of the upkeep store's stale-jobs and unsent-jobs queries, as it runs them."""
    now, labelled = datetime.now(UTC), []
    for label, call in (
        ("stale_jobs", lambda: repo.stale_jobs(stale_before=now - timedelta(minutes=1), limit=500)),
        (
            "unsent_jobs",
            lambda: repo.unsent_jobs(idle_before=now - timedelta(minutes=15), now=now, limit=500),
        ),
    ):
        with driver.watch() as seen:
            call()
        labelled += [(label, s) for s in seen]
    return labelled


def run(jobs: int = 1_000_000, runs: int = 50) -> dict[str, object]:
    """Fill the ledger, time the passes and the baselines, EXPLAIN the passes' statements."""
    from sqlalchemy import func, select, update

    from syncjobs import builtin_jobs  # noqa: F401  (the built-in job types)
    from syncjobs.core import maintenance
    from syncjobs.factory import create_app
    from syncjobs.settings import Settings
    from syncjobs.storage.sql import SQLAlchemyRepository

    recover = getattr(maintenance, "recover", None)
    with servers() as (redis_url, pg_url), Driver().installed() as driver:
        prefix = f"r{uuid.uuid4().hex[:8]}_"
        SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False).upgrade()
        table = f"{prefix}jobs"
        fill_s = fill(libpq(pg_url), table, jobs)
        settings = Settings(
            _env_file=None, database_url=pg_url, table_prefix=prefix, broker_url=redis_url
        )
        app = create_app(settings)
        engine, t = app.repository.engine, app.repository.tables.jobs
        broker = RedisCalls(app.broker.client)
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(t.c.id).limit(1000))]

        def beat() -> None:
            """Untimed: live workers' heartbeats; pending jobs recently sent (none lost)."""
            with engine.begin() as conn:
                conn.execute(
                    update(t).where(t.c.status == "processing").values(heartbeat_at=func.now())
                )
                conn.execute(update(t).where(t.c.status == "pending").values(updated_at=func.now()))

        def by_key() -> None:
            with engine.connect() as conn:
                conn.execute(select(t).where(t.c.id == random.choice(ids))).first()

        def processing() -> None:
            with engine.connect() as conn:
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.status == "processing")
                ).scalar()

        passes: dict[str, Callable[[], Any] | None] = {
            "recover": (lambda: recover(app)) if recover is not None else None,
            "maintain": lambda: maintenance.maintain(app),
            "pk_select": by_key,
            "count_processing": processing,
        }
        figures: dict[str, Any] = {}
        issued: list[tuple[str, tuple[str, Any]]] = []
        for name, fn in passes.items():
            if fn is None:
                figures[name] = None
                continue
            figures[name] = timed(fn, runs, beat)
            beat()
            before = broker.count
            with driver.watch() as seen:
                result = fn()
            figures[name]["statements"] = len(seen)
            figures[name]["broker_calls"] = broker.count - before
            if isinstance(result, dict):
                figures[name]["touched"] = {k: v for k, v in result.items() if v}
            if name in ("recover", "maintain"):
                issued += [(name, s) for s in seen]
        issued = _labelled(app.repository, driver) + issued
        plans = explain(libpq(pg_url), [s for _, s in issued], table)
        labels: dict[str, list[str]] = {}
        for label, (sql, _) in issued:
            by = labels.setdefault(" ".join(sql.split()), [])
            if label not in by:
                by.append(label)
        for plan in plans:
            plan["issued_by"] = ", ".join(labels.get(plan.pop("sql"), []))
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(t)).scalar()
        app.close()
    base = figures["pk_select"]["p50_ms"]
    for name in ("recover", "maintain", "count_processing"):
        if figures[name] is not None:
            figures[name]["over_pk_select_p50"] = round(figures[name]["p50_ms"] / base, 1)
    return {
        "finished_jobs": jobs,
        "active_jobs": sum(ACTIVE.values()),
        "ledger_rows": rows,
        "fill_s": round(fill_s, 1),
        "runs": runs,
        "recover_available": recover is not None,
        **figures,
        "plans": plans,
    }


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures and the plans as tables."""
    table = Table(
        "pass",
        "p50 ms",
        "p95 ms",
        "x PK select (p50)",
        "SQL statements",
        "broker calls",
        title=f"recovery passes, {result['ledger_rows']:,} jobs in the ledger "
        f"(filled in {result['fill_s']} s), {result['runs']} runs each",
    )
    for name, label in (
        ("recover", "recover(app)"),
        ("maintain", "maintain(app)"),
        ("pk_select", "baseline: SELECT one job by key"),
        ("count_processing", "baseline: count(*) processing"),
    ):
        fig = result[name]
        if fig is None:
            table.add_row(label, "n/a", "n/a", "n/a", "n/a", "n/a")
            continue
        ratio = "1.0" if name == "pk_select" else str(fig["over_pk_select_p50"])
        table.add_row(
            label,
            str(fig["p50_ms"]),
            str(fig["p95_ms"]),
            ratio,
            str(fig["statements"]),
            str(fig["broker_calls"]),
        )
    console.print(table)
    plans = Table("issued by", "statement", "scans of the jobs table", "actual ms", title="EXPLAIN")
    for plan in result["plans"]:
        how = ", ".join(plan["jobs_scans"]) or "-"
        if plan["seq_scan_on_jobs"]:
            how = f"[bold red]{how}  <- Seq Scan on jobs[/bold red]"
        actual = "-" if plan["actual_ms"] is None else str(plan["actual_ms"])
        plans.add_row(plan["issued_by"], plan["statement"][:160], how, actual)
    console.print(plans)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    res = run(*args)
    save("recovery", res)
    show(res, Console())
