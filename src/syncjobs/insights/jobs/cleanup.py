"""``cleanup_old_data``: the retention rules, applied in small batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel

from ...clock import utcnow
from ...core.context import JobContext
from ...core.maintenance import upkeep_store
from ...core.registry import job_type
from ..service import Insights

__all__ = ["CleanupParams", "cleanup_old_data"]


class CleanupParams(BaseModel):
    """No parameters: the retention periods come from settings."""


@job_type(
    "cleanup_old_data",
    params=CleanupParams,
    queue="syncjobs",
    schedule="0 2 * * 0",
    time_limit=3600,
)
def cleanup_old_data(ctx: JobContext, params: CleanupParams) -> dict[str, int]:
    """Delete what is past retention, a small batch per transaction; count what went.

    Kept for ever: items judged BLOCK or REVIEW, items never analysed, unread notifications.
    """
    app, now = ctx.app, utcnow()
    s, insights, ledger = app.settings, Insights.of(app).repository, upkeep_store(app)
    batch = s.cleanup_batch_size
    days = timedelta(days=1)
    rules: list[tuple[str, Callable[[], int]]] = [
        (
            "allowed_items",
            lambda: insights.delete_allowed_items(
                before=now - s.retention_allowed_items_days * days, limit=batch
            ),
        ),
        (
            "read_notifications",
            lambda: insights.delete_read_notifications(
                before=now - s.retention_read_notifications_days * days, limit=batch
            ),
        ),
        (
            "jobs",
            lambda: ledger.purge_jobs(
                finished_before=now - s.retention_finished_days * days,
                failed_before=now - s.retention_failed_days * days,
                limit=batch,
            ),
        ),
        (
            "job_logs",
            lambda: app.repository.delete_job_logs(
                before=now - s.retention_job_log_days * days, limit=batch
            ),
        ),
    ]
    deleted = dict.fromkeys((name for name, _ in rules), 0)
    for step, (name, delete) in enumerate(rules):
        while True:
            ctx.check_cancelled()
            gone = delete()
            deleted[name] += gone
            ctx.progress(step, len(rules), f"{name}: {deleted[name]} deleted")
            if gone < batch:
                break
    ctx.progress(len(rules), len(rules), ", ".join(f"{k}: {v}" for k, v in deleted.items()))
    return {**deleted, "total": sum(deleted.values())}
