"""Listing commands: jobs, a job's log, and the dead letters (every owner's without --owner)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Column

from ..app import SyncJobs
from ..core.models import DeadLetter, Job, JobStatus, LogLine
from ..errors import InvalidInputError
from .fmt import ago, percent
from .ids import find_job, short_job_ids
from .jobs import JobId, retry
from .output import (
    AnyOwner,
    AsJson,
    current_app,
    guarded,
    job_json,
    number,
    out,
    table,
    wrapping,
)

__all__ = ["dead_list", "dead_replay", "list_jobs", "log"]

Limit = Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")]


def _check_type(app: SyncJobs, job_type: str) -> None:
    """Refuse a job type this app does not register, naming the registered ones."""
    if job_type in app.registry:
        return
    message = app.registry.unknown(job_type)
    if "did you mean" not in message:
        message += f" (registered: {', '.join(sorted(jt.name for jt in app.registry))})"
    raise InvalidInputError(message)


def list_jobs(
    owner: AnyOwner = None,
    status_: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs in this status.")
    ] = None,
    job_type: Annotated[
        str | None, typer.Option("--type", help="Only jobs of this registered type.")
    ] = None,
    limit: Limit = 50,
    as_json: AsJson = False,
) -> None:
    """List jobs, newest first (every owner's without --owner)."""

    def run() -> tuple[SyncJobs, list[Job]]:
        app = current_app()
        if job_type is not None:
            _check_type(app, job_type)
        if owner is not None:
            return app, app.jobs(owner, status=status_, job_type=job_type, limit=limit)
        return app, app.repository.list_jobs(status=status_, job_type=job_type, limit=limit)

    app, found = guarded(run)
    if as_json:
        out.print_json(json.dumps([job_json(j) for j in found]))
        return
    if not found:
        out.print("no jobs" + (f" for owner {owner}" if owner else ""), highlight=False)
        return
    short = short_job_ids(app, (j.id for j in found))
    heads: list[str | Column] = ["id", wrapping("type"), "status", number("done"), "created"]
    heads.append(wrapping("error"))
    if owner is None:
        heads.insert(1, wrapping("owner"))
    shown = table(*heads)
    for j in found:
        row = [short[j.id], j.job_type, j.status.value, percent(j)]
        row += [ago(j.created_at), j.error_code or ""]
        if owner is None:
            row.insert(1, j.owner_id)
        shown.add_row(*row)
    out.print(shown)


def log(
    job_id: JobId,
    owner: AnyOwner = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Print a job's log lines, oldest first."""

    def run() -> tuple[Job, list[LogLine]]:
        app = current_app()
        job = find_job(app, job_id, owner)
        return job, app.log(job.id, owner_id=job.owner_id, limit=limit)

    job, lines = guarded(run)
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {"at": ln.at.isoformat(), "level": ln.level, "message": ln.message}
                    for ln in lines
                ]
            )
        )
        return
    if not lines:
        out.print(f"job {job.id} ({job.status.value}) has no log lines", highlight=False)
    for ln in lines:
        out.print(f"{ln.at:%H:%M:%S} {ln.level:<7} {ln.message}", highlight=False)


def _letter(d: DeadLetter) -> dict[str, Any]:
    return {
        "job_id": d.job_id,
        "owner_id": d.owner_id,
        "job_type": d.job_type,
        "error_code": d.error_code,
        "error_message": d.error_message,
        "attempts": d.attempts,
        "failed_at": d.failed_at.isoformat(),
    }


def dead_list(owner: AnyOwner = None, limit: Limit = 50, as_json: AsJson = False) -> None:
    """List jobs that failed for good, newest first.

    `syncjobs status` shows one's error message.
    """
    app = guarded(current_app)
    letters = guarded(lambda: app.dead_letters(owner_id=owner, limit=limit))
    if as_json:
        out.print_json(json.dumps([_letter(d) for d in letters]))
        return
    if not letters:
        out.print("no dead letters" + (f" for owner {owner}" if owner else ""), highlight=False)
        return
    short = short_job_ids(app, (d.job_id for d in letters))
    shown = table("job", wrapping("owner"), "type", wrapping("error"), number("tries"), "failed")
    for d in letters:
        shown.add_row(
            short[d.job_id],
            d.owner_id,
            d.job_type,
            d.error_code or "",
            str(d.attempts),
            ago(d.failed_at),
        )
    out.print(shown)


def dead_replay(job_id: JobId, owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """Run a dead-lettered job again."""
    retry(job_id, owner, as_json)
