"""``syncjobs demo``: the library at work on the embedded default, nothing to install.

The bundled fake YouTube, Gmail, Instagram and TikTok servers run on loopback; the ledger is
a SQLite file; Dramatiq's in-memory broker feeds in-process workers. Run it twice: the second
run is an incremental sync that costs about one API call per account.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import jobtypes as _builtin  # noqa: F401  (declares the built-in job types)
from .app import SyncJobs, register_actors
from .factory import create_broker, default_deps
from .models import Job
from .settings import ProviderSettings, Settings
from .storage.sql import SQLAlchemyRepository
from .sync import PROVIDER_LABELS

__all__ = ["demo_app", "run_demo"]

OWNER = "demo-user"


def demo_app(settings: Settings | None = None, **overrides: Any) -> SyncJobs:
    """Build an in-process app: the configured database (SQLite by default), in-memory broker.

    The schema is upgraded, and tokens may be stored unencrypted (fake tokens only).
    """
    base = settings or Settings()
    settings = base.model_copy(update={
        "broker_url": "memory://", "progress_interval": 0.05, "watch_poll_interval": 0.05,
        "max_active_jobs_per_owner": 100, "allow_plaintext_tokens": True, **overrides,
    })
    repo = SQLAlchemyRepository(settings.database_url, table_prefix=settings.table_prefix,
                                check=False, poll_interval=settings.watch_poll_interval)
    repo.upgrade()
    return register_actors(create_broker(settings), default_deps(repo, settings), settings)


@contextmanager
def fake_providers(items: int) -> Iterator[tuple[Any, dict[str, ProviderSettings]]]:
    """Serve the four fake providers on loopback; yield them and their provider settings."""
    from .testing.fakes import CombinedFakes, serve

    fakes = CombinedFakes(items_per_provider=items, seed=2026)
    with serve(fakes) as root:
        yield fakes, {
            name: ProviderSettings(**dataclasses.asdict(fakes.config(name, root)))
            for name in PROVIDER_LABELS
        }


def run_demo(console: Console, *, items: int = 750) -> None:
    """Connect one account per provider, sync them all with live progress, show a summary."""
    with fake_providers(items) as (fakes, configs):
        app = demo_app(None, **configs)
        console.print(f"[bold]syncjobs demo[/bold] — ledger {app.settings.database_url}, "
                      f"in-memory broker, fake providers with {items} items each")
        started = time.monotonic()
        jobs = {}
        for name in PROVIDER_LABELS:
            account = app.connect_account(OWNER, name, fakes[name].issue_tokens(),
                                          external_id=f"demo-{name}",
                                          display_name=f"demo {PROVIDER_LABELS[name]}")
            jobs[name] = app.sync_account(account.id, owner_id=OWNER)
        with app.worker(threads=4):
            final = _follow(app, jobs, console)
        _summary(app, final, console, time.monotonic() - started)
        app.close()


def _follow(app: SyncJobs, jobs: dict[str, Job], console: Console) -> dict[str, Job]:
    columns = (TextColumn("{task.description:<10}"), BarColumn(), TaskProgressColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[msg]}"))
    final: dict[str, Job] = {}
    with Progress(*columns, console=console) as bar:
        tasks = {name: bar.add_task(PROVIDER_LABELS[name], total=100, msg="pending")
                 for name in jobs}
        while len(final) < len(jobs):
            for name, job in jobs.items():
                if name in final:
                    continue
                now = app.status(job.id, owner_id=OWNER)
                bar.update(tasks[name], completed=now.progress_percent,
                           msg=now.progress_message or now.status.value)
                if now.is_terminal:
                    bar.update(tasks[name], completed=100 if now.result else now.progress_percent,
                               msg=now.status.value if not now.error_code else now.error_code)
                    final[name] = now
            time.sleep(0.05)
    return final


def _summary(app: SyncJobs, final: dict[str, Job], console: Console, seconds: float) -> None:
    table = Table("provider", "status", "stored", "new", "changed", "deleted", "calls",
                  "units", "secs", title="sync summary")
    accounts = app.deps.accounts
    assert accounts is not None

    def stored(account_id: str) -> int:
        return len(accounts.list_items(account_id, limit=1_000_000))

    for name, job in final.items():
        r = job.result or {}
        took = (job.completed_at - job.started_at).total_seconds() \
            if job.completed_at and job.started_at else 0.0
        table.add_row(PROVIDER_LABELS[name], job.status.value,
                      str(stored(job.params["account_id"])), str(r.get("added", "")),
                      str(r.get("updated", "")), str(r.get("deleted", "")),
                      str(r.get("api_calls", "")),
                      str(r.get("quota_units", "")), f"{took:.2f}")
    console.print(table)
    console.print(f"done in {seconds:.1f}s. Run it again for an incremental sync; "
                  f"`syncjobs jobs --owner {OWNER}` lists the jobs.")
