"""What every command shares: the consoles, common options, one-line errors, the app, printing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..app import SyncJobs
from ..core.models import Job
from ..errors import SyncJobsError
from ..factory import get_app
from .errors import report

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

Owner = Annotated[str, typer.Option("--owner", "-o", help="Owner id the job belongs to.")]
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


def current_app() -> SyncJobs:
    """The application the commands act on, built from settings on first use."""
    return get_app()


def print_job(job: Job, as_json: bool) -> None:
    """Print a job as JSON or as a two-column table of its set fields."""
    data = job.to_dict()
    if as_json:
        out.print_json(json.dumps(data))
        return
    table = Table(show_header=False, box=None)
    for key, value in data.items():
        if value is not None:
            table.add_row(
                f"[bold]{key}[/bold]",
                json.dumps(value) if isinstance(value, dict | list) else str(value),
            )
    out.print(table)


def print_rows(title: str, records: list[dict[str, Any]], as_json: bool) -> None:
    """Print records as JSON or as a table of their keys."""
    if as_json:
        out.print_json(json.dumps(records))
        return
    if not records:
        out.print(f"no {title}")
        return
    table = Table(*records[0], title=title)
    for record in records:
        table.add_row(
            *(json.dumps(v) if isinstance(v, dict | list) else str(v) for v in record.values())
        )
    out.print(table)
