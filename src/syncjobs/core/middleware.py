"""The Dramatiq middleware that keeps the job ledger true.

Before a message runs it claims the job (``pending → processing``, counting the attempt) or
skips the message (cancelled, finished, expired, out of attempts); after it runs it records
completion, failure, the next retry, or the dead letter, by the error tree (docs/architecture.md),
and tells the app's ``outcome_hooks`` how each delivery ended (``JobApp.after_outcome``):

- ``JobCancelledError`` → cancelled;
- ``RateLimitedError`` → pending again after exactly ``retry_after``, the attempt given back;
- other retriable errors and unexpected exceptions → exponential backoff while retries last;
- ``FatalError``, ``InvalidInputError``, ``ConfigurationError`` → failed at once;
- out of retries → failed and dead-lettered.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from pydantic_core import to_jsonable_python

from ..clock import utcnow
from ..errors import (
    AccountNotFoundError,
    ConfigurationError,
    FatalError,
    InvalidInputError,
    JobCancelledError,
    RateLimitedError,
    SyncJobsError,
)
from .app import JobApp
from .context import (
    JobContext,
    Outcome,
    current_context,
    mark_skipped,
    set_current_context,
    take_skipped,
)
from .groupcommit import GroupCommit
from .joblog import log_finished, log_started
from .ledger.store import BatchClaimer, BatchFinisher
from .maintenance import Heartbeat
from .models import Claim, Finish, Job, JobStatus
from .priority import prepare_worker, resend, tune_consumer
from .registry import JobType
from .scheduling import Scheduler

__all__ = ["TrackingMiddleware", "backoff_seconds", "describe", "worker_id"]

logger = logging.getLogger("syncjobs.tracking")

#: Seconds before a message whose job could not be claimed (database down) is tried again.
_DB_RETRY_SECONDS = 5
#: Waits between attempts to record an outcome while the database is unreachable.
_RECORD_WAITS = (0.5, 1, 2, 4, 8, 15, 30)
#: Redis refuses delays of 7 days or more; longer waits are re-sent by maintenance.
_MAX_DELAY_MS = 7 * 24 * 3600 * 1000 - 60_000
_FAIL_AT_ONCE = (FatalError, InvalidInputError, ConfigurationError, AccountNotFoundError)


def _with_db_retries(write: Any) -> None:
    """Run a ledger write, retrying through a short database outage (a restart)."""
    for wait in (*_RECORD_WAITS, None):
        try:
            write()
            return
        except Exception:
            if wait is None:
                raise
            logger.warning("ledger write failed; retrying in %ss", wait, exc_info=True)
            time.sleep(wait)


_process: tuple[int, str] = (0, "")


def worker_id() -> str:
    """Identify this worker thread in the ledger: host:pid:thread."""
    global _process
    pid = os.getpid()
    if _process[0] != pid:  # once per process (a forked child has its own pid)
        _process = (pid, f"{socket.gethostname()}:{pid}")
    return f"{_process[1]}:{threading.get_ident()}"


def backoff_seconds(retry: int, minimum: float, maximum: float) -> float:
    """Exponential backoff with full jitter in its upper half: retry 0 waits ~``minimum``."""
    ceiling = min(maximum, minimum * float(2 ** min(retry, 60)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def describe(exc: BaseException) -> tuple[str, str]:
    """Map an exception to the ledger's (error_code, error_message)."""
    if isinstance(exc, SyncJobsError):
        return exc.code, exc.message[:2000]
    name = type(exc).__name__
    code = "time_limit_exceeded" if name == "TimeLimitExceeded" else "internal_error"
    text = str(exc)
    return code, (f"{name}: {text}" if text else name)[:2000]


class _NotRun(NamedTuple):
    """A delivery with nothing to run: its outcome, why, and the job (if the ledger has it)."""

    outcome: str
    reason: str
    job: Job | None


class TrackingMiddleware(Middleware):
    """Claims jobs before they run and records how they ended."""

    def __init__(self, app: JobApp) -> None:
        self.app = app
        self.heartbeat = Heartbeat(app)
        #: The job type behind each actor this middleware tracks, by actor name.
        self.job_types: dict[str, JobType] = {}
        repo = app.repository
        #: Commits the ends of jobs of this process's threads together (None: one by one).
        self.group: GroupCommit[Finish, Job] | None = (
            GroupCommit(repo.finish_jobs, name="syncjobs-group-finish")
            if isinstance(repo, BatchFinisher)
            else None
        )
        #: Claims the jobs of this process's threads together (None: one by one).
        self.claims: GroupCommit[Claim, Job] | None = (
            GroupCommit(repo.claim_jobs, name="syncjobs-group-claim")
            if isinstance(repo, BatchClaimer)
            else None
        )

    # -- before -------------------------------------------------------------------------
    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        """Claim the job or skip the message; a minute tick runs the scheduler instead."""
        jt = self.job_types.get(message.actor_name)
        if jt is None:
            return
        job_id = str(message.args[0]) if message.args else ""
        try:
            ctx = self._claim(job_id)
        except Exception:  # the database is unreachable: keep the message, try again later
            logger.warning(
                "could not claim job %s; trying again in %ss",
                job_id,
                _DB_RETRY_SECONDS,
                exc_info=True,
            )
            resend(broker, message, _DB_RETRY_SECONDS * 1000)
            self.app.after_outcome(jt.name, "deferred", None)
            raise SkipMessage(f"job {job_id} deferred: database unavailable") from None
        if isinstance(ctx, _NotRun):
            # Refused (cancelled, expired, out of attempts), or a duplicate or late delivery
            # (a crash's redelivery, a re-send): nothing to run.
            logger.info("job %s (%s): delivery skipped: %s", job_id, message.actor_name, ctx.reason)
            mark_skipped(job_id)
            self.app.after_outcome(jt.name, ctx.outcome, ctx.job)
            return
        self.heartbeat.add(job_id)
        set_current_context(ctx)
        log_started(ctx.job)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Start the group writers and heartbeating; run the schedules marked ``on_startup``."""
        for group in (self.claims, self.group):
            if group is not None:
                group.start()
        self.heartbeat.start()
        try:
            Scheduler(self.app).startup(utcnow())
        except Exception:
            logger.exception("startup schedules failed")

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Let the worker consume its queues' priority bands and rank work by priority."""
        prepare_worker(worker)

    def after_consumer_thread_boot(self, broker: dramatiq.Broker, thread: Any) -> None:
        """Let the consumer of a high priority band poll its queue often while idle."""
        tune_consumer(thread, {jt.queue for jt in self.job_types.values()})

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Stop heartbeating."""
        self.heartbeat.stop()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Stop the group writers once the worker's threads have stopped."""
        for group in (self.claims, self.group):
            if group is not None:
                group.stop()

    def _claim(self, job_id: str) -> JobContext | _NotRun:
        """Claim the job; why it was not runnable, and how that ended, if it was not."""
        repo, now, s = self.app.repository, utcnow(), self.app.settings
        stale_before = now - timedelta(seconds=s.job_stale_after)
        if self.claims is not None:
            job = self.claims.write(Claim(job_id, worker_id(), now, stale_before))
        else:
            job = repo.claim_job(job_id, worker_id=worker_id(), now=now, stale_before=stale_before)
        if job is None:
            current = repo.get_job(job_id)
            return _NotRun("skipped", self._unclaimed(current, now), current)
        refusal = self._refusal(job, now)
        if refusal is not None:
            status, code, message, dead = refusal
            self.app.finish_job(
                job.id,
                status=status,
                now=now,
                error_code=code,
                error_message=message,
                dead_letter=dead,
            )
            outcome = "expired" if code == "expired" else str(status)
            return _NotRun(outcome, f"{code}: {message}", job)
        return JobContext(self.app, job)

    def _unclaimed(self, current: Job | None, now: datetime) -> str:
        """A message whose job could not be claimed: drop it, or look again later; say why."""
        if current is None:
            return "no such job in the ledger"
        if current.is_terminal:
            return f"already {current.status}"
        if current.status is JobStatus.PENDING and current.scheduled_for is not None:
            # Delivered early (a re-sent message): send it again for the remaining delay.
            self._send_later(current, (current.scheduled_for - now).total_seconds())
            return "delivered before its run time; sent again for then"
        if current.status is JobStatus.PENDING:
            return "claimed meanwhile by another worker"
        beat = current.heartbeat_at
        interval = self.app.settings.heartbeat_interval
        if beat is None or (now - beat).total_seconds() > 2 * interval:
            # Its worker may be dead (a redelivered message): look again once it is stale.
            self._send_later(current, self.app.settings.job_stale_after)
            return "its worker has missed heartbeats; looking again once it counts as dead"
        return f"running on a live worker ({current.worker_id})"

    @staticmethod
    def _refusal(job: Job, now: Any) -> tuple[JobStatus, str, str, bool] | None:
        if job.cancel_requested:
            return JobStatus.CANCELLED, "cancelled", "the job was cancelled", False
        if job.attempts == 1 and job.expires_at is not None and job.expires_at < now:
            return JobStatus.FAILED, "expired", "the job expired before a worker took it", False
        if job.attempts > job.max_retries + 1:
            return (
                JobStatus.FAILED,
                "attempts_exhausted",
                f"the job was started {job.attempts - 1} times without finishing "
                "(its worker was killed or lost); giving up",
                True,
            )
        return None

    # -- after --------------------------------------------------------------------------
    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """Record completion, retry, failure or cancellation."""
        ctx = current_context()
        take_skipped()
        if ctx is None or message.actor_name not in self.job_types:
            return
        set_current_context(None)
        if exception is None and ctx.outcome is not None:
            outcome = ctx.outcome
        else:
            outcome = Outcome(value=result, error=exception)
        try:
            ctx.flush()
        except Exception:  # progress is best effort; the outcome below is not
            logger.warning("could not write the last progress of job %s", ctx.job_id)
        ended: list[str] = []
        try:
            _with_db_retries(lambda: ended.append(self.record(ctx.job, outcome)))
        finally:
            self.heartbeat.discard(ctx.job_id)
        if outcome.error is not None:
            error_code: str | None = describe(outcome.error)[0]
        else:  # a returned value that is not JSON fails the attempt too
            error_code = None if ended[-1] == "completed" else InvalidInputError.code
        log_finished(ctx.job, ended[-1], time.monotonic() - ctx.started, error_code)
        self.app.after_outcome(ctx.job.job_type, ended[-1], ctx.job)
        # The ledger has recorded the failure and owns what comes next (a retry it sends, or
        # its dead letter): acknowledge the message instead of leaving it in Dramatiq's own
        # dead-letter queue, where Dramatiq's retries middleware put it.
        message.failed = False

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        """Forget the context of a skipped message."""
        set_current_context(None)
        take_skipped()

    def record(self, job: Job, outcome: Outcome) -> str:
        """Write the outcome of one attempt of ``job`` to the ledger; name what it was.

        The name is ``completed``, ``cancelled``, ``rate_limited`` (no retry spent),
        ``retried`` or ``failed``.
        """
        now, exc = utcnow(), outcome.error
        if exc is None:
            try:
                value = to_jsonable_python(outcome.value)
            except Exception as err:
                exc = InvalidInputError(f"the job returned a value that is not JSON: {err}")
            else:
                self._end(Finish(job.id, JobStatus.COMPLETED, now, result=value))
                return "completed"
        code, text = describe(exc)
        if isinstance(exc, JobCancelledError):
            self._end(Finish(job.id, JobStatus.CANCELLED, now, None, code, text))
            return "cancelled"
        if isinstance(exc, RateLimitedError):
            self._retry(job, exc.retry_after, code, text, count_retry=False)
            return "rate_limited"
        if isinstance(exc, _FAIL_AT_ONCE) or job.retry_count >= job.max_retries:
            logger.warning("job %s (%s) failed for good: %s", job.id, job.job_type, code)
            self._end(Finish(job.id, JobStatus.FAILED, now, None, code, text, dead_letter=True))
            return "failed"
        s = self.app.settings
        delay = backoff_seconds(job.retry_count, s.retry_min_backoff, s.retry_max_backoff)
        self._retry(job, delay, code, text, count_retry=True)
        return "retried"

    def _end(self, finish: Finish) -> None:
        """Write a job's end, with other threads' in one commit when the store can; then hooks.

        It returns once the end is durable: only then may Dramatiq acknowledge the message.
        """
        if self.group is None:
            f = finish
            self.app.finish_job(
                f.job_id,
                status=f.status,
                now=f.now,
                result=f.result,
                error_code=f.error_code,
                error_message=f.error_message,
                dead_letter=f.dead_letter,
            )
            return
        ended = self.group.write(finish)
        if ended is not None and finish.status is JobStatus.COMPLETED:
            self.app.after_completed(ended)
        elif ended is not None and finish.dead_letter:
            self.app.after_dead_letter(ended)

    def _retry(self, job: Job, delay: float, code: str, text: str, *, count_retry: bool) -> None:
        now = utcnow()
        updated = self.app.repository.reschedule_job(
            job.id,
            run_at=now + timedelta(seconds=delay),
            now=now,
            error_code=code,
            error_message=text,
            count_retry=count_retry,
        )
        if updated is not None:
            kind = "retry" if count_retry else "wait (no retry spent)"
            self.app.repository.append_log(
                job.id,
                "warning",
                f"attempt {job.attempts} failed ({code}: {text}); {kind} at "
                f"{updated.scheduled_for.isoformat() if updated.scheduled_for else 'once'}",
                now=now,
            )
            self._send_later(updated, delay)

    def _send_later(self, job: Job, delay: float) -> None:
        ms = max(0, min(int(delay * 1000), _MAX_DELAY_MS))
        try:
            self.app.send(job, delay_ms=ms)
        except Exception:  # the ledger keeps it pending; maintenance re-sends it
            logger.exception("could not re-send job %s; it stays pending in the ledger", job.id)
