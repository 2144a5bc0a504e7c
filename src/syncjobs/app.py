"""Wiring: ``register_actors(broker, deps, settings)`` binds job types to a Dramatiq broker."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import dramatiq
import httpx
from pydantic import BaseModel, ValidationError

from ._validate import flag, integer, optional_text, seconds, text
from .accounts.store import AccountRepository, CredentialStore
from .context import JobContext, current_context
from .core.ledger.store import JobRepository
from .errors import (
    ConfigurationError,
    InvalidInputError,
    JobNotFoundError,
)
from .models import (
    Account,
    DeadLetter,
    DigestFrequency,
    Job,
    JobStatus,
    LogLine,
    NewJob,
    Notification,
    Preferences,
    TrustScore,
    UsagePeriod,
    UsageRecord,
    utcnow,
)
from .protocols import Analyzer, InsightsRepository, Notifier
from .providers.types import TokenSet
from .registry import JobType, Registry, default_registry
from .settings import Settings
from .tracking import TICK_ACTOR, Outcome, TrackingMiddleware

if TYPE_CHECKING:
    from .scheduling import ScheduleInfo
    from .upkeep import Health

__all__ = ["Deps", "SyncJobs", "register_actors"]

logger = logging.getLogger("syncjobs")

#: The owner of jobs the scheduler starts.
SYSTEM_OWNER = "system"
LATE_TICK_SECONDS = 7 * 24 * 3600
_MAX_DELAY = timedelta(days=6, hours=23)


@dataclass
class Deps:
    """What job bodies need, built once per process: storage and pluggable services."""

    repository: JobRepository
    #: Accounts, items and notifications; defaults to ``repository`` when it implements them.
    accounts: AccountRepository | None = None
    #: Where account tokens live (the SQL store encrypts them).
    credentials: CredentialStore | None = None
    #: An httpx transport every provider uses instead of the network (tests, demo).
    transport: httpx.BaseTransport | None = None
    #: Analyses, preferences, trust, usage, deliveries; defaults to ``repository`` too.
    insights: InsightsRepository | None = None
    #: What ``analyze_items`` judges items with (default: built from settings).
    analyzer: Analyzer | None = None
    #: Where notifications go (default: built from ``settings.notifiers``).
    notifiers: list[Notifier] | None = None
    #: Anything else a host's job types need, by name.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.accounts is None and isinstance(self.repository, AccountRepository):
            self.accounts = self.repository
        if self.insights is None and isinstance(self.repository, InsightsRepository):
            self.insights = self.repository


def _check_owner(owner_id: object) -> str:
    return text(owner_id, "owner_id")


def _check_job_id(job_id: object) -> str:
    try:
        return str(uuid.UUID(str(job_id)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInputError(f"malformed job id {str(job_id)[:80]!r}: expected a UUID") from None


class SyncJobs:
    """A bound syncjobs application: submit and follow jobs, run them on a Dramatiq broker."""

    def __init__(
        self,
        broker: dramatiq.Broker,
        deps: Deps,
        settings: Settings,
        registry: Registry,
    ) -> None:
        self.broker = broker
        self.deps = deps
        self.settings = settings
        self.registry = registry
        self.repository: JobRepository = deps.repository
        self._actors: dict[str, dramatiq.Actor[Any, Any]] = {}
        self._services_lock = threading.Lock()
        self._by_actor: dict[str, JobType] = {}
        self.middleware = TrackingMiddleware(self)
        broker.add_middleware(self.middleware)
        for jt in registry:
            self._declare(jt)
        self._declare_tick()

    # -- schedules and upkeep --------------------------------------------------------------
    def _declare_tick(self) -> None:
        """Declare ``syncjobs.tick``, the minute beat ``periodiq syncjobs.actors`` sends."""
        from periodiq import PeriodiqMiddleware, cron

        if TICK_ACTOR in self.broker.actors:
            return
        if not any("periodic" in m.actor_options for m in self.broker.middleware):
            # Late ticks are safe (slots are claimed in the ledger), so never skip them.
            self.broker.add_middleware(PeriodiqMiddleware(skip_delay=LATE_TICK_SECONDS))

        def tick() -> None:
            """Fire the schedules due now."""
            from .scheduling import Scheduler

            Scheduler(self).tick(utcnow())

        dramatiq.actor(
            actor_name=TICK_ACTOR,
            queue_name="syncjobs",
            broker=self.broker,
            max_retries=0,
            periodic=cron("* * * * *"),
        )(tick)

    def schedules(self) -> list[ScheduleInfo]:
        """Every schedule: cron, timezone, enabled, last slot fired, next slot."""
        from .scheduling import Scheduler

        return Scheduler(self).listing(utcnow())

    def health(self) -> Health:
        """Healthy when a worker heartbeat and a scheduler tick are recent; job counts."""
        from .upkeep import health

        return health(self)

    def maintain(self) -> dict[str, int]:
        """Run one round of ledger upkeep now (``maintain_jobs`` does it every 5 minutes)."""
        from .upkeep import maintain

        return maintain(self)

    # -- actors ---------------------------------------------------------------------------
    def _declare(self, jt: JobType) -> dramatiq.Actor[Any, Any]:
        known = self._actors.get(jt.name)
        if known is not None:
            return known

        def run(job_id: str) -> None:
            ctx = current_context()
            if ctx is None or ctx.job_id != job_id:
                raise ConfigurationError("a syncjobs actor ran without its tracking middleware")
            ctx.outcome = _run_body(jt, ctx)

        run.__name__ = run.__qualname__ = jt.name.replace(".", "_").replace(":", "_")
        time_limit = jt.time_limit or self.settings.default_time_limit
        actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=jt.name,
            queue_name=jt.queue,
            priority=jt.priority,
            broker=self.broker,
            max_retries=0,
            time_limit=int(time_limit * 1000),
        )(run)
        self._actors[jt.name] = actor
        self._by_actor[jt.name] = jt
        return actor

    def job_type_for_actor(self, actor_name: str) -> JobType | None:
        """Return the job type behind a Dramatiq actor name, if it is one of ours."""
        return self._by_actor.get(actor_name)

    def actor(self, job_type: str) -> dramatiq.Actor[Any, Any]:
        """Return (declaring if needed) the Dramatiq actor of a job type."""
        return self._declare(self.registry.get(job_type))

    def send(self, job: Job, *, delay_ms: int | None = None) -> None:
        """Hand a ledger job to the broker."""
        actor = self.actor(job.job_type)
        actor.send_with_options(args=(job.id,), delay=delay_ms or None)

    # -- submitting -----------------------------------------------------------------------
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
        new = self._new_job(
            jt, _check_owner(owner_id), params, priority, idempotency_key, delay, parent_id
        )
        limit = self.settings.max_active_jobs_per_owner if enforce_limit else None
        job, created = self.repository.create_job(new, active_limit=limit)
        if created:
            try:
                delay_ms = (
                    int((job.scheduled_for - job.created_at).total_seconds() * 1000)
                    if job.scheduled_for
                    else None
                )
                self.send(job, delay_ms=delay_ms)
            except Exception:
                self.repository.delete_job(job.id)
                raise
        return job

    def _new_job(
        self,
        jt: JobType,
        owner_id: str,
        params: BaseModel | dict[str, Any] | None,
        priority: int | None,
        idempotency_key: str | None,
        delay: float | timedelta | None,
        parent_id: str | None,
    ) -> NewJob:
        validated = _validate_params(jt, params, self.settings.max_params_bytes)
        if priority is not None and (isinstance(priority, bool) or priority not in range(1, 11)):
            raise InvalidInputError(f"priority must be an integer 1..10, got {priority!r}")
        optional_text(idempotency_key, "idempotency_key")
        now = utcnow()
        wait = _check_delay(delay)
        scheduled = now + wait if wait else None
        expiry = self.settings.job_expiry
        return NewJob(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            job_type=jt.name,
            queue=jt.queue,
            priority=priority or jt.priority,
            params=validated,
            max_retries=self._max_retries(jt),
            created_at=now,
            scheduled_for=scheduled,
            expires_at=(scheduled or now) + timedelta(seconds=expiry) if expiry else None,
            idempotency_key=idempotency_key,
            parent_id=parent_id,
        )

    def _max_retries(self, jt: JobType) -> int:
        """Retries of a new job: the setting's override, the declared count, or the default."""
        override = self.settings.job_max_retries.get(jt.name)
        if override is not None:
            return max(0, override)
        return jt.max_retries if jt.max_retries is not None else self.settings.default_max_retries

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
        """End a processing job in the ledger, then submit its follow-up or tell the operator."""
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
        """Submit the follow-up job of a completed job, if its type names one."""
        jt = self._by_actor.get(job.job_type)
        if jt is None or jt.then is None:
            return
        params = job.result if isinstance(job.result, dict) else {}
        try:
            self.submit(
                jt.then,
                owner_id=job.owner_id,
                params=params,
                parent_id=job.id,
                idempotency_key=f"then:{job.id}",
                enforce_limit=False,
            )
        except Exception:
            logger.exception("could not submit follow-up %s of job %s", jt.then, job.id)

    def after_dead_letter(self, job: Job) -> None:
        """Tell the operator that a job failed for good (never raises)."""
        if self.deps.insights is None or self.deps.accounts is None:
            return
        try:
            self.notify(
                self.settings.operator_owner_id,
                kind="dead_letter",
                title=f"Job {job.job_type} failed for good",
                body=f"{job.error_code or 'error'}: {(job.error_message or '')[:500]}",
                data={
                    "job_id": job.id,
                    "owner_id": job.owner_id,
                    "job_type": job.job_type,
                    "error_code": job.error_code,
                    "attempts": job.attempts,
                },
                # A failing notifier must not notify about itself forever.
                external=job.job_type != "deliver_notification",
            )
        except Exception:
            logger.exception("could not notify the operator of dead-lettered job %s", job.id)

    # -- services: analyzer, notifiers, insights ----------------------------------------
    @property
    def insights(self) -> InsightsRepository:
        """The repository of analyses, preferences, trust scores, usage and deliveries."""
        if self.deps.insights is None:
            raise ConfigurationError("this needs an InsightsRepository in Deps.insights")
        return self.deps.insights

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer ``analyze_items`` uses (built from settings on first use)."""
        with self._services_lock:
            if self.deps.analyzer is None:
                from .analysis import build_analyzer

                self.deps.analyzer = build_analyzer(self.settings, self.deps.transport)
            return self.deps.analyzer

    @property
    def notifiers(self) -> list[Notifier]:
        """Every notifier a notification goes through (built from settings on first use)."""
        with self._services_lock:
            if self.deps.notifiers is None:
                from .notifiers import build_notifiers

                self.deps.notifiers = build_notifiers(self.settings, self.deps.transport)
            return self.deps.notifiers

    def notifier(self, name: str) -> Notifier:
        """The notifier called ``name``."""
        for notifier in self.notifiers:
            if notifier.name == name:
                return notifier
        raise ConfigurationError(
            f"no notifier named {name!r} (configured: "
            f"{', '.join(n.name for n in self.notifiers) or 'none'})"
        )

    def notify(
        self,
        owner_id: str,
        *,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any] | None = None,
        external: bool = True,
    ) -> Notification:
        """Record a notification and queue its delivery through every notifier."""
        if self.deps.accounts is None:
            raise ConfigurationError("notifications need an AccountRepository in Deps")
        owner = _check_owner(owner_id)
        payload = dict(data or {})
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"notification data must be JSON: {exc}") from None
        note = self.insights.add_notification(
            owner_id=owner,
            kind=text(kind, "kind", max_len=64),
            title=text(title, "title", max_len=255),
            body=text(body, "body", max_len=10_000),
            data=payload,
            now=utcnow(),
        )
        for notifier in self.notifiers:
            if notifier.name == "in_app":  # the row just written is the in-app notification
                self.insights.record_delivery(
                    note.id, notifier.name, ok=True, error=None, now=utcnow()
                )
            elif external:
                self.submit(
                    "deliver_notification",
                    owner_id=owner,
                    params={"notification_id": note.id, "notifier": notifier.name},
                    idempotency_key=f"notify:{note.id}:{notifier.name}",
                    enforce_limit=False,
                )
        return note

    def mark_read(self, owner_id: str, notification_ids: list[int] | None = None) -> int:
        """Mark an owner's notifications read (all of them when no ids are given)."""
        ids = (
            None
            if notification_ids is None
            else [integer(i, "notification id", low=1, high=2**62) for i in notification_ids]
        )
        return self.insights.mark_notifications_read(_check_owner(owner_id), ids, now=utcnow())

    def preferences(self, owner_id: str) -> Preferences:
        """An owner's preferences (defaults when none were set)."""
        owner = _check_owner(owner_id)
        stored = self.insights.get_preferences(owner)
        return stored if stored is not None else self.default_preferences(owner)

    def default_preferences(self, owner_id: str) -> Preferences:
        """The preferences of an owner who set none."""
        return Preferences(
            owner_id=owner_id,
            timezone=self.settings.timezone,
            digest=DigestFrequency(self.settings.default_digest),
        )

    def set_preferences(self, owner_id: str, **changes: Any) -> Preferences:
        """Change some of an owner's preferences; unknown or invalid values raise."""
        from .preferences import apply_changes

        current = self.preferences(owner_id)
        return self.insights.save_preferences(apply_changes(current, changes), now=utcnow())

    def trust_scores(self, owner_id: str) -> list[TrustScore]:
        """An owner's channel trust scores, least trusted first."""
        return self.insights.list_trust_scores(owner_id=_check_owner(owner_id))

    def usage(
        self,
        owner_id: str,
        *,
        period: UsagePeriod | str = UsagePeriod.DAY,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """An owner's usage records of one period kind, oldest first."""
        try:
            kind = UsagePeriod(period)
        except ValueError:
            raise InvalidInputError(
                f"unknown period {period!r}: use hour, day, week or month"
            ) from None
        for name, value in (("start", start), ("end", end)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidInputError(f"{name} must be an aware datetime")
        return self.insights.list_usage(
            owner_id=_check_owner(owner_id), period=kind, start=start, end=end
        )

    # -- reading --------------------------------------------------------------------------
    def _owned(self, job_id: str, owner_id: str) -> Job:
        job = self.repository.get_job(_check_job_id(job_id))
        if job is None or job.owner_id != _check_owner(owner_id):
            raise JobNotFoundError(f"no job {job_id} for this owner")
        return job

    def status(self, job_id: str, *, owner_id: str) -> Job:
        """Return the job's current status, progress, ETA, result and error."""
        return self._owned(job_id, owner_id)

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
            owner_id=_check_owner(owner_id),
            status=st,
            job_type=optional_text(job_type, "job_type", max_len=100),
            limit=integer(limit, "limit", low=1, high=1000),
            offset=integer(offset, "offset", low=0, high=10**9),
        )

    def log(
        self, job_id: str, *, owner_id: str, limit: int = 100, after_id: int = 0
    ) -> list[LogLine]:
        """Return a job's log lines in order."""
        job = self._owned(job_id, owner_id)
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
        job = self._owned(job_id, owner_id)
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
        job = self._owned(job_id, owner_id)
        updated = self.repository.cancel_job(job.id, now=utcnow())
        return updated or job

    def retry(self, job_id: str, *, owner_id: str) -> Job:
        """Run a failed or cancelled job again from scratch."""
        job = self._owned(job_id, owner_id)
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

    # -- accounts -------------------------------------------------------------------------
    def connect_account(
        self,
        owner_id: str,
        provider: str,
        tokens: TokenSet | dict[str, Any],
        *,
        external_id: str | None = None,
        display_name: str | None = None,
        sync_interval: int | None = None,
    ) -> Account:
        """Connect (or reconnect) an owner's provider account; its tokens are stored encrypted."""
        from .sync import connect

        return connect(
            self,
            owner_id=owner_id,
            provider=provider,
            tokens=tokens,
            external_id=external_id,
            display_name=display_name,
            sync_interval=sync_interval,
        )

    def accounts(self, owner_id: str) -> list[Account]:
        """List an owner's connected accounts."""
        from .sync import accounts_of

        return accounts_of(self, owner_id)

    def disconnect_account(self, account_id: str, *, owner_id: str) -> None:
        """Remove an account, its tokens and its synced items."""
        from .sync import disconnect

        disconnect(self, account_id, owner_id=owner_id)

    def sync_account(self, account_id: str, *, owner_id: str, full: bool = False) -> Job:
        """Queue a sync of an account now (coalesces with one already waiting)."""
        from .sync import owned_account, request_sync

        return request_sync(
            self, owned_account(self, account_id, _check_owner(owner_id)), full=flag(full, "full")
        )

    def notifications(self, owner_id: str, *, unread_only: bool = False) -> list[Notification]:
        """An owner's in-app notifications, newest first."""
        if self.deps.accounts is None:
            raise ConfigurationError("notifications need an AccountRepository in Deps")
        return self.insights.list_notifications(
            owner_id=_check_owner(owner_id), unread_only=unread_only
        )

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
        """Close the broker, the repository and the analyzer."""
        self.broker.close()
        if self.deps.analyzer is not None:
            self.deps.analyzer.close()
        self.repository.close()


def _run_body(jt: JobType, ctx: JobContext) -> Outcome:
    try:
        params = jt.params.model_validate(ctx.job.params)
    except ValidationError as exc:
        return Outcome(error=InvalidInputError(f"stored params no longer validate: {exc}"))
    try:
        return Outcome(value=jt.func(ctx, params))
    except Exception as exc:
        return Outcome(error=exc)
    except dramatiq.middleware.Interrupt as exc:  # time limit, shutdown
        return Outcome(error=exc)


def _validate_params(
    jt: JobType, params: BaseModel | dict[str, Any] | None, max_bytes: int
) -> dict[str, Any]:
    raw: Any = {} if params is None else params
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        raise InvalidInputError(f"params must be a JSON object, got {type(raw).__name__}")
    try:
        model = jt.params.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in errors
        )
        raise InvalidInputError(f"invalid params for {jt.name}: {detail}", errors=errors) from None
    dumped: dict[str, Any] = model.model_dump(mode="json")
    try:
        size = len(json.dumps(dumped, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidInputError(f"params are not encodable as UTF-8 JSON: {exc}") from None
    if size > max_bytes:
        raise InvalidInputError(f"params are {size} bytes; the limit is {max_bytes}")
    if "\\u0000" in json.dumps(dumped):
        raise InvalidInputError("params must not contain NUL characters")
    return dumped


def _check_delay(delay: float | timedelta | None) -> timedelta | None:
    if delay is None:
        return None
    if isinstance(delay, timedelta):
        wait = delay
    else:
        wait = timedelta(seconds=seconds(delay, "delay", low=0, high=_MAX_DELAY.total_seconds()))
    if wait < timedelta(0) or wait > _MAX_DELAY:
        raise InvalidInputError("delay must be between 0 and 7 days")
    return wait or None


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


def register_actors(
    broker: dramatiq.Broker,
    deps: Deps,
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    make_current: bool = True,
) -> SyncJobs:
    """Bind every registered job type to ``broker`` and return the application.

    Args:
        broker: The Dramatiq broker workers consume from and submits send to.
        deps: Storage and services the job bodies use.
        settings: Settings (default: read from the environment).
        registry: Job types to bind (default: every ``@job_type`` declared so far).
        make_current: Make this app the one ``syncjobs.submit`` and friends use.
    """
    from . import _current, jobtypes  # noqa: F401  (declares the built-in job types)

    app = SyncJobs(broker, deps, settings or Settings(), registry or default_registry)
    if make_current:
        _current.set_app(app)
    return app
