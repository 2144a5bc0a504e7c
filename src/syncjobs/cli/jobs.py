"""Job commands: submit, status, cancel, retry and watch one job.

A job id may be given whole or as a unique prefix (``ids``). Without ``--owner`` an operator
acts on any owner's job: the job is looked up first and the call made as its owner.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Column

from ..app import SyncJobs
from ..core.models import Job, JobStatus
from ..errors import InvalidInputError
from .fmt import bar_total, percent, span
from .ids import find_job
from .output import (
    AnyOwner,
    AsJson,
    Owner,
    current_app,
    err,
    guarded,
    job_json,
    out,
    print_job,
    user_errors,
    warn,
)

__all__ = [
    "cancel",
    "follow_with_bar",
    "retry",
    "status",
    "submit",
    "warn_if_nothing_runs",
    "watch",
]

JobId = Annotated[str, typer.Argument(help="The job's id, or its first 4+ characters.")]


def warn_if_nothing_runs(app: SyncJobs) -> None:
    """Warn that a job sent to the in-memory broker runs only in this process, which ends."""
    if app.settings.broker_url.startswith("memory:"):
        warn(
            "the broker is in-memory (SYNCJOBS_BROKER_URL=memory://): only a worker in this "
            "process could run the job, and none will; set SYNCJOBS_BROKER_URL to redis://… "
            "or amqp://… and run `dramatiq syncjobs.actors`"
        )


def submit(
    job_type: Annotated[str, typer.Argument(help="Job type name, e.g. syncjobs.count.")],
    owner: Owner,
    params: Annotated[str, typer.Option("--params", "-p", help="JSON object.")] = "{}",
    priority: Annotated[int | None, typer.Option(help="1 (highest) to 10.")] = None,
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

    job = guarded(run)
    print_job(job, as_json)
    warn_if_nothing_runs(current_app())


def status(job_id: JobId, owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """Show a job's status, progress, ETA, result and error."""
    print_job(guarded(lambda: find_job(current_app(), job_id, owner)), as_json)


def cancel(job_id: JobId, owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """Cancel a job (a running one stops at its next check)."""

    def run() -> Job:
        app = current_app()
        job = find_job(app, job_id, owner)
        if job.is_terminal:
            raise InvalidInputError(
                f"job {job.id} already {job.status.value}: there is nothing to cancel"
            )
        return app.cancel(job.id, owner_id=job.owner_id)

    job = guarded(run)
    if as_json:
        print_job(job, True)
    elif job.status is JobStatus.CANCELLED:
        out.print(f"cancelled job {job.id}", highlight=False)
    else:
        out.print(
            f"cancel requested: job {job.id} is {job.status.value} and stops at its next "
            "check; `syncjobs watch` follows it",
            highlight=False,
        )


def retry(job_id: JobId, owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """Run a failed or cancelled job again."""

    def run() -> Job:
        app = current_app()
        job = find_job(app, job_id, owner)
        return app.retry(job.id, owner_id=job.owner_id)

    print_job(guarded(run), as_json)
    warn_if_nothing_runs(current_app())


def watch(
    job_id: JobId,
    owner: AnyOwner = None,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    as_json: AsJson = False,
) -> None:
    """Follow a job live with a progress bar until it ends.

    Shows its progress and ETA, then its result. Exits 0 when the job completed, 1 when it
    failed or was cancelled, 2 when --timeout passed first.
    """
    with user_errors():
        app = current_app()
        job = find_job(app, job_id, owner)
        stream = app.watch(job.id, owner_id=job.owner_id, timeout=timeout)
        last: Job | None = None
        if as_json:
            for last in stream:
                sys.stdout.write(json.dumps(job_json(last)) + "\n")
                sys.stdout.flush()
        else:
            last = follow_with_bar(stream)
    if last is not None and not as_json:
        print_job(last, False)
    if last is None or not last.is_terminal:
        _stopped_early(job, last, timeout)
        raise typer.Exit(2)
    if last.status is not JobStatus.COMPLETED:
        raise typer.Exit(1)


def _stopped_early(job: Job, last: Job | None, timeout: float | None) -> None:
    """Say why ``watch`` ends before the job did: its timeout, or the job left the ledger."""
    if timeout is None or last is None:
        message = f"job {job.id} is no longer in the ledger"
    else:
        message = (
            f"timed out after {span(timeout)}: job {job.id} is still {last.status.value} "
            f"({percent(last)})"
        )
    err.print(message, highlight=False, soft_wrap=True)


def follow_with_bar(stream: Iterator[Job], console: Console | None = None) -> Job | None:
    """Render a stream of job snapshots as a Rich progress bar; return the last snapshot."""
    last: Job | None = None
    columns = (
        TextColumn("{task.description}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[msg]}", table_column=Column(overflow="fold")),
    )
    with Progress(*columns, console=console or out, transient=False) as bar:
        task = None
        for last in stream:
            if task is None:
                task = bar.add_task(last.job_type, total=100, msg="")
            msg = last.progress_message or last.status.value
            bar.update(
                task,
                total=bar_total(last),
                completed=last.progress_percent,
                msg=msg,
                description=last.job_type,
            )
    return last
