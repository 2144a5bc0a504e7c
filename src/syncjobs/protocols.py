"""Storage extension points (typing.Protocol): hosts implement these, never subclass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .models import (
    Account,
    AccountState,
    DeadLetter,
    Job,
    JobStatus,
    LogLine,
    NewJob,
    PageCounts,
    StoredItem,
)
from .providers.types import Item, TokenSet

__all__ = [
    "AccountRepository",
    "CredentialStore",
    "JobRepository",
    "Subscription",
    "UpkeepRepository",
]


class Subscription(Protocol):
    """A stream of change signals for one job (NOTIFY, a condition, or a poll timer)."""

    def wait(self, timeout: float) -> bool:
        """Block until the job may have changed or ``timeout`` seconds pass; True if signalled."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


@runtime_checkable
class JobRepository(Protocol):
    """The job ledger: every state change of a job is one atomic call here."""

    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert ``new`` unless its idempotency key exists; return (job, created).

        Counting the owner's active jobs and inserting is atomic: concurrent calls never
        let an owner exceed ``active_limit``. Raises ConcurrencyLimitError past it.
        """
        ...

    def delete_job(self, job_id: str) -> None:
        """Remove a job that was never handed to a broker."""
        ...

    def get_job(self, job_id: str) -> Job | None:
        """Return the job, or None."""
        ...

    def list_jobs(
        self,
        *,
        owner_id: str | None = None,
        status: JobStatus | None = None,
        job_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Return jobs, newest first, filtered by owner, status and type."""
        ...

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark a pending job ``processing`` and count the attempt.

        A processing job is claimed again only when its worker has not heartbeaten since
        ``stale_before`` (it crashed). Returns None when the job is missing, finished, running
        on a live worker, or scheduled for later than ``now``.
        """
        ...

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
        """Record progress (and a heartbeat) of a processing job; return its cancel flag."""
        ...

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a processing job's resume point."""
        ...

    def is_cancel_requested(self, job_id: str) -> bool:
        """True when someone asked to cancel the job."""
        ...

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
        """Move a processing job to a terminal status; dead-letter it in the same transaction."""
        ...

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
        """Put a processing job back to pending until ``run_at``.

        With ``count_retry`` the retry counts; without (rate limits), the attempt is given back.
        """
        ...

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job, or flag a processing one; finished jobs are left as they are."""
        ...

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Put a failed or cancelled job back to pending with fresh attempts."""
        ...

    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line to a job."""
        ...

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return a job's log lines in order, after ``after_id``."""
        ...

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead-lettered jobs, newest first."""
        ...

    def subscribe(self, job_id: str) -> Subscription:
        """Listen for changes of one job."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AccountRepository(Protocol):
    """Connected accounts, their cursors and their synced items."""

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
        """Add an account (same owner, provider and external id: the existing one, reactivated)."""
        ...

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        ...

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        ...

    def delete_account(self, account_id: str) -> bool:
        """Remove an account, its items and credentials; True if it existed."""
        ...

    def set_account_state(
        self,
        account_id: str,
        state: AccountState,
        *,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Account | None:
        """Change an account's state (and its last error)."""
        ...

    def start_sync(self, account_id: str, *, job_id: str, now: datetime) -> Account | None:
        """Record that ``job_id`` now syncs the account."""
        ...

    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the ids already stored (not deleted); mark them seen at ``now``."""
        ...

    def save_page(
        self,
        account_id: str,
        *,
        items: Sequence[Item],
        deleted_ids: Sequence[str],
        cursor: dict[str, Any],
        now: datetime,
    ) -> PageCounts:
        """Upsert a page's items, mark its deletions and store the cursor in ONE transaction."""
        ...

    def sweep_unseen(self, account_id: str, *, since: datetime, now: datetime) -> int:
        """Mark deleted the live items not seen since ``since`` (end of a full run)."""
        ...

    def finish_sync(self, account_id: str, *, now: datetime, next_sync_at: datetime) -> None:
        """Record a successful sync and when the next one is due."""
        ...

    def due_accounts(self, *, now: datetime, limit: int) -> list[Account]:
        """Active accounts whose next sync is due, most overdue first."""
        ...

    def list_items(
        self, account_id: str, *, include_deleted: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[StoredItem]:
        """Return an account's items by external id."""
        ...


@runtime_checkable
class CredentialStore(Protocol):
    """Loads and saves accounts' token sets (the SQL store encrypts them at rest)."""

    def save_tokens(self, account_id: str, tokens: TokenSet) -> None:
        """Store (replace) the account's tokens."""
        ...

    def load_tokens(self, account_id: str) -> TokenSet | None:
        """Return the account's tokens, or None."""
        ...

    def delete_tokens(self, account_id: str) -> None:
        """Forget the account's tokens."""
        ...


@runtime_checkable
class UpkeepRepository(Protocol):
    """What keeps the ledger healthy: heartbeats, the schedule ledger, and job upkeep."""

    def heartbeat(
        self, worker_id: str, kind: str, *, job_ids: Sequence[str], now: datetime
    ) -> None:
        """Record that a worker (or the scheduler) is alive, and so are its running jobs."""
        ...

    def last_heartbeats(self) -> dict[str, datetime]:
        """The latest heartbeat of each kind ("worker", "scheduler")."""
        ...

    def schedule_slot(self, name: str) -> datetime | None:
        """The last slot fired of a schedule, or None if it never ran."""
        ...

    def claim_schedule_slot(
        self, name: str, *, previous: datetime | None, slot: datetime, now: datetime
    ) -> bool:
        """Move a schedule's last slot from ``previous`` to ``slot``; False if another won."""
        ...

    def stale_jobs(self, *, stale_before: datetime, limit: int) -> list[Job]:
        """Processing jobs whose worker has not heartbeaten since ``stale_before``."""
        ...

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
        """Put a stale processing job back to pending (its crashed attempt stays counted)."""
        ...

    def unsent_jobs(self, *, idle_before: datetime, now: datetime, limit: int) -> list[Job]:
        """Pending jobs due but untouched since ``idle_before``: their message may be lost."""
        ...

    def touch_job(self, job_id: str, *, now: datetime) -> None:
        """Note that a pending job's message was (re)sent."""
        ...

    def expire_jobs(self, *, now: datetime, limit: int) -> int:
        """Fail pending jobs past ``expires_at``; return how many."""
        ...

    def purge_jobs(self, *, finished_before: datetime, failed_before: datetime, limit: int) -> int:
        """Delete finished jobs (and their log lines and dead letters) past retention."""
        ...

    def job_counts(self) -> dict[str, dict[str, Any]]:
        """Per job type: counts by status, dead letters, oldest pending creation time."""
        ...
