"""The ``syncjobs`` command line: run the demo, submit and follow jobs, upgrade the database."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from .errors import SyncJobsError
from .models import Job

__all__ = ["app", "main"]

app = typer.Typer(
    help="Tracked background jobs for syncing connected accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dead_app = typer.Typer(help="Jobs that failed for good.", no_args_is_help=True)
accounts_app = typer.Typer(help="Connected provider accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dead_app, name="dead-letter")
app.add_typer(accounts_app, name="accounts")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

Owner = Annotated[str, typer.Option("--owner", "-o", help="Owner id the job belongs to.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn syncjobs errors into one clear line and exit code 1, never a traceback."""
    try:
        yield
    except SyncJobsError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def _app() -> Any:
    from . import jobtypes as _builtin  # noqa: F401
    from ._current import get_app

    return get_app()


def _print_job(job: Job, as_json: bool) -> None:
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


def _guarded(fn: Callable[[], T]) -> T:
    with _user_errors():
        return fn()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the ledger tables to this version's schema."""
    from .settings import Settings
    from .storage.sql import SQLAlchemyRepository

    def run() -> None:
        settings = Settings()
        repo = SQLAlchemyRepository(
            settings.database_url, table_prefix=settings.table_prefix, check=False
        )
        try:
            applied = repo.upgrade()
        finally:
            repo.close()
        out.print(f"applied migrations {applied}" if applied else "schema already up to date")

    _guarded(run)


@app.command()
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
    from .errors import InvalidInputError

    def run() -> Job:
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"--params is not valid JSON: {exc}") from None
        result: Job = _app().submit(
            job_type,
            owner_id=owner,
            params=parsed,
            priority=priority,
            idempotency_key=idempotency_key,
            delay=delay,
        )
        return result

    _print_job(_guarded(run), as_json)


@app.command()
def status(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Show a job's status, progress, ETA, result and error."""
    _print_job(_guarded(lambda: _app().status(job_id, owner_id=owner)), as_json)


@app.command()
def cancel(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Cancel a job (at once if pending, at its next check if running)."""
    _print_job(_guarded(lambda: _app().cancel(job_id, owner_id=owner)), as_json)


@app.command()
def retry(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Run a failed or cancelled job again."""
    _print_job(_guarded(lambda: _app().retry(job_id, owner_id=owner)), as_json)


@app.command()
def watch(
    job_id: str,
    owner: Owner,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    as_json: AsJson = False,
) -> None:
    """Follow a job live with a progress bar and ETA; ends with its result."""
    with _user_errors():
        stream = _app().watch(job_id, owner_id=owner, timeout=timeout)
        last: Job | None = None
        if as_json:
            for last in stream:
                sys.stdout.write(json.dumps(last.to_dict()) + "\n")
                sys.stdout.flush()
        else:
            last = follow_with_bar(stream)
    if last is not None and not as_json:
        _print_job(last, False)
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


@app.command("jobs")
def list_jobs(
    owner: Owner,
    status_: Annotated[str | None, typer.Option("--status", help="Filter by status.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Filter by job type.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """List an owner's jobs, newest first."""
    found = _guarded(lambda: _app().jobs(owner, status=status_, job_type=job_type, limit=limit))
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


@app.command()
def log(job_id: str, owner: Owner, limit: int = 100, as_json: AsJson = False) -> None:
    """Print a job's log lines."""
    lines = _guarded(lambda: _app().log(job_id, owner_id=owner, limit=limit))
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


@dead_app.command("list")
def dead_list(
    owner: Annotated[str | None, typer.Option("--owner", "-o")] = None,
    limit: int = 50,
    as_json: AsJson = False,
) -> None:
    """List dead-lettered jobs, newest first."""
    letters = _guarded(lambda: _app().dead_letters(owner_id=owner, limit=limit))
    rows = [
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


@dead_app.command("replay")
def dead_replay(job_id: str, owner: Owner, as_json: AsJson = False) -> None:
    """Run a dead-lettered job again."""
    _print_job(_guarded(lambda: _app().retry(job_id, owner_id=owner)), as_json)


@app.command()
def schedules(as_json: AsJson = False) -> None:
    """List schedules: cron, timezone, enabled, last slot fired, next slot."""
    listed = _guarded(lambda: _app().schedules())
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


@app.command()
def health(as_json: AsJson = False) -> None:
    """Report worker and scheduler liveness and per-type job counts; exit 1 when unhealthy."""
    report = _guarded(lambda: _app().health())
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


@app.command()
def keygen() -> None:
    """Print a new key for SYNCJOBS_ENCRYPTION_KEY."""
    from .accounts.credentials import generate_key

    out.print(generate_key(), highlight=False)


@accounts_app.command("list")
def accounts_list(owner: Owner, as_json: AsJson = False) -> None:
    """List an owner's connected accounts."""
    found = _guarded(lambda: _app().accounts(owner))
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in found]))
        return
    table = Table("id", "provider", "state", "name", "last synced", "next sync")
    for a in found:
        d = a.to_dict()
        table.add_row(
            a.id,
            a.provider,
            a.state.value,
            a.display_name or "",
            d["last_synced_at"] or "never",
            d["next_sync_at"] or "",
        )
    out.print(table)


@accounts_app.command("connect")
def accounts_connect(
    owner: Owner,
    provider: Annotated[str, typer.Argument(help="youtube, gmail, instagram or tiktok.")],
    tokens: Annotated[str, typer.Option(help="JSON token set: access_token, refresh_token…")],
    external_id: Annotated[str | None, typer.Option(help="The provider's account id.")] = None,
    as_json: AsJson = False,
) -> None:
    """Connect an account with its OAuth tokens (stored encrypted)."""
    from .errors import InvalidInputError

    def run() -> Any:
        try:
            parsed = json.loads(tokens)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"--tokens is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise InvalidInputError("--tokens must be a JSON object")
        return _app().connect_account(owner, provider, parsed, external_id=external_id)

    account = _guarded(run)
    out.print_json(json.dumps(account.to_dict())) if as_json else out.print(
        f"connected {account.provider} account {account.id}"
    )


@accounts_app.command("disconnect")
def accounts_disconnect(account_id: str, owner: Owner) -> None:
    """Remove an account, its tokens and its synced items."""
    _guarded(lambda: _app().disconnect_account(account_id, owner_id=owner))
    out.print(f"disconnected {account_id}")


@app.command("sync")
def sync_cmd(
    account_id: str,
    owner: Owner,
    full: Annotated[bool, typer.Option(help="Start over instead of syncing changes.")] = False,
    as_json: AsJson = False,
) -> None:
    """Queue a sync of an account now."""
    _print_job(
        _guarded(lambda: _app().sync_account(account_id, owner_id=owner, full=full)), as_json
    )


def _rows(title: str, records: list[dict[str, Any]], as_json: bool) -> None:
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


@app.command()
def trust(owner: Owner, as_json: AsJson = False) -> None:
    """Show an owner's channel trust scores, least trusted first."""
    scores = _guarded(lambda: _app().trust_scores(owner))
    _rows(
        "trust scores",
        [{k: v for k, v in s.to_dict().items() if k != "owner_id"} for s in scores],
        as_json,
    )


@app.command()
def usage(
    owner: Owner,
    period: Annotated[str, typer.Option(help="hour, day, week or month.")] = "day",
    as_json: AsJson = False,
) -> None:
    """Show an owner's usage per period: items analysed, AI calls, tokens, API calls, quota."""
    records = _guarded(lambda: _app().usage(owner, period=period))
    _rows(
        f"usage per {period}",
        [{k: v for k, v in r.to_dict().items() if k != "owner_id"} for r in records],
        as_json,
    )


@app.command()
def notifications(
    owner: Owner,
    unread: Annotated[bool, typer.Option(help="Only unread ones.")] = False,
    as_json: AsJson = False,
) -> None:
    """List an owner's notifications, newest first."""
    found = _guarded(lambda: _app().notifications(owner, unread_only=unread))
    _rows(
        "notifications",
        [
            {
                "id": n.id,
                "kind": n.kind,
                "title": n.title,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in found
        ],
        as_json,
    )


@app.command()
def demo(
    items: Annotated[int, typer.Option(help="Items per fake provider account.")] = 750,
) -> None:
    """Sync four fake accounts live on the embedded default: SQLite, in-memory broker."""
    from .demo import run_demo

    with _user_errors():
        run_demo(out, items=items)


def main() -> None:
    """Entry point of the ``syncjobs`` console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
