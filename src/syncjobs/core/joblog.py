"""The worker's log lines per job: one INFO line when an attempt starts, one when it ends.

They are written by the tracking middleware to the ``syncjobs.worker`` logger, with the job
fields as record attributes (``job_id``, ``job_type``, ``owner_id``, ``attempt``, and at the
end ``duration`` in seconds, ``outcome`` and ``error_code``), which the JSON log format
(``SYNCJOBS_LOG_FORMAT=json``) turns into keys of their own.
"""

from __future__ import annotations

import logging

from .models import Job

__all__ = ["log_finished", "log_started", "logger"]

logger = logging.getLogger("syncjobs.worker")


def _fields(job: Job) -> dict[str, object]:
    return {
        "job_id": job.id,
        "job_type": job.job_type,
        "owner_id": job.owner_id,
        "attempt": job.attempts,
    }


def log_started(job: Job) -> None:
    """Log that an attempt of ``job`` started."""
    logger.info(
        "job %s started: %s for owner %s, attempt %d",
        job.id,
        job.job_type,
        job.owner_id,
        job.attempts,
        extra=_fields(job),
    )


def log_finished(job: Job, outcome: str, duration: float, error_code: str | None = None) -> None:
    """Log how an attempt of ``job`` ended: its outcome, after how long, and why if it failed."""
    why = f" ({error_code})" if error_code else ""
    logger.info(
        "job %s %s%s: %s for owner %s, attempt %d, %.3f s",
        job.id,
        outcome,
        why,
        job.job_type,
        job.owner_id,
        job.attempts,
        duration,
        extra={
            **_fields(job),
            "duration": round(duration, 3),
            "outcome": outcome,
            "error_code": error_code,
        },
    )
