"""InMemoryRepository: the ledger in a dict, for unit tests and embedding."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..errors import ConcurrencyLimitError
from ..insights.analysis_queue.memory import MemoryAnalysisQueue
from ..insights.digests.memory import MemoryDigests
from ..insights.notifications.memory import MemoryNotifications
from ..insights.preferences.memory import MemoryPreferences
from ..insights.retention.memory import MemoryRetention
from ..insights.trust.memory import MemoryTrust
from ..insights.usage.memory import MemoryUsage
from ..models import (
    ACTIVE_STATUSES,
    Account,
    AccountState,
    DeadLetter,
    Job,
    JobStatus,
    LogLine,
    NewJob,
    Notification,
    PageCounts,
    StoredItem,
)
from ..protocols import Subscription
from ..providers.types import Item
from .sql.accounts import content_hash

__all__ = ["InMemoryRepository"]


class _MemoryUpkeep:
    """UpkeepRepository methods of InMemoryRepository."""

    _lock: threading.RLock
    _jobs: dict[str, Job]
    _dead: list[DeadLetter]
    _log: list[LogLine]
    _workers: dict[str, tuple[str, datetime]]
    _slots: dict[str, datetime]

    _put: Callable[[Job], Job]  # provided by InMemoryRepository

    def heartbeat(
        self, worker_id: str, kind: str, *, job_ids: Sequence[str], now: datetime
    ) -> None:
        """Record a live worker and refresh its running jobs' heartbeats."""
        with self._lock:
            self._workers[worker_id] = (kind, now)
            for job_id in job_ids:
                job = self._jobs.get(job_id)
                if job is not None and job.status is JobStatus.PROCESSING:
                    self._jobs[job_id] = dataclasses.replace(job, heartbeat_at=now)

    def last_heartbeats(self) -> dict[str, datetime]:
        """The latest heartbeat per kind."""
        with self._lock:
            latest: dict[str, datetime] = {}
            for kind, seen in self._workers.values():
                latest[kind] = max(seen, latest.get(kind, seen))
            return latest

    def schedule_slot(self, name: str) -> datetime | None:
        """The last slot a schedule fired."""
        with self._lock:
            return self._slots.get(name)

    def claim_schedule_slot(
        self, name: str, *, previous: datetime | None, slot: datetime, now: datetime
    ) -> bool:
        """Compare-and-set a schedule's last slot."""
        with self._lock:
            if self._slots.get(name) != previous:
                return False
            self._slots[name] = slot
            return True

    def stale_jobs(self, *, stale_before: datetime, limit: int) -> list[Job]:
        """Processing jobs whose heartbeat is older than ``stale_before``."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PROCESSING
                and j.heartbeat_at is not None
                and j.heartbeat_at < stale_before
            ]
            return copy.deepcopy(
                sorted(found, key=lambda j: j.heartbeat_at or j.created_at)[:limit]
            )

    def recover_job(
        self,
        job_id: str,
        *,
        stale_before: datetime,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
    ) -> Job | None:
        """Stale processing → pending."""
        with self._lock:
            job = self._jobs.get(job_id)
            if (
                job is None
                or job.status is not JobStatus.PROCESSING
                or (job.heartbeat_at is not None and job.heartbeat_at >= stale_before)
            ):
                return None
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PENDING,
                    scheduled_for=run_at,
                    worker_id=None,
                    error_code=error_code,
                    error_message=error_message,
                    updated_at=now,
                )
            )

    def unsent_jobs(self, *, idle_before: datetime, now: datetime, limit: int) -> list[Job]:
        """Due pending jobs untouched since ``idle_before``."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PENDING
                and j.updated_at < idle_before
                and (j.scheduled_for is None or j.scheduled_for <= now)
            ]
            return copy.deepcopy(sorted(found, key=lambda j: j.created_at)[:limit])

    def touch_job(self, job_id: str, *, now: datetime) -> None:
        """Mark a pending job as just (re)sent."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.status is JobStatus.PENDING:
                self._jobs[job_id] = dataclasses.replace(job, updated_at=now)

    def expire_jobs(self, *, now: datetime, limit: int) -> int:
        """Fail pending jobs past expiry."""
        with self._lock:
            doomed = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PENDING
                and j.attempts == 0
                and j.expires_at is not None
                and j.expires_at < now
            ]
            for job in doomed[:limit]:
                self._put(
                    dataclasses.replace(
                        job,
                        status=JobStatus.FAILED,
                        error_code="expired",
                        error_message="the job expired before a worker took it",
                        completed_at=now,
                        updated_at=now,
                    )
                )
            return len(doomed[:limit])

    def purge_jobs(self, *, finished_before: datetime, failed_before: datetime, limit: int) -> int:
        """Delete one batch of jobs past retention."""

        def expired(j: Job) -> bool:
            if j.completed_at is None:
                return False
            if j.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
                return j.completed_at < finished_before
            return j.status is JobStatus.FAILED and j.completed_at < failed_before

        with self._lock:
            ids = {j.id for j in self._jobs.values() if expired(j)}
            ids = set(sorted(ids)[:limit])
            for job_id in ids:
                del self._jobs[job_id]
            self._log[:] = [ln for ln in self._log if ln.job_id not in ids]
            self._dead[:] = [d for d in self._dead if d.job_id not in ids]
            return len(ids)

    def job_counts(self) -> dict[str, dict[str, Any]]:
        """Per job type: counts by status, dead letters, oldest pending creation."""
        with self._lock:
            out: dict[str, dict[str, Any]] = {}
            for job in self._jobs.values():
                entry = out.setdefault(job.job_type, _empty_counts())
                entry[job.status.value] += 1
                oldest = entry["oldest_pending_at"]
                if job.status is JobStatus.PENDING and (oldest is None or job.created_at < oldest):
                    entry["oldest_pending_at"] = job.created_at
            for letter in self._dead:
                out.setdefault(letter.job_type, _empty_counts())["dead_lettered"] += 1
            return out


def _empty_counts() -> dict[str, Any]:
    counts: dict[str, Any] = {s.value: 0 for s in JobStatus}
    counts.update(dead_lettered=0, oldest_pending_at=None)
    return counts


class InMemoryRepository(
    _MemoryUpkeep,
    MemoryAnalysisQueue,
    MemoryPreferences,
    MemoryTrust,
    MemoryUsage,
    MemoryNotifications,
    MemoryDigests,
    MemoryRetention,
):
    """The job ledger, accounts, items and the extras' records in process memory;
    thread-safe.

    ``subscribe`` wakes on every change of a job.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._log: list[LogLine] = []
        self._dead: list[DeadLetter] = []
        self._ids = itertools.count(1)
        self._version: dict[str, int] = {}
        self._accounts: dict[str, Account] = {}
        #: account id → external id → item; ``_seen`` holds each item's last_seen_at.
        self._items: dict[str, dict[str, StoredItem]] = {}
        self._seen: dict[tuple[str, str], datetime] = {}
        self._notes: list[Notification] = []
        self._workers: dict[str, tuple[str, datetime]] = {}
        self._slots: dict[str, datetime] = {}
        self._init_insights()

    def close(self) -> None:
        """Nothing to release."""

    def _put(self, job: Job) -> Job:
        self._jobs[job.id] = job
        self._version[job.id] = self._version.get(job.id, 0) + 1
        self._changed.notify_all()
        return copy.deepcopy(job)

    def _update(self, job_id: str, allowed: set[JobStatus], **changes: Any) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status not in allowed:
            return None
        return self._put(dataclasses.replace(job, **changes))

    def _active(self, owner_id: str) -> int:
        return sum(
            1 for j in self._jobs.values() if j.owner_id == owner_id and j.status in ACTIVE_STATUSES
        )

    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert atomically under the owner's limit and idempotency key."""
        with self._lock:
            if new.idempotency_key is not None:
                for job in self._jobs.values():
                    if job.owner_id == new.owner_id and job.idempotency_key == new.idempotency_key:
                        return copy.deepcopy(job), False
            if active_limit is not None:
                active = self._active(new.owner_id)
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            job = Job(
                id=new.id,
                owner_id=new.owner_id,
                job_type=new.job_type,
                queue=new.queue,
                priority=new.priority,
                params=copy.deepcopy(new.params),
                status=JobStatus.PENDING,
                created_at=new.created_at,
                updated_at=new.created_at,
                max_retries=new.max_retries,
                scheduled_for=new.scheduled_for,
                expires_at=new.expires_at,
                idempotency_key=new.idempotency_key,
                parent_id=new.parent_id,
            )
            return self._put(job), True

    def delete_job(self, job_id: str) -> None:
        """Remove a job."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def get_job(self, job_id: str) -> Job | None:
        """Return one job."""
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job is not None else None

    def list_jobs(
        self,
        *,
        owner_id: str | None = None,
        status: JobStatus | None = None,
        job_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Return jobs newest first."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if (owner_id is None or j.owner_id == owner_id)
                and (status is None or j.status is status)
                and (job_type is None or j.job_type == job_type)
            ]
            found.sort(key=lambda j: (-j.created_at.timestamp(), j.id))
            return copy.deepcopy(found[offset : offset + limit])

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark the job processing and count the attempt (a crashed worker's job too)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return None
            if job.status is JobStatus.PROCESSING and not (
                stale_before is not None
                and job.heartbeat_at is not None
                and job.heartbeat_at < stale_before
            ):
                return None
            if job.scheduled_for is not None and job.scheduled_for > now:
                return None
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PROCESSING,
                    attempts=job.attempts + 1,
                    worker_id=worker_id,
                    started_at=now,
                    heartbeat_at=now,
                    updated_at=now,
                )
            )

    def update_progress(
        self,
        job_id: str,
        *,
        done: int,
        total: int | None,
        percent: float,
        message: str | None,
        now: datetime,
    ) -> bool:
        """Record progress; return the cancel flag."""
        with self._lock:
            job = self._update(
                job_id,
                {JobStatus.PROCESSING},
                progress_done=done,
                progress_total=total,
                progress_percent=percent,
                progress_message=message,
                heartbeat_at=now,
                updated_at=now,
            )
            return bool(job and job.cancel_requested)

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a resume point."""
        with self._lock:
            self._update(
                job_id,
                set(JobStatus),
                checkpoint=copy.deepcopy(data),
                heartbeat_at=now,
                updated_at=now,
            )

    def is_cancel_requested(self, job_id: str) -> bool:
        """Read the cancel flag."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job is None or job.cancel_requested or job.status is JobStatus.CANCELLED

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
        """Record a terminal status and, when asked, the dead letter."""
        changes: dict[str, Any] = {
            "status": status,
            "completed_at": now,
            "updated_at": now,
            "error_code": error_code,
            "error_message": error_message,
        }
        if status is JobStatus.COMPLETED:
            changes.update(result=copy.deepcopy(result), progress_percent=100.0)
        with self._lock:
            job = self._update(job_id, set(ACTIVE_STATUSES), **changes)
            if job is not None and dead_letter:
                self._dead.append(
                    DeadLetter(
                        id=next(self._ids),
                        job_id=job.id,
                        owner_id=job.owner_id,
                        job_type=job.job_type,
                        params=copy.deepcopy(job.params),
                        error_code=error_code,
                        error_message=error_message,
                        attempts=job.attempts,
                        failed_at=now,
                    )
                )
            return job

    def reschedule_job(
        self,
        job_id: str,
        *,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
        count_retry: bool,
    ) -> Job | None:
        """Back to pending until ``run_at``."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return None
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PENDING,
                    scheduled_for=run_at,
                    expires_at=None,
                    error_code=error_code,
                    error_message=error_message,
                    worker_id=None,
                    updated_at=now,
                    retry_count=job.retry_count + (1 if count_retry else 0),
                    attempts=job.attempts - (0 if count_retry else 1),
                )
            )

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job or flag a processing one."""
        with self._lock:
            job = self._update(
                job_id,
                {JobStatus.PENDING},
                status=JobStatus.CANCELLED,
                cancel_requested=True,
                completed_at=now,
                updated_at=now,
                error_code="cancelled",
                error_message="cancelled before it started",
            )
            if job is None:
                job = self._update(
                    job_id, {JobStatus.PROCESSING}, cancel_requested=True, updated_at=now
                )
            return job if job is not None else self.get_job(job_id)

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Failed or cancelled → pending with fresh attempts."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if active_limit is not None:
                active = self._active(job.owner_id)
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            return self._update(
                job_id,
                {JobStatus.FAILED, JobStatus.CANCELLED},
                status=JobStatus.PENDING,
                attempts=0,
                retry_count=0,
                cancel_requested=False,
                error_code=None,
                error_message=None,
                result=None,
                progress_percent=0.0,
                progress_done=None,
                progress_total=None,
                progress_message=None,
                scheduled_for=None,
                expires_at=None,
                started_at=None,
                completed_at=None,
                worker_id=None,
                updated_at=now,
            )

    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line."""
        with self._lock:
            self._log.append(LogLine(next(self._ids), job_id, now, level, message))

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return log lines in order."""
        with self._lock:
            lines = [ln for ln in self._log if ln.job_id == job_id and ln.id > after_id]
            return lines[:limit]

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead letters newest first."""
        with self._lock:
            found = [d for d in self._dead if owner_id is None or d.owner_id == owner_id]
            return list(reversed(found))[:limit]

    def subscribe(self, job_id: str) -> Subscription:
        """Wake on this job's changes."""
        return _MemorySubscription(self, job_id)

    # -- accounts (AccountRepository) -----------------------------------------------------
    def create_account(
        self,
        *,
        owner_id: str,
        provider: str,
        external_id: str | None,
        display_name: str | None,
        sync_interval: int,
        now: datetime,
    ) -> Account:
        """Add an account, or reactivate the owner's existing one for the same external id."""
        with self._lock:
            for acc in self._accounts.values():
                if external_id is not None and (acc.owner_id, acc.provider, acc.external_id) == (
                    owner_id,
                    provider,
                    external_id,
                ):
                    return self._put_account(
                        dataclasses.replace(
                            acc,
                            state=AccountState.ACTIVE,
                            error_code=None,
                            error_message=None,
                            display_name=display_name or acc.display_name,
                            sync_interval=sync_interval,
                            updated_at=now,
                        )
                    )
            return self._put_account(
                Account(
                    id=str(uuid.uuid4()),
                    owner_id=owner_id,
                    provider=provider,
                    state=AccountState.ACTIVE,
                    created_at=now,
                    updated_at=now,
                    external_id=external_id,
                    display_name=display_name,
                    sync_interval=sync_interval,
                    next_sync_at=now,
                )
            )

    def _put_account(self, account: Account) -> Account:
        self._accounts[account.id] = account
        return copy.deepcopy(account)

    def _update_account(self, account_id: str, **changes: Any) -> Account | None:
        with self._lock:
            acc = self._accounts.get(account_id)
            return None if acc is None else self._put_account(dataclasses.replace(acc, **changes))

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        with self._lock:
            return copy.deepcopy(self._accounts.get(account_id))

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        with self._lock:
            found = [a for a in self._accounts.values() if owner_id in (None, a.owner_id)]
            return copy.deepcopy(sorted(found, key=lambda a: (a.created_at, a.id)))

    def delete_account(self, account_id: str) -> bool:
        """Remove an account with its items and their analyses (no credentials here)."""
        with self._lock:
            self._forget_items([it.id for it in self._items.get(account_id, {}).values()])
            self._items.pop(account_id, None)
            return self._accounts.pop(account_id, None) is not None

    def set_account_state(
        self,
        account_id: str,
        state: AccountState,
        *,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Account | None:
        """Change an account's state."""
        return self._update_account(
            account_id,
            state=state,
            error_code=error_code,
            error_message=error_message,
            updated_at=now,
        )

    def start_sync(self, account_id: str, *, job_id: str, now: datetime) -> Account | None:
        """Record the job that syncs the account now."""
        return self._update_account(account_id, last_sync_job_id=job_id, updated_at=now)

    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the stored live ids among ``external_ids`` and mark them seen."""
        with self._lock:
            items = self._items.get(account_id, {})
            found = {e for e in external_ids if e in items and items[e].deleted_at is None}
            for ext_id in found:
                self._seen[(account_id, ext_id)] = now
            return found

    def save_page(
        self,
        account_id: str,
        *,
        items: Sequence[Item],
        deleted_ids: Sequence[str],
        cursor: dict[str, Any],
        now: datetime,
    ) -> PageCounts:
        """Upsert items, mark deletions and store the cursor in one step."""
        with self._lock:
            counts = {"added": 0, "updated": 0, "unchanged": 0}
            latest = {item.external_id: item for item in items}  # a page may repeat an id
            for item in latest.values():
                counts[self._upsert_item(account_id, item, now)] += 1
            deleted = self._mark_deleted(account_id, set(deleted_ids), now)
            if account_id in self._accounts:
                self._update_account(account_id, cursor=copy.deepcopy(cursor), updated_at=now)
            return PageCounts(**counts, deleted=deleted)

    def _upsert_item(self, account_id: str, item: Item, now: datetime) -> str:
        items = self._items.setdefault(account_id, {})
        old, digest = items.get(item.external_id), content_hash(item)
        self._seen[(account_id, item.external_id)] = now
        if old is not None and old.content_hash == digest and old.deleted_at is None:
            return "unchanged"
        item_id = old.id if old is not None else next(self._ids)
        self._item_keys[item_id] = (account_id, item.external_id)
        judged = old is not None and (old.title, old.text, old.author) == (
            item.title,
            item.text,
            item.author,
        )
        if old is not None and not judged:  # what an analyzer reads changed: judge it again
            queue = self._queue.get(item_id)
            if queue is not None:
                queue.attempts, queue.error, queue.claimed_at = 0, None, None
        items[item.external_id] = StoredItem(
            id=item_id,
            account_id=account_id,
            external_id=item.external_id,
            kind=item.kind,
            title=item.title,
            text=item.text,
            author=item.author,
            published_at=item.published_at,
            metrics=copy.deepcopy(dict(item.metrics)),
            raw=copy.deepcopy(dict(item.raw)),
            content_hash=digest,
            first_seen_at=old.first_seen_at if old is not None else now,
            last_modified_at=now,
            deleted_at=None,
            analysis_state=old.analysis_state if old is not None and judged else "queued",
        )
        return "added" if old is None else "updated"

    def _mark_deleted(self, account_id: str, external_ids: set[str], now: datetime) -> int:
        items = self._items.get(account_id, {})
        live = [e for e in external_ids if e in items and items[e].deleted_at is None]
        for ext_id in live:
            items[ext_id] = dataclasses.replace(items[ext_id], deleted_at=now, last_modified_at=now)
        return len(live)

    def sweep_unseen(self, account_id: str, *, since: datetime, now: datetime) -> int:
        """Mark deleted every live item not seen since ``since``."""
        with self._lock:
            stale = {
                e for e in self._items.get(account_id, {}) if self._seen[(account_id, e)] < since
            }
            return self._mark_deleted(account_id, stale, now)

    def finish_sync(self, account_id: str, *, now: datetime, next_sync_at: datetime) -> None:
        """Record a successful sync."""
        self._update_account(
            account_id,
            last_synced_at=now,
            next_sync_at=next_sync_at,
            error_code=None,
            error_message=None,
            updated_at=now,
        )

    def due_accounts(self, *, now: datetime, limit: int) -> list[Account]:
        """Active accounts due for a sync, most overdue first (never scheduled: first of all)."""
        with self._lock:
            due = [
                a
                for a in self._accounts.values()
                if a.state is AccountState.ACTIVE
                and (a.next_sync_at is None or a.next_sync_at <= now)
            ]
            due.sort(key=lambda a: (a.next_sync_at is not None, a.next_sync_at or now, a.id))
            return copy.deepcopy(due[:limit])

    def list_items(
        self, account_id: str, *, include_deleted: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[StoredItem]:
        """Return an account's items ordered by external id."""
        with self._lock:
            found = [
                it
                for _, it in sorted(self._items.get(account_id, {}).items())
                if include_deleted or it.deleted_at is None
            ]
            return copy.deepcopy(found[offset : offset + limit])


class _MemorySubscription:
    def __init__(self, repo: InMemoryRepository, job_id: str) -> None:
        self._repo, self._job_id = repo, job_id
        with repo._lock:
            self._seen = repo._version.get(job_id, 0)

    def wait(self, timeout: float) -> bool:
        repo = self._repo
        with repo._changed:
            changed = repo._changed.wait_for(
                lambda: repo._version.get(self._job_id, 0) != self._seen, timeout=max(timeout, 0)
            )
            self._seen = repo._version.get(self._job_id, 0)
        return bool(changed)

    def close(self) -> None:
        pass
