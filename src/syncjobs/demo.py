"""``syncjobs demo``: the library at work on the embedded default, nothing to install.

The bundled fake YouTube, Gmail, Instagram and TikTok servers run on loopback, and each account
is connected through its fake consent page as a host app does; the ledger is a SQLite file;
Dramatiq's in-memory broker feeds in-process workers. Run it twice: the second
run is an incremental sync that costs about one API call per account.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Column, Table

from .app import SyncJobs, register_actors
from .connections.service import PROVIDER_LABELS
from .core.models import Job
from .errors import InvalidInputError, ProviderError
from .factory import create_broker, default_deps
from .settings import ProviderSettings, Settings
from .storage.sql import SQLAlchemyRepository
from .testing.fakes import CombinedFakes, serve

__all__ = ["demo_app", "run_demo"]

OWNER = "demo-user"


def demo_app(settings: Settings | None = None, **overrides: Any) -> SyncJobs:
    """Build an in-process app: the configured database (SQLite by default), in-memory broker.

    The schema is upgraded, and tokens may be stored unencrypted (fake tokens only).
    """
    base = settings or Settings()
    settings = base.model_copy(
        update={
            "broker_url": "memory://",
            "progress_interval": 0.05,
            "watch_poll_interval": 0.05,
            "max_active_jobs_per_owner": 100,
            "allow_plaintext_tokens": True,
            **overrides,
        }
    )
    repo = SQLAlchemyRepository(
        settings.database_url,
        table_prefix=settings.table_prefix,
        check=False,
        poll_interval=settings.watch_poll_interval,
    )
    repo.upgrade()
    return register_actors(create_broker(settings), default_deps(repo, settings), settings)


@contextmanager
def fake_providers(items: int) -> Iterator[tuple[CombinedFakes, dict[str, ProviderSettings]]]:
    """Serve the four fake providers on loopback; yield them and their provider settings."""
    fakes = CombinedFakes(items_per_provider=items, seed=2026)
    with serve(fakes) as root:
        yield (
            fakes,
            {
                name: ProviderSettings(**dataclasses.asdict(fakes.config(name, root)))
                for name in PROVIDER_LABELS
            },
        )


def run_demo(console: Console, *, items: int = 750) -> None:
    """Sync one account per provider with live progress, then analyse, score, count, tidy."""
    if items < 1:
        raise InvalidInputError(f"items must be at least 1 (got {items})")
    with fake_providers(items) as (_, configs):
        app = demo_app(None, oauth_redirect_uri=DEMO_REDIRECT_URI, **configs)
        console.print(
            f"[bold]syncjobs demo[/bold] — ledger {app.settings.database_url}, "
            f"in-memory broker, fake providers with {items} items each"
        )
        started = time.monotonic()
        app.insights.set_preferences(
            OWNER,
            blocked_words=list(DEMO_BLOCKED_WORDS),
            viewer_age=12,
            allowed_channels=list(DEMO_ALLOWED_CHANNELS),
        )
        console.print("[bold]0. connect[/bold] each account through its consent page")
        syncs = {
            PROVIDER_LABELS[name]: connect_through_consent(app, name, console)
            for name in PROVIDER_LABELS
        }
        with app.worker(threads=4):
            console.print("[bold]1. sync[/bold] all four accounts at once")
            synced = _follow(app, syncs, console)
            steps: dict[str, Job] = {}
            for number, (label, job_type, params) in enumerate(PIPELINE, start=2):
                console.print(f"[bold]{number}. {label}[/bold]")
                job = app.submit(job_type, owner_id=OWNER, params=params)
                steps.update(_follow(app, {label: job}, console))
        _summary(app, synced, console)
        _results(app, steps, console)
        console.print(
            f"done in {time.monotonic() - started:.1f}s. Run it again for an "
            f"incremental sync; `syncjobs jobs --owner {OWNER}` lists the jobs."
        )
        app.close()


def connect_through_consent(app: SyncJobs, provider: str, console: Console) -> Job:
    """Connect the demo owner's ``provider`` account the way a host app does; its sync job.

    ``begin_connect`` gives the consent page's URL; the fake approves at once and redirects
    to the callback, whose query ``complete_connect`` takes (no web server needed: the
    redirect is read, not followed).
    """
    start = app.accounts.begin_connect(OWNER, provider)
    consent = httpx.get(start.url, follow_redirects=False, timeout=30)
    if consent.status_code != 302:
        raise ProviderError(
            f"the consent page answered {consent.status_code}: {consent.text[:200]}",
            provider=provider,
        )
    done = app.accounts.complete_connect(OWNER, consent.headers["location"])
    again = " again" if done.reconnected else ""
    console.print(
        f"   {PROVIDER_LABELS[provider]:<9} connected{again}: "
        f"{done.account.display_name or done.account.external_id}"
    )
    return done.sync_job


#: The callback URL the demo registers; never served, its query is read from the redirect.
DEMO_REDIRECT_URI = "http://127.0.0.1/demo/oauth/callback"
#: The word the demo owner blocks (the fake data's titles and texts use it now and then).
DEMO_BLOCKED_WORDS = ("robot",)
#: A sender of the fake Gmail whose mail the demo owner trusts: it skips analysis.
DEMO_ALLOWED_CHANNELS = ("GitHub <noreply@github.com>",)

#: What the demo runs after the syncs: label, job type, params.
PIPELINE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("analyse", "analyze_items", {"max_items": 1_000_000}),
    ("trust scores", "update_trust_scores", {"owner_id": OWNER}),
    ("usage", "aggregate_usage", {}),
    ("cleanup", "cleanup_old_data", {}),
)


def _table(*columns: str, title: str, wrap: tuple[str, ...] = ()) -> Table:
    """A frameless table that fits 80 columns: numbers right-aligned, ``wrap`` columns fold.

    The first column, ``status`` and the ``wrap`` columns hold text; the others numbers.
    """
    made = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        title=title,
        title_justify="left",
        title_style="bold",
    )
    for i, header in enumerate(columns):
        made.add_column(
            header,
            justify="left" if i == 0 or header in (*wrap, "status") else "right",
            no_wrap=header not in wrap,
            overflow="fold",
            min_width=len(header),
        )
    return made


def _follow(app: SyncJobs, jobs: dict[str, Job], console: Console) -> dict[str, Job]:
    """Show one live progress bar per job until every job has finished."""
    columns = (
        TextColumn("{task.description:<13}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=16),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[msg]}", table_column=Column(overflow="fold")),
    )
    final: dict[str, Job] = {}
    with Progress(*columns, console=console) as bar:
        tasks = {label: bar.add_task(label, total=100, msg="pending") for label in jobs}
        while len(final) < len(jobs):
            for label, job in jobs.items():
                if label in final:
                    continue
                now = app.status(job.id, owner_id=OWNER)
                bar.update(
                    tasks[label],
                    total=None if now.progress_indeterminate else 100,  # None: a pulsing bar
                    completed=now.progress_percent,
                    msg=now.progress_message or now.status.value,
                )
                if now.is_terminal:
                    ok = now.status.value == "completed"
                    bar.update(
                        tasks[label],
                        total=100,
                        completed=100 if ok else now.progress_percent,
                        msg=(now.progress_message or "")
                        if ok
                        else f"{now.status.value}: {now.error_code}",
                    )
                    final[label] = now
            time.sleep(0.05)
    return final


def _seconds(job: Job) -> str:
    if job.completed_at and job.started_at:
        return f"{(job.completed_at - job.started_at).total_seconds():.2f}"
    return "-"


def _summary(app: SyncJobs, final: dict[str, Job], console: Console) -> None:
    """What each provider's sync stored and cost, then the analysis decisions per provider."""
    accounts, insights = app.deps.accounts, app.insights.repository
    assert accounts is not None
    decisions: dict[str, Counter[str]] = {}
    for a in insights.list_analyses(owner_id=OWNER, limit=10_000_000):
        decisions.setdefault(a.account_id, Counter())[a.decision.value] += 1
    synced = _table(
        "provider",
        "status",
        "items",
        "new",
        "changed",
        "deleted",
        "API calls",
        "quota",
        "secs",
        title="synced, per provider",
    )
    judged = _table("provider", "allow", "block", "review", title="analysed, per provider")
    for label, job in final.items():
        r = job.result or {}
        account_id = job.params["account_id"]
        seen = decisions.get(account_id, Counter())
        synced.add_row(
            label,
            job.status.value,
            str(len(accounts.list_items(account_id, limit=10_000_000))),
            *(str(r.get(k, "")) for k in ("added", "updated", "deleted", "api_calls")),
            str(r.get("quota_units", "")),
            _seconds(job),
        )
        judged.add_row(label, *(str(seen[d]) for d in ("allow", "block", "review")))
    console.print(synced)
    console.print(judged)


def _brief(result: dict[str, Any]) -> str:
    """The non-zero counts of a step's result (rows written, for the usage rollups)."""
    parts = []
    for key, value in result.items():
        if key in ("errors", "total", "remaining"):
            continue
        if isinstance(value, int) and value:
            parts.append(f"{key} {value}")
        elif isinstance(value, dict) and value.get("written"):
            parts.append(f"{key} rows {value['written']}")
    return ", ".join(parts)


def _results(app: SyncJobs, steps: dict[str, Job], console: Console) -> None:
    """The pipeline's results: each step, trust scores, today's usage."""
    table = _table("step", "status", "result", "secs", title="after the sync", wrap=("result",))
    for label, job in steps.items():
        r = job.result if isinstance(job.result, dict) else {}
        shown = _brief(r)
        if job.status.value == "completed" and not shown:
            shown = "nothing to do this time"
        table.add_row(label, job.status.value, shown or job.error_message or "-", _seconds(job))
    console.print(table)
    scores = app.insights.trust_scores(OWNER)
    trust = _table(
        "channel",
        "score",
        "items",
        "allow",
        "block",
        "review",
        title=f"trust scores (least trusted {min(len(scores), 6)} of {len(scores)})",
        wrap=("channel",),
    )
    for s in scores[:6]:
        trust.add_row(
            s.channel,
            f"{s.score:.2f}",
            str(s.videos_analysed),
            str(s.allow),
            str(s.block),
            str(s.review),
        )
    console.print(trust)
    usage = _table(
        "day (UTC)",
        "items analysed",
        "AI calls",
        "tokens",
        "API calls",
        "quota units",
        title="usage",
    )
    for u in app.insights.usage(OWNER, period="day")[-3:]:
        usage.add_row(
            u.period_start.date().isoformat(),
            str(u.items_analysed),
            str(u.ai_calls),
            str(u.tokens),
            str(u.api_calls),
            str(u.quota_units),
        )
    console.print(usage)
