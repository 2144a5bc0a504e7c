"""Digest owners, digest claims and owners' activity in process memory (a mixin of
InMemoryRepository)."""

from __future__ import annotations

from datetime import datetime

from ..memory_state import MemoryInsightsState
from ..models import Decision, OwnerActivity, Preferences

__all__ = ["MemoryDigests"]


class MemoryDigests(MemoryInsightsState):
    """DigestStore on the shared in-memory state (reads accounts, items, analyses, notes)."""

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
            awaiting = ai_calls = tokens = 0
            for a in self._analyses.values():
                if a.owner_id != owner_id:
                    continue
                if since <= a.analyzed_at < until:
                    decided[a.decision] += 1
                    ai_calls, tokens = ai_calls + a.ai_calls, tokens + (a.tokens or 0)
                item = self._item(a.item_id)
                if a.decision is Decision.REVIEW and item is not None and item.deleted_at is None:
                    awaiting += 1
            unread = sum(1 for n in self._notes if n.owner_id == owner_id and n.read_at is None)
            spent = [
                e
                for _, e in self._provider_usage
                if e.owner_id == owner_id and since <= e.at < until
            ]
        return OwnerActivity(
            items_synced=synced,
            items_analysed=sum(decided.values()),
            allowed=decided[Decision.ALLOW],
            blocked=decided[Decision.BLOCK],
            review=decided[Decision.REVIEW],
            awaiting_review=awaiting,
            unread_notifications=unread,
            api_calls=sum(e.api_calls for e in spent),
            quota_units=sum(e.quota_units for e in spent),
            ai_calls=ai_calls,
            tokens=tokens,
        )
