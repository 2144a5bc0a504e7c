"""``JobApp``: the ledger operations of an application (submit, read, watch, cancel, retry).

It owns no Dramatiq actor: ``core.binding`` declares them and hands the app a ``Sender``.
Accounts and the extras attach themselves as extensions (``app.extension(Accounts)``) and
listen to its hooks; the job core never imports them. See docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import dramatiq
from pydantic import BaseModel

from .._validate import integer, optional_text, seconds, text
from ..clock import utcnow
from ..errors import ConfigurationError, InvalidInputError, JobNotFoundError
from ..settings import Settings
from .bulk import JobSpec, submit_many
from .checks import check_delay, check_job_id, check_owner, declared_params, validate_params
from .ledger.store import JobRepository
from .models import DeadLetter, Job, JobStatus, LogLine, NewJob
from .registry import JobType, Registry

__all__ = ["OUTCOMES", "SYSTEM_OWNER", "JobApp", "JobHook", "OutcomeHook", "Sender"]

logger = logging.getLogger("syncjobs")

#: The owner of jobs the scheduler starts.
SYSTEM_OWNER = "system"

E = TypeVar("E")
#: A function told about a job that just ended (it must not raise).
JobHook = Callable[[Job], None]
#: A function told how the tracking middleware handled one delivery of a job (it must not
#: raise): the job type, the outcome (one of ``OUTCOMES``) and the job as claimed (None when
#: the ledger has no such job or could not be read).
OutcomeHook = Callable[[str, str, Job | None], None]
#: How a delivery ends. After the body ran: ``completed``, ``failed`` (dead-lettered),
#: ``cancelled``, ``retried`` (backoff, a retry spent) or ``rate_limited`` (waiting, no retry
#: spent). Without running it: ``cancelled`` (cancelled as its worker died), ``expired``,
#: ``failed`` (out of attempts), ``skipped`` (a duplicate, early or late delivery) or
#: ``deferred`` (the ledger was unreachable; the message is sent again).
OUTCOMES = (
    "completed",
    "failed",
    "cancelled",
    "retried",
    "rate_limited",
    "expired",
    "skipped",
    "deferred",
)


class Sender(Protocol):
    """What hands a ledger job to the broker: the actor binding."""

    def send(self, job: Job, *, delay_ms: int | None = None) -> None:
        """Send ``job``'s message, after ``delay_ms`` when given."""


class JobApp:
    """The job core of an application: the ledger operations, hooks and extensions."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        repository: JobRepository,
        settings: Settings,
        registry: Registry,
    ) -> None:
        self.broker = broker
        self.repository = repository
        self.settings = settings
        self.registry = registry
        self.sender: Sender | None = None
        #: Called with each job that failed for good, after the ledger recorded it.
        self.dead_letter_hooks: list[JobHook] = []
        #: Called with each delivery's outcome, after the ledger recorded it (metrics).
        self.outcome_hooks: list[OutcomeHook] = []
        #: Called (in order) when the app closes, before the repository is closed.
        self.close_hooks: list[Callable[[], None]] = []
        #: Called by each round of upkeep with its time; each returns {step: rows touched}.
        self.upkeep_hooks: list[Callable[[datetime], dict[str, int]]] = []
        self._extensions: dict[type, object] = {}
        self._lock = threading.Lock()

    # -- extensions -----------------------------------------------------------------------
    def add_extension(self, extension: object) -> None:
        """Attach ``extension`` (accounts, the extras…), found again by its type."""
        with self._lock:
            self._extensions[type(extension)] = extension

    def extension(self, kind: type[E]) -> E:
        """Return the attached extension of type ``kind``."""
        found = self._extensions.get(kind)
        if not isinstance(found, kind):
            raise ConfigurationError(
                f"this app has no {kind.__name__}: build it with syncjobs.register_actors "
                "or syncjobs.create_app"
            )
        return found

    # -- submitting -----------------------------------------------------------------------
    def send(self, job: Job, *, delay_ms: int | None = None) -> None:
        """Hand a ledger job to the broker."""
        if self.sender is None:
            raise ConfigurationError("this app is not bound to a broker (use register_actors)")
        # A ledger job of a type this process does not declare: the deployment needs fixing.
        self.registry.require(job.job_type, named_by=f"job {job.id} in the ledger")
        self.sender.send(job, delay_ms=delay_ms)

    def submit(
        self,
        job_type: str,
        *,
        owner_id: str,
        params: BaseModel | dict[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        delay: float | timedelta | None = None,
        parent_id: str | None = None,
        enforce_limit: bool = True,
    ) -> Job:
        """Validate, record and enqueue a job; the same idempotency key returns the same job."""
        if not self.settings.enabled:
            raise ConfigurationError("background jobs are disabled (SYNCJOBS_ENABLED=false)")
        jt = self.registry.get(text(job_type, "job_type", max_len=100))
        new = self.new_job(
            jt, check_owner(owner_id), params, priority, idempotency_key, delay, parent_id
        )
        limit = self.settings.max_active_jobs_per_owner if enforce_limit else None
        job, created = self.repository.create_job(new, active_limit=limit)
        if created:
            try:
                self.send(job, delay_ms=_delay_ms(job))
            except Exception:
                self.repository.delete_job(job.id)
                raise
        return job

    def submit_many(
        self, specs: Iterable[JobSpec | Mapping[str, Any]], *, enforce_limit: bool = True
    ) -> list[Job]:
        """Submit many jobs: one ledger transaction, one batched send (see ``core.bulk``)."""
        return submit_many(self, specs, enforce_limit=enforce_limit)

    def new_job(
        self,
        jt: JobType,
        owner_id: str,
        params: BaseModel | dict[str, Any] | None,
        priority: int | None,
        idempotency_key: str | None,
        delay: float | timedelta | None,
        parent_id: str | None,
    ) -> NewJob:
        """Build the ledger row of a new job of type ``jt`` (validating everything)."""
        validated = validate_params(jt, params, self.settings.max_params_bytes)
        if priority is not None and (isinstance(priority, bool) or priority not in range(1, 11)):
            raise InvalidInputError(f"priority must be an integer 1..10, got {priority!r}")
        optional_text(idempotency_key, "idempotency_key")
        now = utcnow()
        wait = check_delay(delay)
        scheduled = now + wait if wait else None
        expiry = self.settings.job_expiry
        return NewJob(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            job_type=jt.name,
            queue=jt.queue,
            priority=priority or jt.priority,
            params=validated,
            max_retries=self.max_retries(jt),
            created_at=now,
            scheduled_for=scheduled,
            expires_at=(scheduled or now) + timedelta(seconds=expiry) if expiry else None,
            idempotency_key=idempotency_key,
            parent_id=parent_id,
        )

    def max_retries(self, jt: JobType) -> int:
        """Retries of a new job: the setting's override, the declared count, or the default."""
        override = self.settings.job_max_retries.get(jt.name)
        if override is not None:
            return max(0, override)
        return jt.max_retries if jt.max_retries is not None else self.settings.default_max_retries

    # -- ending ---------------------------------------------------------------------------
    def finish_job(
        self,
        job_id: str,
        *,
        status: JobStatus,
        now: datetime,
        result: Any = None,
        error_code: str | None = None,
        error_message: str | None = None,
        dead_letter: bool = False,
    ) -> Job | None:
        """End a processing job in the ledger, then submit its follow-up or run the hooks."""
        ended = self.repository.finish_job(
            job_id,
            status=status,
            now=now,
            result=result,
            error_code=error_code,
            error_message=error_message,
            dead_letter=dead_letter,
        )
        if ended is not None and status is JobStatus.COMPLETED:
            self.after_completed(ended)
        elif ended is not None and dead_letter:
            self.after_dead_letter(ended)
        return ended

    def after_completed(self, job: Job) -> None:
        """Submit the follow-up job of a completed job, if its type names one.

        Its params are the fields of the completed job's result that the follow-up declares.
        """
        jt = self.registry.find(job.job_type)
        if jt is None or jt.then is None:
            return
        result = job.result if isinstance(job.result, dict) else {}
        try:
            follow_up = self.registry.require(jt.then, named_by=f"then= of {jt.name!r}")
            self.submit(
                follow_up.name,
                owner_id=job.owner_id,
                params=declared_params(follow_up, result),
                parent_id=job.id,
                idempotency_key=f"then:{job.id}",
                enforce_limit=False,
            )
        except Exception:
            logger.exception("could not submit follow-up %s of job %s", jt.then, job.id)

    def after_dead_letter(self, job: Job) -> None:
        """Run the dead-letter hooks for a job that failed for good (never raises)."""
        for hook in list(self.dead_letter_hooks):
            try:
                hook(job)
            except Exception:
                logger.exception("a dead-letter hook failed for job %s", job.id)

    def after_outcome(self, job_type: str, outcome: str, job: Job | None) -> None:
        """Run the outcome hooks for one delivery of a ``job_type`` job (never raises)."""
        for hook in list(self.outcome_hooks):
            try:
                hook(job_type, outcome, job)
            except Exception:
                logger.exception("an outcome hook failed for a %s job", job_type)

    # -- reading --------------------------------------------------------------------------
    def owned(self, job_id: str, owner_id: str) -> Job:
        """Return the job ``job_id`` of ``owner_id``, or raise JobNotFoundError."""
        job = self.repository.get_job(check_job_id(job_id))
        if job is None or job.owner_id != check_owner(owner_id):
            raise JobNotFoundError(f"no job {job_id} for this owner")
        return job

    def status(self, job_id: str, *, owner_id: str) -> Job:
        """Return the job's current status, progress, ETA, result and error."""
        return self.owned(job_id, owner_id)

    def jobs(
        self,
        owner_id: str,
        *,
        status: JobStatus | str | None = None,
        job_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """List an owner's jobs, newest first."""
        try:
            st = JobStatus(status) if status is not None else None
        except ValueError:
            raise InvalidInputError(f"unknown status {status!r}") from None
        return self.repository.list_jobs(
            owner_id=check_owner(owner_id),
            status=st,
            job_type=optional_text(job_type, "job_type", max_len=100),
            limit=integer(limit, "limit", low=1, high=1000),
            offset=integer(offset, "offset", low=0, high=10**9),
        )

    def log(
        self, job_id: str, *, owner_id: str, limit: int = 100, after_id: int = 0
    ) -> list[LogLine]:
        """Return a job's log lines in order."""
        job = self.owned(job_id, owner_id)
        return self.repository.get_log(
            job.id,
            limit=integer(limit, "limit", low=1, high=10_000),
            after_id=integer(after_id, "after_id", low=0, high=2**62),
        )

    def dead_letters(self, *, owner_id: str | None = None, limit: int = 50) -> list[DeadLetter]:
        """Return jobs that failed for good, newest first."""
        return self.repository.list_dead_letters(owner_id=owner_id, limit=limit)

    def watch(self, job_id: str, *, owner_id: str, timeout: float | None = None) -> Iterator[Job]:
        """Yield the job now and at each change, until it finishes or ``timeout`` passes."""
        if timeout is not None:
            timeout = seconds(timeout, "timeout", low=0, high=7 * 86400)
        job = self.owned(job_id, owner_id)
        return self._watch(job, timeout)

    def _watch(self, job: Job, timeout: float | None) -> Iterator[Job]:
        deadline = None if timeout is None else utcnow() + timedelta(seconds=timeout)
        sub = self.repository.subscribe(job.id)
        try:
            current = self.repository.get_job(job.id) or job
            yield current
            while not current.is_terminal:
                left = 1.0 if deadline is None else (deadline - utcnow()).total_seconds()
                if left <= 0:
                    return
                sub.wait(min(left, 1.0))
                latest = self.repository.get_job(job.id)
                if latest is None:
                    return
                if _fingerprint(latest) != _fingerprint(current):
                    current = latest
                    yield current
        finally:
            sub.close()

    # -- changing -------------------------------------------------------------------------
    def cancel(self, job_id: str, *, owner_id: str) -> Job:
        """Cancel a job: at once if pending, at its next check if running."""
        job = self.owned(job_id, owner_id)
        updated = self.repository.cancel_job(job.id, now=utcnow())
        return updated or job

    def retry(self, job_id: str, *, owner_id: str) -> Job:
        """Run a failed or cancelled job again from scratch."""
        job = self.owned(job_id, owner_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidInputError(
                f"only failed or cancelled jobs can be retried (this one is {job.status})"
            )
        updated = self.repository.reset_job(
            job.id, now=utcnow(), active_limit=self.settings.max_active_jobs_per_owner
        )
        if updated is None:
            raise InvalidInputError("the job changed meanwhile; read its status again")
        self.send(updated)
        return updated

    # -- running in-process ---------------------------------------------------------------
    @contextlib.contextmanager
    def worker(self, *, threads: int = 4) -> Iterator[dramatiq.Worker]:
        """Run a Dramatiq worker in this process (demo, tests, the in-memory broker)."""
        worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=50)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()

    def close(self) -> None:
        """Close the broker, run the close hooks, then close the repository."""
        self.broker.close()
        for hook in list(self.close_hooks):
            hook()
        self.repository.close()


def _delay_ms(job: Job) -> int | None:
    if job.scheduled_for is None:
        return None
    return int((job.scheduled_for - job.created_at).total_seconds() * 1000)


def _fingerprint(job: Job) -> tuple[Any, ...]:
    return (
        job.status,
        job.progress_done,
        job.progress_total,
        job.progress_message,
        job.progress_percent,
        job.retry_count,
        job.error_code,
        job.cancel_requested,
        job.updated_at,
    )
