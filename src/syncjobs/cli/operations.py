"""Operator commands: upgrade the database, schedules, health, a new key, the demo."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..connections.credentials import generate_key
from ..demo import run_demo
from ..factory import import_job_modules
from ..settings import Settings
from ..storage.sql import SQLAlchemyRepository
from .output import AsJson, current_app, guarded, out, user_errors


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
        out.print(
            f"applied revisions: {', '.join(applied)}" if applied else "schema already up to date"
        )

    guarded(run)


def schedules(as_json: AsJson = False) -> None:
    """List schedules: cron, timezone, enabled, last slot fired, next slot."""
    listed = guarded(lambda: current_app().schedules())
    if as_json:
        out.print_json(json.dumps([s.to_dict() for s in listed]))
        return
    table = Table("job type", "cron", "timezone", "enabled", "missed", "last fired", "next")
    for s in listed:
        d = s.to_dict()
        table.add_row(
            s.job_type,
            s.cron,
            s.timezone,
            "yes" if s.enabled else "no",
            s.missed,
            d["last_fired"] or "never",
            d["next_fire"] or "—",
        )
    out.print(table)


def health(as_json: AsJson = False) -> None:
    """Report worker and scheduler liveness and per-type job counts; exit 1 when unhealthy."""
    report = guarded(lambda: current_app().health())
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(
            "[green]healthy[/green]"
            if report.healthy
            else "[red]unhealthy:[/red] " + "; ".join(report.problems)
        )
        table = Table(
            "job type",
            "pending",
            "processing",
            "completed",
            "failed",
            "dead-lettered",
            "oldest pending (s)",
        )
        for name, c in report.jobs.items():
            table.add_row(
                name,
                *(
                    str(c[k])
                    for k in ("pending", "processing", "completed", "failed", "dead_lettered")
                ),
                str(c["oldest_pending_age"] or "—"),
            )
        out.print(table)
    if not report.healthy:
        raise typer.Exit(1)


def keygen() -> None:
    """Print a new key for SYNCJOBS_ENCRYPTION_KEY."""
    out.print(generate_key(), highlight=False)


def demo(
    items: Annotated[int, typer.Option(min=1, help="Items per fake provider account.")] = 750,
) -> None:
    """Sync four fake accounts live on the embedded default: SQLite, in-memory broker."""
    with user_errors():
        run_demo(out, items=items)
