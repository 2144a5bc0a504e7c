"""Channel statistics and trust scores in process memory (a mixin of InMemoryRepository)."""

from __future__ import annotations

from collections.abc import Sequence

from ..memory_state import MemoryInsightsState
from ..models import ChannelStats, TrustScore

__all__ = ["MemoryTrust"]


class MemoryTrust(MemoryInsightsState):
    """TrustStore on the shared in-memory state (statistics come from the analyses)."""

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
