"""``syncjobs demo``: the library at work on the embedded default, nothing to install."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import jobtypes as _builtin  # noqa: F401  (declares the built-in job types)
from .app import Deps, SyncJobs, register_actors
from .factory import create_broker
from .models import Job
from .settings import Settings
from .storage.sql import SQLAlchemyRepository

__all__ = ["demo_app", "run_demo"]


def demo_app(settings: Settings | None = None) -> SyncJobs:
    """Build the demo app: the configured SQL database (SQLite by default), in-memory broker."""
    base = settings or Settings()
    settings = base.model_copy(update={"broker_url": "memory://", "progress_interval": 0.05,
                                       "max_active_jobs_per_owner": 100})
    repo = SQLAlchemyRepository(settings.database_url, table_prefix=settings.table_prefix,
                                check=False, poll_interval=0.05)
    repo.upgrade()
    return register_actors(create_broker(settings), Deps(repository=repo), settings)


def run_demo(console: Console, *, items: int = 40) -> None:
    """Submit a few tracked jobs, run them on in-process workers, and show them live."""
    app = demo_app()
    console.print(f"[bold]syncjobs demo[/bold] — ledger: {app.settings.database_url}, "
                  "broker: in-memory, 4 worker threads")
    owner = "demo-user"
    started = time.monotonic()
    submitted = [
        app.submit("syncjobs.count", owner_id=owner, params={"to": items, "step": 0.02 * (i + 1)})
        for i in range(3)
    ]
    doomed = app.submit("syncjobs.count", owner_id=owner, params={"to": 1000, "step": 0.01})
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[msg]}"))
    final: dict[str, Job] = {}
    with app.worker(threads=4), Progress(*columns, console=console) as bar:
        tasks = {j.id: bar.add_task(f"job {j.id[:8]}", total=100, msg="pending")
                 for j in [*submitted, doomed]}
        cancelled = False
        while len(final) < len(tasks):
            for job_id, task in tasks.items():
                if job_id in final:
                    continue
                job = app.status(job_id, owner_id=owner)
                bar.update(task, completed=job.progress_percent,
                           msg=job.progress_message or job.status.value)
                if job.is_terminal:
                    bar.update(task, msg=f"{job.status.value}")
                    final[job_id] = job
            if not cancelled and app.status(doomed.id, owner_id=owner).progress_percent >= 10:
                app.cancel(doomed.id, owner_id=owner)
                cancelled = True
            time.sleep(0.05)
    table = Table("job", "status", "progress", "result", "attempts", "seconds")
    for job in final.values():
        seconds = (job.completed_at - job.started_at).total_seconds() \
            if job.completed_at and job.started_at else 0.0
        table.add_row(job.id[:8], job.status.value, f"{job.progress_percent:.0f}%",
                      str(job.result or job.error_code or ""), str(job.attempts), f"{seconds:.2f}")
    console.print(table)
    console.print(f"done in {time.monotonic() - started:.1f}s — the ledger keeps every job: "
                  f"`syncjobs jobs --owner {owner}`")
    app.close()
