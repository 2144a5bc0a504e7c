"""InMemoryRepository: every store in process memory, for unit tests and embedding.

It composes the stores' memory mixins; the built-in jobs' records (``_MemoryInsights``) are
still kept here.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..accounts.memory import MemoryAccountsMixin
from ..core.ledger.memory import MemoryLedgerMixin
from ..core.upkeep.memory import MemoryUpkeepMixin
from ..models import (
    Account,
    Analysis,
    BreakerState,
    ChannelStats,
    Decision,
    Delivery,
    Notification,
    OwnerActivity,
    Preferences,
    QueuedItem,
    RollupRun,
    StoredItem,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
)

__all__ = ["InMemoryRepository"]


@dataclasses.dataclass
class _Queue:
    """An item's place in the analysis queue (the SQL ``items.analysis_*`` columns)."""

    priority: int = 0
    review_flag: bool = False
    attempts: int = 0
    claimed_at: datetime | None = None
    error: str | None = None


_QUEUED, _ANALYZING, _DONE, _SKIPPED, _FAILED = ("queued", "analyzing", "done", "skipped", "failed")


class _MemoryInsights:
    """InsightsRepository methods of InMemoryRepository."""

    _lock: threading.RLock
    _ids: itertools.count[int]
    _accounts: dict[str, Account]
    _items: dict[str, dict[str, StoredItem]]
    _seen: dict[tuple[str, str], datetime]
    _notes: list[Notification]
    #: item id → (account id, external id), and each item's queue fields.
    _item_keys: dict[int, tuple[str, str]]
    _queue: dict[int, _Queue]
    _analyses: dict[int, Analysis]
    _prefs: dict[str, Preferences]
    _trust: dict[tuple[str, str], TrustScore]
    _provider_usage: list[UsageEvent]
    _usage: dict[tuple[str, UsagePeriod, datetime], UsageRecord]
    _rollups: list[RollupRun]
    _deliveries: dict[tuple[int, str], Delivery]
    _breakers: dict[str, BreakerState]
    _digests: dict[tuple[str, str, str], datetime]
    _forget_items: Callable[[Sequence[int]], None]  # provided by MemoryAccountsMixin

    def _init_insights(self) -> None:
        self._notes = []
        self._queue = {}
        self._analyses = {}
        self._prefs = {}
        self._trust = {}
        self._provider_usage = []
        self._usage = {}
        self._rollups = []
        self._deliveries = {}
        self._breakers = {}
        self._digests = {}

    def _item(self, item_id: int) -> StoredItem | None:
        key = self._item_keys.get(item_id)
        return None if key is None else self._items.get(key[0], {}).get(key[1])

    def _set_state(self, item_id: int, state: str) -> None:
        account_id, external_id = self._item_keys[item_id]
        items = self._items[account_id]
        items[external_id] = dataclasses.replace(items[external_id], analysis_state=state)

    def _items_forgotten(self, item_ids: Sequence[int]) -> None:
        """Drop deleted items' queue fields and analyses."""
        for item_id in item_ids:
            self._queue.pop(item_id, None)
            self._analyses.pop(item_id, None)

    def _item_rejudged(self, item_id: int) -> None:
        """An item's words changed: its attempts and last error start again."""
        queue = self._queue.get(item_id)
        if queue is not None:
            queue.attempts, queue.error, queue.claimed_at = 0, None, None

    def _is_waiting(self, item: StoredItem, stale_before: datetime | None) -> bool:
        if item.deleted_at is not None:
            return False
        if item.analysis_state not in (_QUEUED, _ANALYZING):
            return False
        # A queued item that failed carries its failure time: it waits like a stale claim.
        claimed = self._queue.get(item.id, _Queue()).claimed_at
        return stale_before is None or claimed is None or claimed < stale_before

    # -- the analysis queue -----------------------------------------------------------
    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take the best ``limit`` waiting items and mark them analyzing."""
        with self._lock:
            waiting: list[tuple[StoredItem, Account, _Queue]] = []
            for item_id in self._item_keys:
                item, acc = self._item(item_id), None
                if item is not None:
                    acc = self._accounts.get(item.account_id)
                if item is None or acc is None or not self._is_waiting(item, stale_before):
                    continue
                waiting.append((item, acc, self._queue.setdefault(item_id, _Queue())))
            waiting.sort(
                key=lambda w: (not w[2].review_flag, -w[2].priority, w[0].first_seen_at, w[0].id)
            )
            claimed = []
            for item, acc, queue in waiting[: max(limit, 0)]:
                self._set_state(item.id, _ANALYZING)
                queue.claimed_at = now
                claimed.append(
                    QueuedItem(
                        item_id=item.id,
                        account_id=item.account_id,
                        owner_id=acc.owner_id,
                        provider=acc.provider,
                        external_id=item.external_id,
                        kind=item.kind,
                        title=item.title,
                        text=item.text,
                        author=item.author,
                        channel=item.author or acc.display_name or acc.provider,
                        published_at=item.published_at,
                        raw=copy.deepcopy(item.raw),
                        first_seen_at=item.first_seen_at,
                        priority=queue.priority,
                        review_flag=queue.review_flag,
                        attempts=queue.attempts,
                    )
                )
            return claimed

    def analysis_backlog(self) -> int:
        """Live items queued or in analysis (stale or not)."""
        with self._lock:
            return sum(
                1
                for item_id in self._item_keys
                if (item := self._item(item_id)) is not None and self._is_waiting(item, None)
            )

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
        """Record a batch's results, skips, failures and releases at once."""
        with self._lock:
            for result in results:
                if result.item_id not in self._item_keys:
                    continue  # deleted (with its account) while it was analysed
                self._analyses[result.item_id] = dataclasses.replace(
                    result, decision=Decision(result.decision), tags=tuple(result.tags)
                )
                self._finish(result.item_id, _DONE)
            for item_id in skipped:
                if item_id in self._item_keys:
                    self._finish(item_id, _SKIPPED)
            for item_id, error in (failed or {}).items():
                if item_id not in self._item_keys:
                    continue
                queue = self._queue.setdefault(item_id, _Queue())
                queue.attempts += 1
                queue.error, queue.claimed_at = (error or "")[:1000], now  # back off
                self._set_state(item_id, _QUEUED if queue.attempts < max_attempts else _FAILED)
            for item_id in released:
                if item_id in self._item_keys:
                    self._queue.setdefault(item_id, _Queue()).claimed_at = None
                    self._set_state(item_id, _QUEUED)

    def _finish(self, item_id: int, state: str) -> None:
        queue = self._queue.setdefault(item_id, _Queue())
        queue.review_flag, queue.error, queue.claimed_at = False, None, None
        self._set_state(item_id, state)

    def queue_for_analysis(
        self, item_ids: Sequence[int], *, priority: int, review_flag: bool, now: datetime
    ) -> int:
        """(Re)queue live items with a priority and review flag."""
        with self._lock:
            queued = 0
            for item_id in set(item_ids):
                item = self._item(item_id)
                if item is None or item.deleted_at is not None:
                    continue
                self._queue[item_id] = _Queue(priority=priority, review_flag=review_flag)
                self._set_state(item_id, _QUEUED)
                queued += 1
            return queued

    def get_analysis(self, item_id: int) -> Analysis | None:
        """The latest analysis of an item."""
        with self._lock:
            return self._analyses.get(item_id)

    def list_analyses(
        self, *, owner_id: str, decision: str | None = None, limit: int = 100
    ) -> list[Analysis]:
        """An owner's analyses, newest first."""
        with self._lock:
            found = [
                a
                for a in self._analyses.values()
                if a.owner_id == owner_id
                and (decision is None or a.decision.value == str(decision))
            ]
        found.sort(key=lambda a: (a.analyzed_at, a.item_id), reverse=True)
        return found[:limit]

    def item_analysis_state(self, item_id: int) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of an item."""
        with self._lock:
            item = self._item(item_id)
            if item is None:
                return None
            queue = self._queue.get(item_id, _Queue())
            return item.analysis_state, queue.attempts, queue.error

    # -- preferences ------------------------------------------------------------------
    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's preferences."""
        with self._lock:
            return self._prefs.get(owner_id)

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        saved = preferences.normalised()
        with self._lock:
            self._prefs[saved.owner_id] = saved
        return saved

    # -- trust scores -----------------------------------------------------------------
    def channel_stats(self, *, owner_id: str | None = None) -> list[ChannelStats]:
        """Decision counts and confidence sums per (owner, channel)."""
        sums: dict[tuple[str, str], dict[str, int]] = {}
        with self._lock:
            for a in self._analyses.values():
                if owner_id is not None and a.owner_id != owner_id:
                    continue
                entry = sums.setdefault(
                    (a.owner_id, a.channel), {"allow": 0, "block": 0, "review": 0, "conf": 0}
                )
                entry[a.decision.value] += 1
                entry["conf"] += a.confidence
        return [
            ChannelStats(
                owner_id=owner,
                channel=channel,
                allow=e["allow"],
                block=e["block"],
                review=e["review"],
                confidence_sum=e["conf"],
            )
            for (owner, channel), e in sorted(sums.items())
        ]

    def save_trust_scores(self, scores: Sequence[TrustScore]) -> int:
        """Upsert scores on (owner, channel)."""
        with self._lock:
            keys = set()
            for score in scores:
                self._trust[(score.owner_id, score.channel)] = score
                keys.add((score.owner_id, score.channel))
            return len(keys)

    def list_trust_scores(self, *, owner_id: str) -> list[TrustScore]:
        """An owner's scores, lowest first."""
        with self._lock:
            found = [s for s in self._trust.values() if s.owner_id == owner_id]
        return sorted(found, key=lambda s: (s.score, s.channel))

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
        """Record what one sync cost at the provider."""
        with self._lock:
            self._provider_usage.append(
                UsageEvent(
                    owner_id=owner_id,
                    at=at,
                    tokens=0,
                    api_calls=api_calls,
                    quota_units=quota_units,
                )
            )

    def usage_events(self, *, start: datetime, end: datetime) -> list[UsageEvent]:
        """Analyses and provider usage in [start, end)."""
        with self._lock:
            analysed = sorted(
                (a for a in self._analyses.values() if start <= a.analyzed_at < end),
                key=lambda a: (a.analyzed_at, a.item_id),
            )
            synced = sorted(
                (e for e in self._provider_usage if start <= e.at < end), key=lambda e: e.at
            )
        return [
            UsageEvent(
                owner_id=a.owner_id,
                at=a.analyzed_at,
                items_analysed=1,
                ai_calls=a.ai_calls,
                tokens=a.tokens,
            )
            for a in analysed
        ] + synced

    def save_usage(self, records: Sequence[UsageRecord], *, now: datetime) -> int:
        """Upsert records on (owner, period, period_start), replacing their values."""
        with self._lock:
            keys = set()
            for record in records:
                key = (record.owner_id, UsagePeriod(record.period), record.period_start)
                self._usage[key] = record
                keys.add(key)
            return len(keys)

    def list_usage(
        self,
        *,
        owner_id: str | None = None,
        period: UsagePeriod,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """Records of one period kind starting in [start, end), oldest first."""
        with self._lock:
            found = [
                r
                for r in self._usage.values()
                if r.period == period
                and owner_id in (None, r.owner_id)
                and (start is None or r.period_start >= start)
                and (end is None or r.period_start < end)
            ]
        return sorted(found, key=lambda r: (r.period_start, r.owner_id))

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
        """Record one rollup run."""
        with self._lock:
            run = RollupRun(
                id=next(self._ids),
                period=UsagePeriod(period),
                window_start=window_start,
                window_end=window_end,
                started_at=started_at,
                duration_ms=duration_ms,
                records=records,
                errors=errors,
                job_id=job_id,
            )
            self._rollups.append(run)
            return run

    def list_rollup_runs(self, *, limit: int = 50) -> list[RollupRun]:
        """Rollup runs, newest first."""
        with self._lock:
            runs = sorted(self._rollups, key=lambda r: (r.started_at, r.id), reverse=True)
        return runs[:limit]

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
        with self._lock:
            note = Notification(
                id=next(self._ids),
                owner_id=owner_id,
                kind=kind,
                title=title,
                body=body,
                created_at=now,
                data=copy.deepcopy(data),
            )
            self._notes.append(note)
            return copy.deepcopy(note)

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
        with self._lock:
            found = [
                n
                for n in self._notes
                if n.owner_id == owner_id and not (unread_only and n.read_at is not None)
            ]
            found.sort(key=lambda n: (n.created_at, n.id), reverse=True)
            return copy.deepcopy(found)

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification."""
        with self._lock:
            for note in self._notes:
                if note.id == notification_id:
                    return copy.deepcopy(note)
            return None

    def mark_notifications_read(
        self, owner_id: str, notification_ids: Sequence[int] | None, *, now: datetime
    ) -> int:
        """Mark an owner's unread notifications (those of ``notification_ids``) read."""
        wanted = None if notification_ids is None else set(notification_ids)
        with self._lock:
            marked = 0
            for i, note in enumerate(self._notes):
                if (
                    note.owner_id == owner_id
                    and note.read_at is None
                    and (wanted is None or note.id in wanted)
                ):
                    self._notes[i] = dataclasses.replace(note, read_at=now)
                    marked += 1
            return marked

    def get_delivery(self, notification_id: int, notifier: str) -> Delivery | None:
        """One notifier's delivery of one notification."""
        with self._lock:
            return self._deliveries.get((notification_id, notifier))

    def record_delivery(
        self,
        notification_id: int,
        notifier: str,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
    ) -> Delivery:
        """Count an attempt; a delivered delivery stays delivered."""
        with self._lock:
            old = self._deliveries.get((notification_id, notifier))
            failure = None if ok else error
            if old is None:
                new = Delivery(
                    notification_id=notification_id,
                    notifier=notifier,
                    delivered=ok,
                    attempts=1,
                    updated_at=now,
                    delivered_at=now if ok else None,
                    last_error=failure,
                )
            else:
                new = dataclasses.replace(
                    old,
                    delivered=old.delivered or ok,
                    attempts=old.attempts + 1,
                    updated_at=now,
                    delivered_at=old.delivered_at or (now if ok else None),
                    last_error=failure if failure is not None else old.last_error,
                )
            self._deliveries[(notification_id, notifier)] = new
            return new

    def get_breaker(self, name: str) -> BreakerState:
        """A breaker's state (closed and clean when unknown)."""
        with self._lock:
            return self._breakers.get(name, BreakerState(name))

    def record_breaker(
        self, name: str, *, ok: bool, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Record one call's outcome."""
        with self._lock:
            state = self._breakers.get(name, BreakerState(name)).after(
                ok=ok, threshold=threshold, cooldown=cooldown, now=now
            )
            self._breakers[name] = state
            return state

    # -- digests ----------------------------------------------------------------------
    def digest_owners(
        self, *, after: str | None, limit: int
    ) -> list[tuple[str, Preferences | None]]:
        """Owners with accounts or preferences after ``after``, ascending, with preferences."""
        with self._lock:
            owners = {a.owner_id for a in self._accounts.values()} | set(self._prefs)
            chosen = sorted(o for o in owners if after is None or o > after)[: max(limit, 0)]
            return [(owner, self._prefs.get(owner)) for owner in chosen]

    def claim_digest(self, owner_id: str, kind: str, period_key: str, *, now: datetime) -> bool:
        """Note the digest; False when it was noted already."""
        with self._lock:
            if (owner_id, kind, period_key) in self._digests:
                return False
            self._digests[(owner_id, kind, period_key)] = now
            return True

    def release_digest(self, owner_id: str, kind: str, period_key: str) -> None:
        """Forget a digest claim."""
        with self._lock:
            self._digests.pop((owner_id, kind, period_key), None)

    def owner_activity(self, owner_id: str, *, since: datetime, until: datetime) -> OwnerActivity:
        """What happened for an owner in [since, until)."""
        with self._lock:
            accounts = {a.id for a in self._accounts.values() if a.owner_id == owner_id}
            synced = sum(
                1
                for acc_id in accounts
                for item in self._items.get(acc_id, {}).values()
                if since <= item.first_seen_at < until
            )
            decided = {d: 0 for d in Decision}
            awaiting = 0
            for a in self._analyses.values():
                if a.owner_id != owner_id:
                    continue
                if since <= a.analyzed_at < until:
                    decided[a.decision] += 1
                item = self._item(a.item_id)
                if a.decision is Decision.REVIEW and item is not None and item.deleted_at is None:
                    awaiting += 1
            unread = sum(1 for n in self._notes if n.owner_id == owner_id and n.read_at is None)
        return OwnerActivity(
            items_synced=synced,
            items_analysed=sum(decided.values()),
            allowed=decided[Decision.ALLOW],
            blocked=decided[Decision.BLOCK],
            review=decided[Decision.REVIEW],
            awaiting_review=awaiting,
            unread_notifications=unread,
        )

    # -- retention --------------------------------------------------------------------
    def delete_allowed_items(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of old allowed (or allow-listed) items with their analyses."""
        with self._lock:
            doomed = []
            for item_id in self._item_keys:
                item = self._item(item_id)
                if item is None or item.first_seen_at >= before:
                    continue
                analysis = self._analyses.get(item_id)
                if item.analysis_state == _SKIPPED or (
                    item.analysis_state == _DONE
                    and analysis is not None
                    and analysis.decision is Decision.ALLOW
                ):
                    doomed.append(item)
            doomed.sort(key=lambda it: (it.first_seen_at, it.id))
            ids = [it.id for it in doomed[: max(limit, 0)]]
            self._forget_items(ids)
            return len(ids)

    def delete_read_notifications(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of notifications read before ``before``, with their deliveries."""
        with self._lock:
            read = sorted(
                (n for n in self._notes if n.read_at is not None and n.read_at < before),
                key=lambda n: (n.read_at or before, n.id),
            )
            ids = {n.id for n in read[: max(limit, 0)]}
            self._notes[:] = [n for n in self._notes if n.id not in ids]
            for key in [k for k in self._deliveries if k[0] in ids]:
                del self._deliveries[key]
            return len(ids)


class InMemoryRepository(
    MemoryLedgerMixin, MemoryUpkeepMixin, _MemoryInsights, MemoryAccountsMixin
):
    """The job ledger, upkeep, accounts, items and the built-in jobs' records in process
    memory; thread-safe.

    ``subscribe`` wakes on every change of a job.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        #: The ids of log lines, dead letters, items, notifications and rollup runs.
        self._ids = itertools.count(1)
        self._init_ledger()
        self._init_upkeep()
        self._init_accounts()
        self._init_insights()
