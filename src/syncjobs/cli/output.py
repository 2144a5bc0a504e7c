"""What every command shares: the consoles, common options, one-line errors, the app, printing.

Tables are built to fit an 80-column terminal: short headers, no frame, ids whole or as a
unique short prefix (``ids``), times relative (``fmt``). What does not fit goes to ``status``
or ``--json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table

from ..app import SyncJobs
from ..core import current as _current
from ..core.models import Job
from ..errors import SchemaOutdatedError, SyncJobsError
from ..factory import get_app, import_job_modules
from ..settings import Settings
from .errors import report
from .fmt import percent, stamp
from .where import describe_database, require_database

__all__ = [
    "AnyOwner",
    "AsJson",
    "Owner",
    "current_app",
    "err",
    "guarded",
    "job_json",
    "number",
    "out",
    "print_job",
    "table",
    "user_errors",
    "warn",
    "wrapping",
]

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

Owner = Annotated[str, typer.Option("--owner", "-o", help="The owner's id.")]
#: ``--owner`` where an operator may leave it out to act on every owner's jobs.
AnyOwner = Annotated[
    str | None,
    typer.Option("--owner", "-o", help="Only this owner's; without it, every owner's."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn syncjobs errors into one clear line and their exit code, never a traceback."""
    try:
        yield
    except SyncJobsError as exc:
        report(exc)


def guarded(fn: Callable[[], T]) -> T:
    """Call ``fn`` with syncjobs errors turned into one line and their exit code."""
    with user_errors():
        return fn()


def warn(message: str) -> None:
    """Print one warning line on stderr."""
    err.print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False, soft_wrap=True)


def current_app() -> SyncJobs:
    """The application the commands act on, built from settings on first use.

    The commands read an existing ledger: a SQLite file that is not there is an error naming
    it (never an empty database left behind), and so is a schema not yet created.
    """
    if _current.current_app() is not None:
        return get_app()
    settings = Settings()
    import_job_modules(settings)  # a misnamed module is the error to report first
    require_database(settings)
    try:
        return get_app()
    except SchemaOutdatedError as exc:
        raise SchemaOutdatedError(f"{describe_database(settings)}: {exc}") from None


def table(*columns: str | Column, title: str | None = None) -> Table:
    """A frameless table with an underlined header, its columns two spaces apart.

    A plain string is a column that never wraps; pass a ``Column`` for one that may.
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
    for c in columns:
        if isinstance(c, Column):
            c.min_width = max(c.min_width or 0, len(str(c.header)))
            made.columns.append(c)
        else:
            made.add_column(c, no_wrap=True, min_width=len(c))
    return made


def wrapping(header: str, **kwargs: Any) -> Column:
    """A column whose cells wrap (folding long words) when the table needs the room."""
    return Column(header, overflow="fold", **kwargs)


def number(header: str) -> Column:
    """A right-aligned column of numbers that never wraps."""
    return Column(header, justify="right", no_wrap=True)


def job_json(job: Job) -> dict[str, Any]:
    """A job as the commands print it in JSON: ``Job.to_dict`` with its owner and params."""
    data = job.to_dict()
    return {"id": data.pop("id"), "owner_id": job.owner_id, **data, "params": job.params}


def print_job(job: Job, as_json: bool) -> None:
    """Print a job as JSON or as a two-column table of its set fields, times relative."""
    if as_json:
        out.print_json(json.dumps(job_json(job)))
        return
    shown = table(Column("", style="bold", no_wrap=True), wrapping(""))
    shown.show_header = False
    for key, value in _job_fields(job):
        if value not in (None, ""):
            shown.add_row(key, value)
    out.print(shown)


def _job_fields(job: Job) -> list[tuple[str, Any]]:
    done = percent(job)
    if job.progress_total:
        done += f" ({job.progress_done or 0} of {job.progress_total})"
    eta = job.eta_seconds()
    return [
        ("id", job.id),
        ("owner", job.owner_id),
        ("type", job.job_type),
        ("status", job.status.value + (" (cancel requested)" if _cancelling(job) else "")),
        ("progress", done),
        ("message", job.progress_message),
        ("eta", f"{eta:.0f}s" if eta else None),
        ("attempts", f"{job.attempts} (retries {job.retry_count} of {job.max_retries})"),
        ("error", f"{job.error_code}: {job.error_message}" if job.error_code else None),
        ("result", _json(job.result) if job.result is not None else None),
        ("params", _json(job.params) if job.params else None),
        ("created", stamp(job.created_at)),
        ("scheduled", stamp(job.scheduled_for) if job.scheduled_for else None),
        ("started", stamp(job.started_at) if job.started_at else None),
        ("finished", stamp(job.completed_at) if job.completed_at else None),
        ("worker", job.worker_id),
        ("parent", job.parent_id),
        ("key", job.idempotency_key),
    ]


def _cancelling(job: Job) -> bool:
    return job.cancel_requested and not job.is_terminal


def _json(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
