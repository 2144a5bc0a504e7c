"""Storage extension points (typing.Protocol): hosts implement these, never subclass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .models import (
    Account,
    AccountState,
    Analysis,
    BreakerState,
    ChannelStats,
    DeadLetter,
    Delivery,
    Job,
    JobStatus,
    LogLine,
    NewJob,
    Notification,
    OwnerActivity,
    PageCounts,
    Preferences,
    QueuedItem,
    RollupRun,
    StoredItem,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
)
from .providers.types import Item, TokenSet

__all__ = [
    "AccountRepository",
    "CredentialStore",
    "InsightsRepository",
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
    """Connected accounts, their cursors, their synced items, and owners' notifications."""

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

    def add_notification(
        self,
        *,
        owner_id: str,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any],
        now: datetime,
    ) -> Notification:
        """Record an in-app notification."""
        ...

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
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


@runtime_checkable
class InsightsRepository(Protocol):
    """What the seed jobs keep: the analysis queue and results, owners' preferences, trust
    scores, usage, notification deliveries, circuit breakers, digests and retention."""

    # -- the analysis queue -----------------------------------------------------------
    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take up to ``limit`` live queued items for analysis, best first.

        Order: items flagged for review, then higher ``priority``, then oldest
        ``first_seen_at``, then lowest id. Claimed items are marked ``analyzing`` at ``now``
        so concurrent callers never get the same item; an item left ``analyzing`` since
        before ``stale_before`` (its worker died) can be claimed again.
        """
        ...

    def analysis_backlog(self) -> int:
        """How many live items wait for analysis (queued, or stale in ``analyzing``)."""
        ...

    def save_analyses(
        self,
        *,
        results: Sequence[Analysis],
        skipped: Sequence[int] = (),
        failed: Mapping[int, str] | None = None,
        released: Sequence[int] = (),
        max_attempts: int,
        now: datetime,
    ) -> None:
        """Record one batch's outcome in ONE transaction.

        ``results``: upsert the item's analysis (keyed on item id) and mark it ``done``.
        ``skipped``: allow-listed items, marked ``skipped`` with no analysis.
        ``failed``: item id → error; the attempt counts and the item is queued again (not
        claimable before the next ``stale_before`` passes ``now``: a failed item backs off),
        or marked ``failed`` once it reached ``max_attempts``. ``released``: back to ``queued``
        without counting an attempt (the batch was interrupted). Each item's review flag is
        cleared once it has a result.
        """
        ...

    def queue_for_analysis(
        self, item_ids: Sequence[int], *, priority: int, review_flag: bool, now: datetime
    ) -> int:
        """Queue live items (again) with a priority and review flag; return how many."""
        ...

    def get_analysis(self, item_id: int) -> Analysis | None:
        """The latest analysis of an item, or None."""
        ...

    def list_analyses(
        self, *, owner_id: str, decision: str | None = None, limit: int = 100
    ) -> list[Analysis]:
        """An owner's analyses, newest first, optionally of one decision."""
        ...

    def item_analysis_state(self, item_id: int) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of an item, or None when it does not exist."""
        ...

    # -- preferences ------------------------------------------------------------------
    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's stored preferences, or None."""
        ...

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        ...

    # -- trust scores -----------------------------------------------------------------
    def channel_stats(self, *, owner_id: str | None = None) -> list[ChannelStats]:
        """Decision counts and confidence sums per (owner, channel) over all analyses."""
        ...

    def save_trust_scores(self, scores: Sequence[TrustScore]) -> int:
        """Upsert scores keyed on (owner, channel); return how many were written."""
        ...

    def list_trust_scores(self, *, owner_id: str) -> list[TrustScore]:
        """An owner's trust scores, lowest score first, then by channel."""
        ...

    # -- usage ------------------------------------------------------------------------
    def record_provider_usage(
        self,
        *,
        owner_id: str,
        account_id: str,
        provider: str,
        job_id: str | None,
        api_calls: int,
        quota_units: int,
        at: datetime,
    ) -> None:
        """Record what one sync cost at the provider (as the provider adapter counted it)."""
        ...

    def usage_events(self, *, start: datetime, end: datetime) -> list[UsageEvent]:
        """Every analysis (one event per item) and provider-usage record in [start, end)."""
        ...

    def save_usage(self, records: Sequence[UsageRecord], *, now: datetime) -> int:
        """Upsert records on (owner, period, period_start), replacing their values."""
        ...

    def list_usage(
        self,
        *,
        owner_id: str | None = None,
        period: UsagePeriod,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """Usage records of a period kind with start in [start, end), oldest first."""
        ...

    def record_rollup_run(
        self,
        *,
        period: UsagePeriod,
        window_start: datetime,
        window_end: datetime,
        started_at: datetime,
        duration_ms: int,
        records: int,
        errors: int,
        job_id: str | None,
    ) -> RollupRun:
        """Record one run of one rollup."""
        ...

    def list_rollup_runs(self, *, limit: int = 50) -> list[RollupRun]:
        """Rollup runs, newest first."""
        ...

    # -- notifications ----------------------------------------------------------------
    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification, or None."""
        ...

    def mark_notifications_read(
        self, owner_id: str, notification_ids: Sequence[int] | None, *, now: datetime
    ) -> int:
        """Mark an owner's notifications read (all unread ones when ids is None)."""
        ...

    def get_delivery(self, notification_id: int, notifier: str) -> Delivery | None:
        """Whether a notifier delivered a notification yet."""
        ...

    def record_delivery(
        self,
        notification_id: int,
        notifier: str,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
    ) -> Delivery:
        """Count a delivery attempt; once delivered, a delivery stays delivered."""
        ...

    def get_breaker(self, name: str) -> BreakerState:
        """A circuit breaker's state (closed with no failures when never used)."""
        ...

    def record_breaker(
        self, name: str, *, ok: bool, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Record a call's outcome, atomically.

        Success closes the breaker and resets its failures. A failure counts; at
        ``threshold`` consecutive failures (or any failure while half-open, after a
        cooldown) the breaker opens for ``cooldown`` seconds.
        """
        ...

    # -- digests ----------------------------------------------------------------------
    def digest_owners(
        self, *, after: str | None, limit: int
    ) -> list[tuple[str, Preferences | None]]:
        """Owners with accounts or preferences, by owner id after ``after``, with prefs."""
        ...

    def claim_digest(self, owner_id: str, kind: str, period_key: str, *, now: datetime) -> bool:
        """Note that a digest is being sent for this period; False if one was already."""
        ...

    def release_digest(self, owner_id: str, kind: str, period_key: str) -> None:
        """Forget a claim whose digest could not be recorded (so a later run may retry)."""
        ...

    def owner_activity(self, owner_id: str, *, since: datetime, until: datetime) -> OwnerActivity:
        """What happened for an owner in [since, until)."""
        ...

    # -- retention --------------------------------------------------------------------
    def delete_allowed_items(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` items first seen before ``before`` whose latest analysis is
        ALLOW, or that were skipped as allow-listed (with their analyses). BLOCK and REVIEW
        items, and items never analysed, are never deleted. Returns how many went."""
        ...

    def delete_read_notifications(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` notifications read before ``before`` (never unread ones),
        with their delivery records."""
        ...

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` job log lines written before ``before``."""
        ...
