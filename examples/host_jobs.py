"""Job types a host application declares: a nightly report and the follow-up it triggers.

Import this module (``SYNCJOBS_IMPORTS='["examples.host_jobs"]'``) in every process that
submits or runs these jobs: the web app, ``dramatiq syncjobs.actors`` and ``periodiq
syncjobs.actors``.

- ``example.nightly_report`` runs every night at 03:00 (``SYNCJOBS_TIMEZONE``, UTC by
  default). It counts the jobs the ledger holds for one day, by status, and reports its
  progress after each status.
- When it completes, syncjobs submits ``example.report_ready`` for the same owner (``then=``).
  Its params are the report's result and its ``parent_id`` is the report's job id.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field

from syncjobs import JobContext, JobStatus, job_type

__all__ = ["ReadyParams", "ReportParams", "nightly_report", "report_ready"]


class ReportParams(BaseModel):
    """What to report on. A scheduled run gets no params, so every field has a default."""

    day: date | None = Field(default=None, description="UTC day to report on; default yesterday.")
    pause: float = Field(
        default=0.0, ge=0, le=5, description="Seconds to wait per step, to watch progress live."
    )


class ReadyParams(BaseModel):
    """The report's result, handed over by ``then=`` as the follow-up's params."""

    report_id: str
    day: date
    total: int
    counts: dict[str, int]


@job_type(
    "example.nightly_report",
    params=ReportParams,
    schedule="0 3 * * *",  # every night at 03:00
    then="example.report_ready",  # submitted with this job's result when it completes
    time_limit=600,
)
def nightly_report(ctx: JobContext, p: ReportParams) -> dict[str, object]:
    """Count the ledger's jobs created on one day, by status."""
    day = p.day or (datetime.now(UTC).date() - timedelta(days=1))
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    statuses = list(JobStatus)
    counts: dict[str, int] = {}
    for step, status in enumerate(statuses, start=1):
        ctx.check_cancelled()  # a cancelled report stops here
        counts[status.value] = _count_jobs(ctx, status, start, end)
        ctx.progress(step, len(statuses), f"counted {status.value} jobs")
        if p.pause:
            time.sleep(p.pause)
    ctx.log(f"report for {day}: {counts}")
    # The result becomes the params of example.report_ready, so it must fit ReadyParams.
    return {
        "report_id": f"jobs-{day.isoformat()}",
        "day": day.isoformat(),
        "total": sum(counts.values()),
        "counts": counts,
    }


def _count_jobs(ctx: JobContext, status: JobStatus, start: datetime, end: datetime) -> int:
    """Jobs of ``status`` created in [start, end), paging newest first through the ledger."""
    found, offset, page = 0, 0, 500
    while True:
        jobs = ctx.app.repository.list_jobs(status=status, limit=page, offset=offset)
        found += sum(1 for job in jobs if start <= job.created_at < end)
        if len(jobs) < page or jobs[-1].created_at < start:
            return found  # the rest is older than the day
        offset += page


@job_type("example.report_ready", params=ReadyParams)
def report_ready(ctx: JobContext, p: ReadyParams) -> dict[str, object]:
    """Announce a finished report (a real app would e-mail it or post it to a chat)."""
    ctx.log(f"report {p.report_id} is ready: {p.total} jobs on {p.day}")
    ctx.progress(1, 1, f"announced {p.report_id}")
    return {"announced": p.report_id, "total": p.total, "parent_id": ctx.job.parent_id}
