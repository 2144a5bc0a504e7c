"""The analysis queue in process memory (a mixin of InMemoryRepository)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from ...connections.models import Account, StoredItem
from ..memory_state import MemoryInsightsState, QueueEntry
from ..models import Analysis, Decision, QueuedItem
from .store import ANALYZING, DONE, FAILED, QUEUED, SKIPPED

__all__ = ["MemoryAnalysisQueue"]


class MemoryAnalysisQueue(MemoryInsightsState):
    """AnalysisQueueStore on the shared in-memory state; thread-safe under its lock."""

    def _set_state(self, item_id: int, state: str) -> None:
        account_id, external_id = self._item_keys[item_id]
        items = self._items[account_id]
        items[external_id] = dataclasses.replace(items[external_id], analysis_state=state)

    def _is_waiting(self, item: StoredItem, stale_before: datetime | None) -> bool:
        if item.deleted_at is not None:
            return False
        if item.analysis_state not in (QUEUED, ANALYZING):
            return False
        # A queued item that failed carries its failure time: it waits like a stale claim.
        claimed = self._queue.get(item.id, QueueEntry()).claimed_at
        return stale_before is None or claimed is None or claimed < stale_before

    def _waiting(self, stale_before: datetime) -> list[tuple[StoredItem, Account, QueueEntry]]:
        """Every claimable item with its account and queue entry, best first."""
        waiting: list[tuple[StoredItem, Account, QueueEntry]] = []
        for item_id in self._item_keys:
            item, acc = self._item(item_id), None
            if item is not None:
                acc = self._accounts.get(item.account_id)
            if item is None or acc is None or not self._is_waiting(item, stale_before):
                continue
            waiting.append((item, acc, self._queue.setdefault(item_id, QueueEntry())))
        waiting.sort(
            key=lambda w: (not w[2].review_flag, -w[2].priority, w[0].first_seen_at, w[0].id)
        )
        return waiting

    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take the best ``limit`` waiting items and mark them analyzing."""
        with self._lock:
            claimed = []
            for item, acc, queue in self._waiting(stale_before)[: max(limit, 0)]:
                self._set_state(item.id, ANALYZING)
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
                self._finish(result.item_id, DONE)
            for item_id in skipped:
                if item_id in self._item_keys:
                    self._finish(item_id, SKIPPED)
            for item_id, error in (failed or {}).items():
                if item_id not in self._item_keys:
                    continue
                queue = self._queue.setdefault(item_id, QueueEntry())
                queue.attempts += 1
                queue.error, queue.claimed_at = (error or "")[:1000], now  # back off
                self._set_state(item_id, QUEUED if queue.attempts < max_attempts else FAILED)
            for item_id in released:
                if item_id in self._item_keys:
                    self._queue.setdefault(item_id, QueueEntry()).claimed_at = None
                    self._set_state(item_id, QUEUED)

    def _finish(self, item_id: int, state: str) -> None:
        queue = self._queue.setdefault(item_id, QueueEntry())
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
                self._queue[item_id] = QueueEntry(priority=priority, review_flag=review_flag)
                self._set_state(item_id, QUEUED)
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
            queue = self._queue.get(item_id, QueueEntry())
            return item.analysis_state, queue.attempts, queue.error
