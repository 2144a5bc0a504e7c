"""Job commands: submit, status, cancel, retry, watch, jobs, log, and the dead letters."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..core.models import Job
from ..errors import InvalidInputError
from .output import AsJson, Owner, current_app, guarded, out, print_job, user_errors


def submit(
    job_type: Annotated[str, typer.Argument(help="Job type name, e.g. syncjobs.count.")],
    owner: Owner,
    params: Annotated[str, typer.Option("--params", "-p", help="JSON object.")] = "{}",
    priority: Annotated[int | None, typer.Option(help="1 (highest) … 10.")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--key", help="Idempotency key.")] = None,
    delay: Annotated[float | None, typer.Option(help="Seconds to wait before running.")] = None,
    as_json: AsJson = False,
) -> None:
    """Submit a job and print it."""

    def run() -> Job:
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"--params is not valid JSON: {exc}") from None
        return current_app().submit(
            job_type,
            owner_id=owner,
            params=parsed,
            priority=priority,
            idempotency_key=idempotency_key,
            delay=delay,
        )

    print_job(guarded(run), as_json)


def status(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Show a job's status, progress, ETA, result and error."""
    print_job(guarded(lambda: current_app().status(job_id, owner_id=owner)), as_json)


def cancel(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Cancel a job (at once if pending, at its next check if running)."""
    print_job(guarded(lambda: current_app().cancel(job_id, owner_id=owner)), as_json)


def retry(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Run a failed or cancelled job again."""
    print_job(guarded(lambda: current_app().retry(job_id, owner_id=owner)), as_json)


def watch(
    job_id: str,
    owner: Owner,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    as_json: AsJson = False,
) -> None:
    """Follow a job live with a progress bar and ETA; ends with its result."""
    with user_errors():
        stream = current_app().watch(job_id, owner_id=owner, timeout=timeout)
        last: Job | None = None
        if as_json:
            for last in stream:
                sys.stdout.write(json.dumps(last.to_dict()) + "\n")
                sys.stdout.flush()
        else:
            last = follow_with_bar(stream)
    if last is not None and not as_json:
        print_job(last, False)
    if last is None or not last.is_terminal:
        raise typer.Exit(2)
    if last.status.value != "completed":
        raise typer.Exit(1)


def follow_with_bar(stream: Iterator[Job], console: Console | None = None) -> Job | None:
    """Render a stream of job snapshots as a Rich progress bar; return the last snapshot."""
    last: Job | None = None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[msg]}"),
    )
    with Progress(*columns, console=console or out, transient=False) as bar:
        task = None
        for last in stream:
            if task is None:
                task = bar.add_task(last.job_type, total=100, msg="")
            msg = last.progress_message or last.status.value
            bar.update(
                task,
                completed=last.progress_percent,
                msg=msg,
                description=f"{last.job_type} [{last.status.value}]",
            )
    return last


def list_jobs(
    owner: Owner,
    status_: Annotated[str | None, typer.Option("--status", help="Filter by status.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Filter by job type.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """List an owner's jobs, newest first."""
    found = guarded(
        lambda: current_app().jobs(owner, status=status_, job_type=job_type, limit=limit)
    )
    if as_json:
        out.print_json(json.dumps([j.to_dict() for j in found]))
        return
    table = Table("id", "type", "status", "progress", "created", "error")
    for j in found:
        table.add_row(
            j.id,
            j.job_type,
            j.status.value,
            f"{j.progress_percent:.0f}%",
            j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            j.error_code or "",
        )
    out.print(table)


def log(job_id: str, owner: Owner, limit: int = 100, as_json: AsJson = False) -> None:
    """Print a job's log lines."""
    lines = guarded(lambda: current_app().log(job_id, owner_id=owner, limit=limit))
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
    for ln in lines:
        out.print(f"{ln.at:%H:%M:%S} {ln.level:<7} {ln.message}", highlight=False)


def dead_list(
    owner: Annotated[str | None, typer.Option("--owner", "-o")] = None,
    limit: int = 50,
    as_json: AsJson = False,
) -> None:
    """List dead-lettered jobs, newest first."""
    letters = guarded(lambda: current_app().dead_letters(owner_id=owner, limit=limit))
    rows: list[dict[str, Any]] = [
        {
            "job_id": d.job_id,
            "owner_id": d.owner_id,
            "job_type": d.job_type,
            "error_code": d.error_code,
            "error_message": d.error_message,
            "attempts": d.attempts,
            "failed_at": d.failed_at.isoformat(),
        }
        for d in letters
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("job", "owner", "type", "error", "attempts", "failed at")
    for r in rows:
        table.add_row(
            r["job_id"],
            r["owner_id"],
            r["job_type"],
            str(r["error_code"]),
            str(r["attempts"]),
            r["failed_at"],
        )
    out.print(table)


def dead_replay(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Run a dead-lettered job again."""
    print_job(guarded(lambda: current_app().retry(job_id, owner_id=owner)), as_json)
