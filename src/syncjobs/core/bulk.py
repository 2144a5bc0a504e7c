"""``submit_many``: many jobs at once, one ledger transaction and one batched send.

The same rules as ``JobApp.submit`` for each job, at the cost of a few statements for the
whole batch: every spec is validated before anything is written (a bad one raises
InvalidInputError naming its index, and nothing is written or sent); the rows are inserted in
one transaction (``JobBatchStore.create_jobs``, or a loop of ``create_job`` that undoes itself
for stores without it); an idempotency key already in the ledger returns that job, and a key
repeated inside the batch is one job. Only after the commit are the new jobs' messages sent
(``BatchSender.send_many``: one pipeline on Redis). If the send fails, every row the call
created is deleted and the error raised, so no job is left recorded without a message; a
crash between the commit and the send leaves pending rows that upkeep sends again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from .._validate import text
from ..errors import ConfigurationError, InvalidInputError
from .checks import check_owner
from .ledger.store import MAX_LOCKED_OWNERS, JobBatchStore
from .models import Job, NewJob

if TYPE_CHECKING:
    from .app import JobApp

__all__ = ["MAX_BATCH", "MAX_LIMITED_OWNERS", "BatchSender", "JobSpec", "delay_ms", "submit_many"]

#: The most specs one ``submit_many`` call takes (split bigger fan-outs into batches).
MAX_BATCH = 10_000
#: The most distinct owners one batch under the per-owner limit may name: the ledger holds
#: each one's lock until the commit (PostgreSQL's lock table is finite).
MAX_LIMITED_OWNERS = MAX_LOCKED_OWNERS


@dataclass(frozen=True)
class JobSpec:
    """One job of a ``submit_many`` batch: the arguments ``submit`` takes."""

    job_type: str
    owner_id: str
    params: BaseModel | dict[str, Any] | None = None
    priority: int | None = None
    idempotency_key: str | None = None
    delay: float | timedelta | None = None


_FIELDS = frozenset(f.name for f in dataclasses.fields(JobSpec))


@runtime_checkable
class BatchSender(Protocol):
    """A ``Sender`` that also hands many jobs to the broker at once."""

    def send_many(self, jobs: Sequence[tuple[Job, int | None]]) -> None:
        """Send each job's message (after its delay in milliseconds, when given)."""


def delay_ms(job: Job) -> int | None:
    """How long a new job's message waits, in milliseconds (None: not delayed)."""
    if job.scheduled_for is None:
        return None
    return int((job.scheduled_for - job.created_at).total_seconds() * 1000)


def submit_many(
    app: JobApp,
    specs: Iterable[JobSpec | Mapping[str, Any]],
    *,
    enforce_limit: bool = True,
) -> list[Job]:
    """Validate every spec, record the jobs in one transaction, then send their messages.

    Returns one job per spec, in order (the existing job for a key already used).
    """
    if not app.settings.enabled:
        raise ConfigurationError("background jobs are disabled (SYNCJOBS_ENABLED=false)")
    if isinstance(specs, str | bytes | Mapping) or not isinstance(specs, Iterable):
        raise InvalidInputError("specs must be a list of JobSpec or dicts")
    listed = list(specs)
    if len(listed) > MAX_BATCH:
        raise InvalidInputError(f"at most {MAX_BATCH} specs per call, got {len(listed)}")
    news = [_new_job(app, i, spec) for i, spec in enumerate(listed)]
    if not news:
        return []
    if app.sender is None:
        raise ConfigurationError("this app is not bound to a broker (use register_actors)")
    limit = app.settings.max_active_jobs_per_owner if enforce_limit else None
    owners = len({new.owner_id for new in news})
    if limit is not None and owners > MAX_LIMITED_OWNERS:
        raise InvalidInputError(
            f"a batch under the per-owner job limit may name at most {MAX_LIMITED_OWNERS} "
            f"owners, this one names {owners}: split it; nothing was submitted"
        )
    rows = _create(app, news, limit)
    created = [job for job, new in rows if new]
    if created:
        try:
            _send(app, created)
        except Exception:
            for job in created:
                app.repository.delete_job(job.id)
            raise
    return [job for job, _ in rows]


def _new_job(app: JobApp, index: int, spec: object) -> NewJob:
    """The ledger row of one spec; any problem is an InvalidInputError naming ``index``."""
    try:
        one = _spec(spec)
        jt = app.registry.get(text(one.job_type, "job_type", max_len=100))
        return app.new_job(
            jt,
            check_owner(one.owner_id),
            one.params,
            one.priority,
            one.idempotency_key,
            one.delay,
            None,
        )
    except InvalidInputError as exc:
        raise InvalidInputError(f"spec {index}: {exc}; nothing was submitted") from exc


def _spec(spec: object) -> JobSpec:
    if isinstance(spec, JobSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidInputError(f"expected a JobSpec or a dict, got {type(spec).__name__}")
    unknown = sorted(str(k) for k in spec if k not in _FIELDS)
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}")
    missing = [k for k in ("job_type", "owner_id") if k not in spec]
    if missing:
        raise InvalidInputError(f"missing {' and '.join(missing)}")
    return JobSpec(**spec)


def _create(app: JobApp, news: Sequence[NewJob], limit: int | None) -> list[tuple[Job, bool]]:
    """Insert the batch: in one transaction, or one by one undone on the first refusal."""
    repo = app.repository
    if isinstance(repo, JobBatchStore):
        return repo.create_jobs(news, active_limit=limit)
    rows: list[tuple[Job, bool]] = []
    try:
        for new in news:
            rows.append(repo.create_job(new, active_limit=limit))
    except Exception:
        for job, created in rows:
            if created:
                repo.delete_job(job.id)
        raise
    return rows


def _send(app: JobApp, jobs: Sequence[Job]) -> None:
    """Hand the new jobs to the broker: in one batch when the sender can, else one by one."""
    for job_type in sorted({job.job_type for job in jobs}):
        app.registry.require(job_type, named_by="a job submit_many just recorded")
    sender = app.sender
    if isinstance(sender, BatchSender):
        sender.send_many([(job, delay_ms(job)) for job in jobs])
    else:
        for job in jobs:
            app.send(job, delay_ms=delay_ms(job))
