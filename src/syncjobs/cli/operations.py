"""Operator commands: upgrade the database, schedules, health, a new key, the demo."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..connections.credentials import generate_key
from ..demo import run_demo
from ..factory import import_job_modules
from ..settings import Settings
from ..storage.sql import SQLAlchemyRepository
from .fmt import ago, span
from .output import AsJson, current_app, guarded, number, out, table, user_errors, wrapping
from .where import describe_database


def db_upgrade() -> None:
    """Create or upgrade the ledger tables to this version's schema (its Alembic revisions)."""

    def run() -> None:
        settings = Settings()
        import_job_modules(settings)  # a misnamed module fails here, not later in a worker
        repo = SQLAlchemyRepository(
            settings.database_url, table_prefix=settings.table_prefix, check=False
        )
        try:
            applied = repo.upgrade()
        finally:
            repo.close()
        where = describe_database(settings)
        out.print(
            f"applied revisions: {', '.join(applied)} ({where})"
            if applied
            else f"schema already up to date ({where})",
            highlight=False,
            soft_wrap=True,
        )

    guarded(run)


def schedules(as_json: AsJson = False) -> None:
    """List schedules: cron, timezone, last and next slot."""
    listed = guarded(lambda: current_app().schedules())
    if as_json:
        out.print_json(json.dumps([s.to_dict() for s in listed]))
        return
    shown = table("job type", "cron", wrapping("tz"), "on", "missed", "last fired", "next")
    for s in listed:
        shown.add_row(
            s.job_type,
            s.cron,
            s.timezone,
            "yes" if s.enabled else "no",
            s.missed,
            ago(s.last_fired, none="never"),
            ago(s.next_fire),
        )
    out.print(shown)


#: The health table's columns: header, key of the job counts.
_COUNTS = (
    ("pending", "pending"),
    ("running", "processing"),
    ("done", "completed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
    ("dead", "dead_lettered"),
)


def health(as_json: AsJson = False) -> None:
    """Check worker and scheduler liveness; exit 1 if unhealthy.

    Also counts each job type's jobs by status.
    """
    report = guarded(lambda: current_app().health())
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(
            "[green]healthy[/green]"
            if report.healthy
            else "[red]unhealthy:[/red] " + "; ".join(report.problems),
            soft_wrap=True,
        )
        out.print(
            f"last worker heartbeat {ago(report.worker_seen_at, none='never')}, "
            f"last scheduler tick {ago(report.scheduler_seen_at, none='never')}",
            highlight=False,
        )
        shown = table("job type", *(number(h) for h, _ in _COUNTS), number("max wait"))
        for name, c in report.jobs.items():
            age = c.get("oldest_pending_age")
            shown.add_row(
                name,
                *(str(c.get(k, 0)) for _, k in _COUNTS),
                span(age) if age is not None else "—",
            )
        if report.jobs:
            out.print(shown)
    if not report.healthy:
        raise typer.Exit(1)


def keygen() -> None:
    """Print a new key for SYNCJOBS_ENCRYPTION_KEY."""
    out.print(generate_key(), highlight=False)


def demo(
    items: Annotated[int, typer.Option(min=1, help="Items per fake provider account.")] = 750,
) -> None:
    """Sync four fake accounts live (SQLite, in-memory broker)."""
    with user_errors():
        run_demo(out, items=items)
