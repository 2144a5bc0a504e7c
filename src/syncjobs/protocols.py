"""Storage extension points (typing.Protocol): hosts implement these, never subclass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .models import (
    Analysis,
    BreakerState,
    ChannelStats,
    Delivery,
    Notification,
    OwnerActivity,
    Preferences,
    QueuedItem,
    RollupRun,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
    Verdict,
)

__all__ = ["Analyzer", "InsightsRepository", "Notifier"]


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


@runtime_checkable
class Analyzer(Protocol):
    """Judges one item for its owner: ALLOW, BLOCK or REVIEW, with a confidence.

    Raise ``RateLimitedError`` (the whole batch waits), ``RetriableError`` or
    ``UnexpectedResponseError`` (this item fails, the batch goes on), or ``FatalError`` /
    ``ConfigurationError`` (the run stops: nothing would succeed). ``analyze`` is called
    from several threads at once.
    """

    name: str

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        """Judge ``item`` under its owner's ``preferences``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Delivers a notification somewhere (in-app rows, a webhook, e-mail…).

    Raise ``RetriableError`` (or ``RateLimitedError``) when delivery may work later and
    ``FatalError`` when it never will. Delivery must be safe to repeat: the notification
    id is the idempotency key a receiver dedupes on.
    """

    name: str

    def deliver(self, notification: Notification, preferences: Preferences | None) -> bool:
        """Deliver; return False when this notifier does not apply to the owner."""
        ...
