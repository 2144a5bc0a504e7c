"""The job pages: the overview, every owner's jobs, and one job.

Page handlers are plain functions: Starlette runs them in its thread pool, so the blocking
repository calls never stall the event loop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..clock import utcnow
from ..core.models import Job, JobStatus
from ..errors import InvalidInputError
from .charts import throughput_chart
from .filters import job_cursor, job_query
from .render import page
from .sources import find_job, job_browser, sj

__all__ = ["STATUS_COLUMNS", "job_actions_allowed", "job_page", "jobs_page", "overview"]

#: The per-type counts the overview shows, in order.
STATUS_COLUMNS = ("pending", "processing", "completed", "failed", "cancelled", "dead_lettered")

#: How far back the overview's throughput chart reaches, and its bucket.
THROUGHPUT_MINUTES, BUCKET_SECONDS = 60, 60

#: Log lines a job page shows (the first ones).
LOG_LINES = 1000

#: Workers heard from within this window are listed.
WORKER_WINDOW = timedelta(minutes=15)


def overview(request: Request) -> Response:
    """Jobs by status and type, throughput, workers, the scheduler, dead letters."""
    app = sj(request)
    browser = job_browser(app)
    now = utcnow()
    report = app.health()
    minute = now.replace(second=0, microsecond=0)
    buckets = browser.throughput(
        since=minute - timedelta(minutes=THROUGHPUT_MINUTES - 1),
        until=minute + timedelta(minutes=1),
        bucket_seconds=BUCKET_SECONDS,
    )
    totals = {
        col: sum(int(c.get(col) or 0) for c in report.jobs.values()) for col in STATUS_COLUMNS
    }
    ages = [c["oldest_pending_age"] for c in report.jobs.values() if c.get("oldest_pending_age")]
    workers = browser.workers(seen_after=now - WORKER_WINDOW)
    return page(
        request,
        "overview.html",
        {
            "nav": "overview",
            "health": report,
            "columns": STATUS_COLUMNS,
            "totals": totals,
            "oldest_pending": max(ages) if ages else None,
            "chart": throughput_chart(buckets, BUCKET_SECONDS),
            "ended_last_hour": sum(b.completed + b.failed + b.cancelled for b in buckets),
            "workers": [w for w in workers if w.kind != "scheduler"],
            "dead_letters": browser.dead_letter_count(),
        },
    )


def jobs_page(request: Request) -> Response:
    """Every owner's jobs, filtered, newest first, one keyset page at a time."""
    app = sj(request)
    size = request.app.state.dashboard.page_size
    context: dict[str, Any] = {
        "nav": "jobs",
        "filters": {k: request.query_params.get(k, "") for k in _JOB_FILTERS},
        "statuses": [s.value for s in JobStatus],
        "job_types": sorted(jt.name for jt in app.registry),
        "jobs": [],
        "older": None,
        "first_page": True,
        "error": None,
    }
    try:
        query = job_query(request.query_params, limit=size)
    except InvalidInputError as exc:
        context["error"] = str(exc)
        return page(request, "jobs.html", context, status=400)
    found = job_browser(app).browse_jobs(query)
    context["jobs"] = found[:size]
    if len(found) > size:
        context["older"] = job_cursor(found[size - 1])
    context["first_page"] = query.after is None
    return page(request, "jobs.html", context)


_JOB_FILTERS = ("status", "type", "owner", "created_from", "created_to")


def job_actions_allowed(job: Job) -> list[str]:
    """The buttons the job's state allows: cancel, retry, replay."""
    allowed = []
    if not job.is_terminal and not job.cancel_requested:
        allowed.append("cancel")
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        allowed.append("retry")
    if job.is_terminal:
        allowed.append("replay")
    return allowed


def job_page(request: Request) -> Response:
    """One job: params, live progress, log, outcome, parent and follow-ups, actions."""
    app = sj(request)
    job = find_job(app, request.path_params["job_id"])
    now = utcnow()
    parent = app.repository.get_job(job.parent_id) if job.parent_id else None
    return page(
        request,
        "job.html",
        {
            "nav": "jobs",
            "job": job,
            "eta": job.eta_seconds(now),
            "log": app.repository.get_log(job.id, limit=LOG_LINES),
            "log_limit": LOG_LINES,
            "children": job_browser(app).child_jobs(job.id),
            "parent": parent,
            "actions": job_actions_allowed(job),
            "registered": job.job_type in app.registry,
        },
    )
