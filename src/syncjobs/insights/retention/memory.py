"""Batched retention deletes in process memory (a mixin of InMemoryRepository)."""

from __future__ import annotations

from datetime import datetime

from ..analysis_queue.store import DONE, SKIPPED
from ..memory_state import MemoryInsightsState
from ..models import Decision

__all__ = ["MemoryRetention"]


class MemoryRetention(MemoryInsightsState):
    """RetentionStore on the shared in-memory state."""

    def delete_allowed_items(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of old allowed (or allow-listed) items with their analyses."""
        with self._lock:
            doomed = []
            for item_id in self._item_keys:
                item = self._item(item_id)
                if item is None or item.first_seen_at >= before:
                    continue
                analysis = self._analyses.get(item_id)
                if item.analysis_state == SKIPPED or (
                    item.analysis_state == DONE
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
