"""The host's own data: a report a user asked for."""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    """A report of one user; the job ``example.build_report`` builds it."""

    #: The user; also the syncjobs ``owner_id`` of the report's job.
    owner = models.CharField(max_length=200, db_index=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    #: Set by the job, in the worker.
    built_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"report {self.pk} of {self.owner}: {self.title}"
