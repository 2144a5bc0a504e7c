"""``syncjobs top``: a live 80-column view of the queues, running jobs, workers and scheduler.

Each frame reads the ledger once: job counts by type (upkeep), processing jobs, the latest
heartbeats, and the workers (``JobBrowser.workers`` when the repository has it, otherwise
the workers named by the running jobs).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from ..app import SyncJobs
from ..clock import utcnow
from ..core.browse import JobBrowser
from ..core.maintenance import upkeep_store
from ..core.models import Job, JobStatus
from .fmt import ago, bar_total, percent, span
from .ids import short_job_ids
from .output import AsJson, current_app, guarded, job_json, number, out, table, wrapping

__all__ = ["Snapshot", "WorkerRow", "render", "snapshot", "top"]

#: Rows of each section a frame shows (the rest is counted), so a frame fits 24 lines.
QUEUE_ROWS, RUNNING_ROWS, WORKER_ROWS = 5, 5, 3


@dataclass(frozen=True)
class WorkerRow:
    """A worker process: ``host:pid``, when it was last heard from, and how many jobs it runs."""

    id: str
    seen_at: datetime | None
    running: int


@dataclass(frozen=True)
class Snapshot:
    """What one frame of ``top`` shows."""

    at: datetime
    #: Job type → pending, processing, and the creation time of the oldest pending job.
    queues: dict[str, dict[str, Any]]
    running: list[Job]
    workers: list[WorkerRow]
    worker_seen_at: datetime | None
    scheduler_seen_at: datetime | None
    short: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "at": self.at.isoformat(),
            "queues": {
                name: {**q, "oldest_pending_at": _iso(q.get("oldest_pending_at"))}
                for name, q in self.queues.items()
            },
            "running": [job_json(j) for j in self.running],
            "workers": [
                {"id": w.id, "seen_at": _iso(w.seen_at), "running": w.running} for w in self.workers
            ],
            "worker_seen_at": _iso(self.worker_seen_at),
            "scheduler_seen_at": _iso(self.scheduler_seen_at),
        }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _workers(app: SyncJobs, running: list[Job], now: datetime) -> list[WorkerRow]:
    repo = app.repository
    if isinstance(repo, JobBrowser):
        since = now - timedelta(seconds=app.settings.health_max_age)
        return [
            WorkerRow(w.id, w.seen_at, len(w.running))
            for w in repo.workers(seen_after=since)
            if w.kind == "worker"
        ]
    by_process = Counter(j.worker_id.rsplit(":", 1)[0] for j in running if j.worker_id)
    seen: dict[str, datetime] = {}
    for j in running:
        if j.worker_id and j.heartbeat_at is not None:
            key = j.worker_id.rsplit(":", 1)[0]
            seen[key] = max(seen.get(key, j.heartbeat_at), j.heartbeat_at)
    return [WorkerRow(w, seen.get(w), n) for w, n in sorted(by_process.items())]


def snapshot(app: SyncJobs, now: datetime | None = None) -> Snapshot:
    """Read one frame's worth of the ledger."""
    now = now or utcnow()
    upkeep = upkeep_store(app)
    counts = upkeep.job_counts()
    queues = {
        name: {
            "pending": c.get("pending", 0),
            "processing": c.get("processing", 0),
            "oldest_pending_at": c.get("oldest_pending_at"),
        }
        for name, c in sorted(counts.items())
        if c.get("pending", 0) or c.get("processing", 0)
    }
    running = app.repository.list_jobs(status=JobStatus.PROCESSING, limit=100)
    beats = upkeep.last_heartbeats()
    return Snapshot(
        at=now,
        queues=queues,
        running=running,
        workers=_workers(app, running, now),
        worker_seen_at=beats.get("worker"),
        scheduler_seen_at=beats.get("scheduler"),
        short=short_job_ids(app, (j.id for j in running[:RUNNING_ROWS])),
    )


def _more(shown: int, total: int, what: str) -> list[RenderableType]:
    return [Text(f"  … and {total - shown} more {what}", style="dim")] if total > shown else []


def _queues(snap: Snapshot) -> list[RenderableType]:
    if not snap.queues:
        return [Text("queues: nothing pending or running")]
    heads = ("pending", "running", "oldest pending")
    shown = table("queue (job type)", *(number(h) for h in heads))
    for name, q in list(snap.queues.items())[:QUEUE_ROWS]:
        oldest = q["oldest_pending_at"]
        waited = span((snap.at - oldest).total_seconds()) if oldest is not None else "—"
        shown.add_row(name, str(q["pending"]), str(q["processing"]), waited)
    return [shown, *_more(QUEUE_ROWS, len(snap.queues), "job types")]


def _running(snap: Snapshot) -> list[RenderableType]:
    if not snap.running:
        return [Text("running: no job")]
    shown = table("running", "type", "progress", number("done"), wrapping("message"))
    for j in snap.running[:RUNNING_ROWS]:
        shown.add_row(
            snap.short.get(j.id, j.id),
            j.job_type,
            ProgressBar(total=bar_total(j), completed=j.progress_percent, width=12),
            percent(j),
            j.progress_message or "",
        )
    return [shown, *_more(RUNNING_ROWS, len(snap.running), "running jobs")]


def _worker_rows(snap: Snapshot) -> list[RenderableType]:
    if not snap.workers:
        return [Text("workers: none running a job")]
    shown = table(wrapping("worker (host:pid)"), "last heartbeat", number("jobs"))
    for w in snap.workers[:WORKER_ROWS]:
        shown.add_row(w.id, ago(w.seen_at, snap.at, none="—"), str(w.running))
    return [shown, *_more(WORKER_ROWS, len(snap.workers), "workers")]


def render(snap: Snapshot, interval: float | None = None) -> Group:
    """One frame: a heading line, then the queues, running jobs and workers."""
    heading = Text(f"syncjobs top  {snap.at:%H:%M:%S} UTC", style="bold")
    heading.append(
        f"  worker seen {ago(snap.worker_seen_at, snap.at, none='never')}, "
        f"scheduler ticked {ago(snap.scheduler_seen_at, snap.at, none='never')}",
        style="",
    )
    parts: list[RenderableType] = [heading]
    if interval is not None:
        parts.append(Text(f"every {interval:g}s; Ctrl-C quits", style="dim"))
    return Group(*parts, *_queues(snap), *_running(snap), *_worker_rows(snap))


def top(
    interval: Annotated[
        float, typer.Option(min=0.2, max=3600, help="Seconds between refreshes.")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
    as_json: AsJson = False,
) -> None:
    """Watch queues, running jobs, workers and scheduler live.

    It refreshes every --interval seconds until Ctrl-C; --once prints one frame.
    """
    app = guarded(current_app)
    if as_json:
        out.print_json(json.dumps(guarded(lambda: snapshot(app)).to_dict()))
        return
    if once:
        out.print(render(guarded(lambda: snapshot(app))))
        return
    try:
        first = render(guarded(lambda: snapshot(app)), interval)
        with Live(first, console=out, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(render(guarded(lambda: snapshot(app)), interval), refresh=True)
    except KeyboardInterrupt:
        pass
