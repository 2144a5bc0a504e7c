"""What the operator's dashboard costs on a big ledger: each browser query alone, and each page.

Setup: a fresh table prefix on durable PostgreSQL (fsync on), filled by ``COPY`` (``fill``)
with JOBS jobs created over the last 30 days across ~10,000 owners (skewed: the busiest owner
has ~2% of the jobs, a typical one a few dozen), five job types (one rare), finished ones
(completed, failed, cancelled) plus 2,000 pending and 200 processing on 20 live workers; most
failed jobs are dead letters, a fifth of the jobs are follow-ups of another (``parent_id``).
Beside them: 10,000 accounts on four providers (a few paused or disabled), 300,000 synced
items (10% deleted) and 300,000 provider-usage rows over the 30 days. Jobs go in oldest
first, as a live ledger inserts them. ``VACUUM ANALYZE`` runs once after the fill, as
autovacuum would (it sets the visibility map that index-only scans read).

Each query runs RUNS times after three untimed warm-ups, alone (one at a time, through
``SQLAlchemyRepository``): p50 and p95 in ms. The deep page is the keyset page after 10,000
rows, beside ``list_jobs(offset=10000)`` (the OFFSET page it replaces); ``purge_jobs`` of
``maintain`` runs in its steady state (nothing past retention) and ``job_counts`` as the
overview reads it. Each query's SQL, as
the driver saw it, is then ``EXPLAIN ANALYZE``d: its scans (table, index) and its actual time.

When ``syncjobs.web`` has ``dashboard`` (the pages), each page is fetched RUNS times through an
in-process ASGI client (``httpx.ASGITransport``: server time, no network) and its p50/p95 is
printed beside the main query's.

Run: `make bench BENCH_ARGS=dashboard` or `.venv/bin/python bench/dashboard.py [JOBS] [RUNS]`;
the table is written to bench/results/dashboard.md with the command.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, libpq, save, servers
from bench.recovery import Driver

OWNERS = 10_000
BUSY_OWNER, TYPICAL_OWNER = "owner-0", "owner-5000"
JOB_TYPES = (
    ("sync_account", "sync", 60),
    ("analyze_items", "insights", 20),
    ("deliver_notification", "notify", 14),
    ("syncjobs.noop", "syncjobs", 5),
    ("export_report", "reports", 1),
)
RARE_TYPE = "export_report"
FINISHED = (("completed", 88), ("failed", 7), ("cancelled", 5))
PENDING, PROCESSING, WORKERS = 2_000, 200, 20
ACCOUNTS, ITEMS, USAGE_ROWS = 10_000, 300_000, 300_000
PROVIDERS = (("youtube", 50), ("gmail", 30), ("instagram", 12), ("tiktok", 8))
STATES = (("active", 93), ("reauth_required", 5), ("disabled", 2))
DAYS = 30
NULL = "\\N"
JOB_COLUMNS = (
    "id, owner_id, job_type, queue, priority, params, status, progress_percent, retry_count, "
    "attempts, max_retries, cancel_requested, error_code, worker_id, parent_id, created_at, "
    "started_at, completed_at, heartbeat_at, updated_at"
)


def _ts(value: datetime | None) -> str:
    return NULL if value is None else value.isoformat()


def _pick(pairs: tuple[tuple[Any, ...], ...], n: int, rng: random.Random) -> list[Any]:
    return rng.choices([p[:-1] for p in pairs], weights=[p[-1] for p in pairs], k=n)


class Filled:
    """What the fill made that the queries need: a parent with follow-ups, a job, the time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.parent_id = ""
        self.some_job_id = ""
        self.dead_letters = 0


def _job_rows(n: int, filled: Filled, rng: random.Random, dead: list[str]) -> Iterator[str]:
    """COPY lines of n jobs; failed ones' dead-letter lines go to ``dead``."""
    now, span = filled.now, DAYS * 24 * 3600
    weights = [1 / (r + 1) ** 0.7 for r in range(OWNERS)]
    owners = rng.choices(range(OWNERS), weights=weights, k=n)
    types, statuses = _pick(JOB_TYPES, n, rng), _pick(FINISHED, n, rng)
    # Oldest first, as a live ledger inserts them: the heap follows created_at.
    finished = n - PROCESSING - PENDING
    ages = sorted((rng.uniform(600, span) for _ in range(finished)), reverse=True)
    ages += sorted((rng.uniform(1, 600) for _ in range(PROCESSING + PENDING)), reverse=True)
    active = set(rng.sample(range(finished, n), PROCESSING))
    last_sync = ""
    for i in range(n):
        job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        (job_type, queue), (status,) = types[i], statuses[i]
        worker, heartbeat, age = NULL, None, ages[i]
        if i in active:
            status, w = "processing", i % WORKERS
            worker, heartbeat = f"node-{w}:{1000 + w}:{140000 + i}", now
        elif i >= finished:
            status = "pending"
        created = now - timedelta(seconds=age)
        started = created + timedelta(seconds=rng.uniform(0.01, 5)) if status != "pending" else None
        done = None
        if status in ("completed", "failed", "cancelled"):
            assert started is not None
            done = min(started + timedelta(seconds=rng.uniform(0.05, 60)), now)
        parent = NULL
        if job_type == "sync_account":
            last_sync = job_id
        elif job_type == "analyze_items" and last_sync:
            parent = last_sync  # a follow-up of the sync before it
            filled.parent_id = filled.parent_id or parent
        owner = f"owner-{owners[i]}"
        code = {"failed": "provider_error", "cancelled": "cancelled"}.get(status, NULL)
        if status == "failed" and rng.random() < 0.9:
            dead.append(
                "\t".join((job_id, owner, job_type, "{}", "provider_error", "boom", "3", _ts(done)))
            )
        filled.some_job_id = job_id
        yield "\t".join(
            (
                job_id,
                owner,
                job_type,
                queue,
                "5",
                "{}",
                status,
                "100" if status == "completed" else "0",
                "0",
                "0" if status == "pending" else "1",
                "3",
                "f",
                code,
                worker,
                parent,
                _ts(created),
                _ts(started),
                _ts(done),
                _ts(heartbeat),
                _ts(done or created),
            )
        )


def _copy(cur: Any, table: str, columns: str, lines: Iterator[str]) -> None:
    with cur.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == 20_000:
                copy.write("\n".join(chunk) + "\n")
                chunk = []
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def _account_rows(filled: Filled, rng: random.Random, ids: list[str]) -> Iterator[str]:
    providers, states = _pick(PROVIDERS, ACCOUNTS, rng), _pick(STATES, ACCOUNTS, rng)
    for i in range(ACCOUNTS):
        account_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ids.append(account_id)
        created = filled.now - timedelta(days=rng.uniform(1, 300))
        yield "\t".join(
            (
                account_id,
                f"owner-{i % OWNERS}",
                providers[i][0],
                f"ext-{i}",
                f"Channel {i}",
                states[i][0],
                "{}",
                "1800",
                _ts(filled.now + timedelta(seconds=rng.uniform(0, 1800))),
                _ts(filled.now - timedelta(seconds=rng.uniform(0, 1800))),
                _ts(created),
                _ts(created),
            )
        )


def _item_rows(filled: Filled, rng: random.Random, accounts: list[str]) -> Iterator[str]:
    owners = rng.choices(accounts, weights=[1 / (r + 1) ** 0.5 for r in range(ACCOUNTS)], k=ITEMS)
    for i, account_id in enumerate(owners):
        seen = _ts(filled.now - timedelta(days=rng.uniform(0, DAYS)))
        deleted = seen if rng.random() < 0.1 else NULL
        head = (account_id, f"item-{i}", "video", f"Title {i}", NULL, NULL, NULL, "{}", "{}")
        yield "\t".join((*head, "h" * 32, seen, seen, seen, deleted, "done", "0", "f", "0"))


def _usage_rows(filled: Filled, rng: random.Random, accounts: list[str]) -> Iterator[str]:
    providers = _pick(PROVIDERS, USAGE_ROWS, rng)
    for i in range(USAGE_ROWS):
        at = filled.now - timedelta(seconds=rng.uniform(0, DAYS * 24 * 3600))
        calls = rng.randint(1, 40)
        owner = f"owner-{i % OWNERS}"
        yield "\t".join(
            (
                owner,
                rng.choice(accounts),
                providers[i][0],
                NULL,
                str(calls),
                str(calls * 3),
                _ts(at),
            )
        )


def fill(dsn: str, prefix: str, jobs: int) -> tuple[Filled, float]:
    """COPY the jobs, dead letters, workers, accounts, items and usage; ANALYZE; the seconds."""
    began, rng, filled = time.monotonic(), random.Random(20), Filled()
    dead: list[str] = []
    accounts: list[str] = []
    now = filled.now
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        _copy(cur, f"{prefix}jobs", JOB_COLUMNS, _job_rows(jobs, filled, rng, dead))
        _copy(
            cur,
            f"{prefix}dead_letters",
            "job_id, owner_id, job_type, params, error_code, error_message, attempts, failed_at",
            iter(dead),
        )
        filled.dead_letters = len(dead)
        day, two = _ts(now - timedelta(days=1)), _ts(now - timedelta(days=2))
        beats = [f"node-{w}:{1000 + w}\tworker\t{day}\t{_ts(now)}" for w in range(WORKERS)]
        beats += [f"old-{w}:{w}\tworker\t{two}\t{two}" for w in range(50)]  # long gone
        beats += [f"scheduler\tscheduler\t{day}\t{_ts(now)}"]
        _copy(cur, f"{prefix}workers", "id, kind, started_at, seen_at", iter(beats))
        _copy(
            cur,
            f"{prefix}accounts",
            "id, owner_id, provider, external_id, display_name, state, cursor, sync_interval, "
            "next_sync_at, last_synced_at, created_at, updated_at",
            _account_rows(filled, rng, accounts),
        )
        _copy(
            cur,
            f"{prefix}items",
            "account_id, external_id, kind, title, text, author, published_at, metrics, raw, "
            "content_hash, first_seen_at, last_modified_at, last_seen_at, deleted_at, "
            "analysis_state, analysis_priority, review_flag, analysis_attempts",
            _item_rows(filled, rng, accounts),
        )
        _copy(
            cur,
            f"{prefix}provider_usage",
            "owner_id, account_id, provider, job_id, api_calls, quota_units, at",
            _usage_rows(filled, rng, accounts),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")  # as autovacuum would after the inserts
    return filled, time.monotonic() - began


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    """p50 and p95 (ms) of ``fn`` over ``runs`` calls after three untimed warm-ups."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }


def _queries(repo: Any, filled: Filled) -> dict[str, Callable[[], Any]]:
    """The dashboard's queries by name, each a call of the repository."""
    from syncjobs.connections.browse import AccountQuery
    from syncjobs.connections.models import AccountState
    from syncjobs.core.browse import JobQuery
    from syncjobs.core.models import JobStatus

    now = filled.now

    def after_10k(**filters: Any) -> tuple[datetime, str]:
        """The cursor after 10,000 rows: 20 pages of 500."""
        cursor = None
        for _ in range(20):
            page = repo.browse_jobs(JobQuery(after=cursor, limit=500, **filters))
            cursor = (page[-1].created_at, page[-1].id)
        assert cursor is not None
        return cursor

    cursor, failed = after_10k(), after_10k(status=JobStatus.FAILED)
    hour = now.replace(second=0, microsecond=0) - timedelta(hours=1)
    day = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)
    return {
        "jobs: first page": lambda: repo.browse_jobs(JobQuery()),
        "jobs: page after 10k rows (keyset)": lambda: repo.browse_jobs(JobQuery(after=cursor)),
        "jobs: OFFSET 10000 (list_jobs, for contrast)": lambda: repo.list_jobs(offset=10_000),
        "jobs: status=failed": lambda: repo.browse_jobs(JobQuery(status=JobStatus.FAILED)),
        "jobs: status=failed, page after 10k rows": lambda: repo.browse_jobs(
            JobQuery(status=JobStatus.FAILED, after=failed)
        ),
        "jobs: status=pending": lambda: repo.browse_jobs(JobQuery(status=JobStatus.PENDING)),
        "jobs: type=sync_account": lambda: repo.browse_jobs(JobQuery(job_type="sync_account")),
        f"jobs: type={RARE_TYPE} (1%)": lambda: repo.browse_jobs(JobQuery(job_type=RARE_TYPE)),
        "jobs: failed + analyze_items": lambda: repo.browse_jobs(
            JobQuery(status=JobStatus.FAILED, job_type="analyze_items")
        ),
        f"jobs: owner={BUSY_OWNER} (busiest)": lambda: repo.browse_jobs(
            JobQuery(owner_id=BUSY_OWNER)
        ),
        f"jobs: owner={TYPICAL_OWNER} (typical)": lambda: repo.browse_jobs(
            JobQuery(owner_id=TYPICAL_OWNER)
        ),
        "jobs: created in one day, 10 days ago": lambda: repo.browse_jobs(
            JobQuery(
                created_after=now - timedelta(days=11), created_before=now - timedelta(days=10)
            )
        ),
        "child_jobs (follow-ups)": lambda: repo.child_jobs(filled.parent_id),
        "throughput: last hour, 1-min buckets": lambda: repo.throughput(
            since=hour, until=hour + timedelta(hours=1), bucket_seconds=60
        ),
        "throughput: last 24 h, 1-h buckets": lambda: repo.throughput(
            since=day, until=day + timedelta(hours=24), bucket_seconds=3600
        ),
        "workers (seen in 5 min)": lambda: repo.workers(seen_after=now - timedelta(minutes=5)),
        "dead_letter_count": repo.dead_letter_count,
        "list_dead_letters (200 newest)": lambda: repo.list_dead_letters(limit=200),
        "purge_jobs (maintain; nothing past retention)": lambda: repo.purge_jobs(
            finished_before=now - timedelta(days=DAYS + 1),
            failed_before=now - timedelta(days=DAYS + 1),
            limit=1000,
        ),
        "job_counts (by type and status)": repo.job_counts,
        "accounts: first page": lambda: repo.browse_accounts(AccountQuery()),
        "accounts: youtube, reauth_required": lambda: repo.browse_accounts(
            AccountQuery(provider="youtube", state=AccountState.REAUTH_REQUIRED)
        ),
        "account_states": repo.account_states,
        "provider usage by day, 14 days": lambda: repo.provider_usage_by_day(
            start=now - timedelta(days=14), end=now
        ),
        "provider usage by day, 30 days": lambda: repo.provider_usage_by_day(
            start=now - timedelta(days=DAYS), end=now
        ),
    }


def _scans(plan: dict[str, Any], prefix: str) -> list[str]:
    """Every scan in a plan tree, as ``Node Type on table using index`` without the prefix."""
    found = []
    if "Scan" in plan["Node Type"]:
        where = plan.get("Relation Name") or ""
        how = plan["Node Type"] + (f" on {where}" if where else "")
        if plan.get("Index Name"):
            how += f" using {plan['Index Name']}"
        if "ROW(" in plan.get("Index Cond", ""):
            how += " [keyset in Index Cond]"
        found.append(how.replace(prefix, ""))
    for child in plan.get("Plans", []):
        found += _scans(child, prefix)
    return found


def explain(dsn: str, statements: list[tuple[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """EXPLAIN ANALYZE (FORMAT JSON) each SELECT: its scans and actual time."""
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with conn.cursor() as cur:
                cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
                row = cur.fetchone()
            assert row is not None
            plan = row[0][0]
            jit = plan.get("JIT", {}).get("Timing", {}).get("Total")
            out.append(
                {
                    "scans": _scans(plan["Plan"], prefix),
                    "actual_ms": round(plan["Execution Time"], 2),
                    "jit_ms": round(jit, 2) if jit is not None else None,
                }
            )
    return out


#: Each page's path (``{job}``, ``{after}``: filled in) and the query it mostly waits on.
PAGES = (
    ("/", "job_counts (by type and status)"),
    ("/jobs", "jobs: first page"),
    ("/jobs?after={after}", "jobs: page after 10k rows (keyset)"),
    ("/jobs?status=failed", "jobs: status=failed"),
    (f"/jobs?type={RARE_TYPE}", f"jobs: type={RARE_TYPE} (1%)"),
    (f"/jobs?owner={BUSY_OWNER}", f"jobs: owner={BUSY_OWNER} (busiest)"),
    ("/jobs/{job}", "child_jobs (follow-ups)"),
    ("/dead-letters", "list_dead_letters (200 newest)"),
    ("/schedules", ""),
    ("/accounts", "provider usage by day, 14 days"),
)


def page_timings(settings: Any, repo: Any, filled: Filled, runs: int) -> dict[str, Any] | None:
    """Each dashboard page's p50/p95 (ms) through an in-process ASGI client; None without
    ``syncjobs.web.dashboard``."""
    try:
        from syncjobs.web import dashboard  # type: ignore[attr-defined]
    except ImportError:
        return None
    import httpx

    from syncjobs.core.browse import JobQuery
    from syncjobs.factory import create_app
    from syncjobs.web.filters import job_cursor

    app = create_app(settings)
    web = dashboard(app, authorize=lambda request: True)
    last = repo.browse_jobs(JobQuery(limit=1000))
    for _ in range(9):
        last = repo.browse_jobs(JobQuery(after=(last[-1].created_at, last[-1].id), limit=1000))
    after = job_cursor(last[-1])
    out: dict[str, Any] = {}

    async def fetch_all() -> None:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://dash") as client:
            for path, _query in PAGES:
                url = path.replace("{job}", filled.parent_id).replace("{after}", quote(after))
                status = (await client.get(url)).status_code
                for _ in range(2):
                    await client.get(url)
                samples = []
                for _ in range(runs):
                    began = time.perf_counter()
                    await client.get(url)
                    samples.append(time.perf_counter() - began)
                ordered = sorted(samples)
                out[path] = {
                    "status": status,
                    "p50_ms": round(statistics.median(ordered) * 1000, 2),
                    "p95_ms": round(ordered[min(runs - 1, int(runs * 0.95))] * 1000, 2),
                }

    asyncio.run(fetch_all())
    app.close()
    return out


def run(jobs: int = 1_000_000, runs: int = 30) -> dict[str, Any]:
    """Fill, time each query (and page), EXPLAIN each query."""
    from syncjobs.settings import Settings
    from syncjobs.storage.sql import SQLAlchemyRepository

    with servers() as (redis_url, pg_url), Driver().installed() as driver:
        prefix = f"d{uuid.uuid4().hex[:8]}_"
        SQLAlchemyRepository(pg_url, table_prefix=prefix, check=False).upgrade()
        filled, fill_s = fill(libpq(pg_url), prefix, jobs)
        repo = SQLAlchemyRepository(pg_url, table_prefix=prefix)
        figures: dict[str, Any] = {}
        for name, fn in _queries(repo, filled).items():
            figures[name] = timed(fn, runs)
            with driver.watch() as seen:
                fn()
            figures[name]["statements"] = len(seen)
            figures[name]["plans"] = explain(libpq(pg_url), list(seen), prefix)
        settings = Settings(
            _env_file=None, database_url=pg_url, table_prefix=prefix, broker_url=redis_url
        )
        pages = page_timings(settings, repo, filled, runs)
        repo.close()
    return {
        "jobs": jobs,
        "dead_letters": filled.dead_letters,
        "accounts": ACCOUNTS,
        "items": ITEMS,
        "provider_usage_rows": USAGE_ROWS,
        "fill_s": round(fill_s, 1),
        "runs": runs,
        "queries": figures,
        "pages": pages,
    }


def _plan_text(fig: dict[str, Any]) -> str:
    parts = []
    for plan in fig["plans"]:
        jit = f", JIT {plan['jit_ms']} ms of it" if plan.get("jit_ms") else ""
        parts.append(f"{'; '.join(plan['scans']) or '-'} ({plan['actual_ms']} ms{jit})")
    return " | ".join(parts)


def show(result: dict[str, Any], console: Console) -> None:
    """Print the queries (with their plans) and the pages as tables; write the markdown."""
    title = (
        f"dashboard queries, {result['jobs']:,} jobs, {result['accounts']:,} accounts "
        f"(filled in {result['fill_s']} s), {result['runs']} runs each"
    )
    table = Table("query", "p50 ms", "p95 ms", "plan (EXPLAIN ANALYZE)", title=title)
    for name, fig in result["queries"].items():
        table.add_row(name, str(fig["p50_ms"]), str(fig["p95_ms"]), _plan_text(fig))
    console.print(table)
    pages = result["pages"]
    if pages is None:
        console.print("[yellow]pages: syncjobs.web has no dashboard here; not timed[/yellow]")
    else:
        ptable = Table(
            "page", "HTTP", "p50 ms", "p95 ms", "main query", "query p50 ms", title="pages"
        )
        for path, query in PAGES:
            fig, q = pages[path], result["queries"].get(query)
            ptable.add_row(
                path,
                str(fig["status"]),
                str(fig["p50_ms"]),
                str(fig["p95_ms"]),
                query or "-",
                str(q["p50_ms"]) if q else "-",
            )
        console.print(ptable)
    write_markdown(result)


def write_markdown(result: dict[str, Any]) -> Path:
    """bench/results/dashboard.md: the command, then the tables."""
    args = " ".join(sys.argv[1:]) if Path(sys.argv[0]).name == "dashboard.py" else ""
    command = f".venv/bin/python bench/dashboard.py {args}".strip()
    if Path(sys.argv[0]).name == "run.py":
        command = f".venv/bin/python bench/run.py {' '.join(sys.argv[1:])}".strip()
    lines = [
        "# Dashboard queries and pages",
        "",
        f"Command: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{result['jobs']:,} jobs ({result['dead_letters']:,} dead letters), "
        f"{result['accounts']:,} accounts, {result['items']:,} items, "
        f"{result['provider_usage_rows']:,} provider-usage rows on PostgreSQL (fsync on), "
        f"filled in {result['fill_s']} s; {result['runs']} timed runs each after 3 warm-ups.",
        "",
        "| query | p50 ms | p95 ms | plan (EXPLAIN ANALYZE: scans, actual time) |",
        "|---|---:|---:|---|",
    ]
    for name, fig in result["queries"].items():
        plan = _plan_text(fig).replace("|", "/")
        lines.append(f"| {name} | {fig['p50_ms']} | {fig['p95_ms']} | {plan} |")
    pages = result["pages"]
    lines.append("")
    if pages is None:
        lines.append("Pages: not timed (`syncjobs.web` has no `dashboard` in this checkout).")
    else:
        lines += [
            "| page | HTTP | p50 ms | p95 ms | main query | query p50 ms |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for path, query in PAGES:
            fig, q = pages[path], result["queries"].get(query)
            main = f"{query} | {q['p50_ms']}" if q else "- | -"
            lines.append(
                f"| `{path}` | {fig['status']} | {fig['p50_ms']} | {fig['p95_ms']} | {main} |"
            )
    out = ROOT / "bench" / "results" / "dashboard.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:3]]
    res = run(*numbers)
    save("dashboard", res)
    show(res, Console())
