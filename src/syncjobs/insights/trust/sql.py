"""Channel statistics (over the analyses table) and trust scores in SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select

from ...schema.base import SQLMixin
from ..models import ChannelStats, Decision, TrustScore

__all__ = ["SQLTrustMixin"]

_TRUST_VALUES = (
    "score",
    "videos_analysed",
    "allow",
    "block",
    "review",
    "mean_confidence",
    "updated_at",
)


class SQLTrustMixin(SQLMixin):
    """TrustStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

    def channel_stats(self, *, owner_id: str | None = None) -> list[ChannelStats]:
        """Decision counts and confidence sums per (owner, channel)."""
        an = self.tables.analyses

        def count(decision: Decision) -> Any:
            return func.sum(case((an.c.decision == decision.value, 1), else_=0))

        stmt = (
            select(
                an.c.owner_id,
                an.c.channel,
                count(Decision.ALLOW),
                count(Decision.BLOCK),
                count(Decision.REVIEW),
                func.sum(an.c.confidence),
            )
            .group_by(an.c.owner_id, an.c.channel)
            .order_by(an.c.owner_id, an.c.channel)
        )
        if owner_id is not None:
            stmt = stmt.where(an.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [
                ChannelStats(
                    owner_id=owner,
                    channel=channel,
                    allow=int(allow or 0),
                    block=int(block or 0),
                    review=int(review or 0),
                    confidence_sum=int(conf or 0),
                )
                for owner, channel, allow, block, review, conf in conn.execute(stmt)
            ]

    def save_trust_scores(self, scores: Sequence[TrustScore]) -> int:
        """Upsert scores on (owner, channel)."""
        rows = {(s.owner_id, s.channel): dataclasses.asdict(s) for s in scores}
        if rows:
            upsert = self._upsert(self.tables.trust_scores, ["owner_id", "channel"], _TRUST_VALUES)
            with self.engine.begin() as conn:
                conn.execute(upsert, list(rows.values()))
        return len(rows)

    def list_trust_scores(self, *, owner_id: str) -> list[TrustScore]:
        """An owner's scores, lowest first."""
        ts = self.tables.trust_scores
        stmt = select(ts).where(ts.c.owner_id == owner_id).order_by(ts.c.score, ts.c.channel)
        with self.engine.connect() as conn:
            return [
                TrustScore(
                    owner_id=r["owner_id"],
                    channel=r["channel"],
                    score=float(r["score"]),
                    videos_analysed=r["videos_analysed"],
                    allow=r["allow"],
                    block=r["block"],
                    review=r["review"],
                    mean_confidence=float(r["mean_confidence"]),
                    updated_at=r["updated_at"],
                )
                for r in conn.execute(stmt).mappings()
            ]
