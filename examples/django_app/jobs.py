"""The project's job type: ``example.build_report`` reads and updates a ``Report`` row.

Every process that submits or runs it imports this module: list it in ``SYNCJOBS_IMPORTS``
for the web process and for ``dramatiq syncjobs.actors``. In a worker nothing has set Django
up yet, so importing this module does (``DJANGO_SETTINGS_MODULE``, by default this project's
settings). The job closes its thread's stale database connections before and after it runs,
as Django does around each request.
"""

from __future__ import annotations

import os

import django
from django.apps import apps
from django.db import close_old_connections
from django.utils import timezone
from pydantic import BaseModel, Field

from syncjobs import FatalError, JobContext, job_type

__all__ = ["BUILD_REPORT", "BuildReportParams", "build_report"]

BUILD_REPORT = "example.build_report"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
if not apps.apps_ready:  # a worker: Django is not set up yet (a web process has done it)
    django.setup()

from .models import Report  # noqa: E402  (a model needs Django set up first)


class BuildReportParams(BaseModel):
    """Which report to build: the id of its ``Report`` row."""

    report_id: int = Field(gt=0)


@job_type(BUILD_REPORT, params=BuildReportParams, time_limit=300)
def build_report(ctx: JobContext, p: BuildReportParams) -> dict[str, object]:
    """Read the report's row, summarise its title, and store the summary in the row."""
    close_old_connections()  # this worker thread may hold a connection from an earlier job
    try:
        report = Report.objects.filter(pk=p.report_id, owner=ctx.owner_id).first()
        if report is None:
            # Retrying cannot help. This happens when the job was submitted inside a
            # transaction that then rolled back (submit it with on_commit instead).
            raise FatalError(f"report {p.report_id} does not exist")
        ctx.progress(1, 2, "read the report")
        ctx.check_cancelled()
        words = report.title.split()
        summary = {"words": len(words), "longest_word": max(words, key=len)}
        Report.objects.filter(pk=report.pk).update(built_at=timezone.now(), summary=summary)
        ctx.progress(2, 2, "stored the summary")
        return {"report_id": report.pk, "title": report.title, **summary}
    finally:
        close_old_connections()
