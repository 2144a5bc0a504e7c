"""JobContext: what a running job body gets to report progress, log, and stop when cancelled."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..clock import utcnow
from ..errors import InvalidInputError, JobCancelledError
from .app import JobApp
from .models import Job

__all__ = [
    "JobContext",
    "Outcome",
    "current_context",
    "mark_skipped",
    "set_current_context",
    "skipped_job",
    "take_skipped",
]

logger = logging.getLogger("syncjobs.job")
#: The highest percent a running job reports: the ledger writes 100 when it completes.
_BEFORE_DONE = 99.0
_local = threading.local()


def current_context() -> JobContext | None:
    """Return the context of the job running on this thread, if any."""
    return getattr(_local, "context", None)


def set_current_context(ctx: JobContext | None) -> None:
    """Make ``ctx`` the context of the job running on this thread (None: no job)."""
    _local.context = ctx


def mark_skipped(job_id: str) -> None:
    """Note that this thread's message for ``job_id`` is a delivery with nothing to run."""
    _local.skipped = job_id


def skipped_job() -> str | None:
    """The job id this thread's message was skipped for, if any."""
    job_id: str | None = getattr(_local, "skipped", None)
    return job_id


def take_skipped() -> str | None:
    """The job id this thread's message was skipped for, if any; forgets it."""
    job_id = skipped_job()
    _local.skipped = None
    return job_id


@dataclass(frozen=True)
class Outcome:
    """What a job body produced: its return value, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


class JobContext:
    """Handed to every job body: progress, log lines, cancellation checks and checkpoints."""

    def __init__(self, app: JobApp, job: Job) -> None:
        #: The application running the job: its ``repository``, ``settings`` and extensions.
        self.app = app
        #: The job as it was when this attempt started.
        self.job = job
        self._repo = app.repository
        self._interval = app.settings.progress_interval
        self._last_write = 0.0
        self._pending: tuple[int, int | None, str | None] | None = None
        self._cancelled = False
        #: Set by syncjobs when the body returns: its value or the exception it raised.
        self.outcome: Outcome | None = None
        #: When this attempt started (``time.monotonic()``): its duration is measured from it.
        self.started = time.monotonic()

    @property
    def job_id(self) -> str:
        """The job's id."""
        return self.job.id

    @property
    def owner_id(self) -> str:
        """The owner the job runs for."""
        return self.job.owner_id

    @property
    def attempt(self) -> int:
        """1 for the first run, 2 for the first retry, …"""
        return self.job.attempts

    @property
    def saved_checkpoint(self) -> Any:
        """The last checkpoint a previous attempt saved, or None."""
        return self.job.checkpoint

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Report ``done`` of ``total`` units; writes are throttled, the last one always lands.

        ``total`` may be an estimate, and None when unknown: the job's progress is then
        indeterminate (``to_dict()`` shows no percent and no ETA). A running job's percent
        stays below 100 (at most 99) until it completes.
        """
        if done < 0 or (total is not None and total < 0):
            raise InvalidInputError("progress counts must be >= 0")
        self._pending = (done, total, message)
        now = time.monotonic()
        final = total is not None and done >= total
        if final or now - self._last_write >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Write the latest unwritten progress now."""
        if self._pending is None:
            return
        done, total, message = self._pending
        self._pending = None
        # 100 % is for a completed job only: until then a total may be an estimate (done
        # can pass it), and the last unit's write comes before the job's outcome.
        percent = min(_BEFORE_DONE, round(100.0 * done / total, 2)) if total else 0.0
        self._last_write = time.monotonic()
        if self._repo.update_progress(
            self.job_id,
            done=done,
            total=total,
            percent=percent,
            message=message[:1000] if message else None,
            now=utcnow(),
        ):
            self._cancelled = True

    def log(self, message: str, *, level: str = "info") -> None:
        """Append a line to the job's log (and to Python logging)."""
        levelno = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        logger.log(levelno, "[%s %s] %s", self.job.job_type, self.job_id, message)
        self._repo.append_log(self.job_id, level, message[:10000], now=utcnow())

    def check_cancelled(self) -> None:
        """Raise JobCancelledError if the job was cancelled; call it between units of work."""
        if self._cancelled or self._repo.is_cancel_requested(self.job_id):
            self._cancelled = True
            raise JobCancelledError("the job was cancelled")

    def checkpoint(self, data: Any) -> None:
        """Save a JSON resume point; a retry of this job reads it as ``saved_checkpoint``."""
        self._repo.save_checkpoint(self.job_id, data, now=utcnow())
