"""InMemoryRepository: the ledger in a dict, for unit tests and embedding."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..errors import ConcurrencyLimitError
from ..models import (
    ACTIVE_STATUSES,
    Account,
    AccountState,
    Analysis,
    BreakerState,
    ChannelStats,
    DeadLetter,
    Decision,
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
    _log: list[LogLine]
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

    def _init_insights(self) -> None:
        self._item_keys = {}
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

    def _forget_items(self, item_ids: Sequence[int]) -> None:
        """Drop items with their queue fields and analyses."""
        for item_id in item_ids:
            key = self._item_keys.pop(item_id, None)
            if key is not None:
                self._items.get(key[0], {}).pop(key[1], None)
                self._seen.pop(key, None)
            self._queue.pop(item_id, None)
            self._analyses.pop(item_id, None)

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

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of log lines written before ``before``."""
        with self._lock:
            old = sorted(ln.id for ln in self._log if ln.at < before)[: max(limit, 0)]
            ids = set(old)
            self._log[:] = [ln for ln in self._log if ln.id not in ids]
            return len(ids)


class InMemoryRepository(_MemoryUpkeep, _MemoryInsights):
    """The job ledger, accounts, items and the seed jobs' records in process memory;
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
