"""What the trust store keeps: per-channel decision counts (read) and trust scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..models import ChannelStats, TrustScore

__all__ = ["TrustStore"]


@runtime_checkable
class TrustStore(Protocol):
    """Channel statistics over the analyses, and the trust scores computed from them."""

    def channel_stats(self, *, owner_id: str | None = None) -> list[ChannelStats]:
        """Decision counts and confidence sums per (owner, channel) over all analyses."""
        ...

    def save_trust_scores(self, scores: Sequence[TrustScore]) -> int:
        """Upsert scores keyed on (owner, channel); return how many were written."""
        ...

    def list_trust_scores(self, *, owner_id: str) -> list[TrustScore]:
        """An owner's trust scores, lowest score first, then by channel."""
        ...
