"""``update_trust_scores``: each owner's trust in each channel, from its analysis history."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ...clock import utcnow
from ...core.context import JobContext
from ...core.registry import job_type
from ..models import ChannelStats, TrustScore
from ..service import Insights

__all__ = ["DAMPING_BELOW", "TrustParams", "trust_score", "update_trust_scores"]

#: Channels with fewer analysed videos than this get a proportionally damped score.
DAMPING_BELOW = 5
_WRITE_BATCH = 500


class TrustParams(BaseModel):
    """Whose scores to recompute (default: every owner's)."""

    owner_id: str | None = Field(default=None, min_length=1, max_length=255)


def trust_score(allow: int, block: int, review: int, confidence_sum: float) -> float:
    """A channel's trust, 0..1, from its analyses' verdicts and confidence.

    ``(allow ratio - block ratio - review ratio / 2) * mean confidence / 100``, multiplied by
    ``n / 5`` when fewer than 5 videos were analysed, clamped to 0..1. No analyses: 0.
    """
    n = allow + block + review
    if n <= 0:
        return 0.0
    raw = (allow - block - 0.5 * review) / n * (confidence_sum / n) / 100.0
    if n < DAMPING_BELOW:
        raw *= n / DAMPING_BELOW
    return round(min(1.0, max(0.0, raw)), 6)


def score_of(stats: ChannelStats) -> TrustScore:
    """The trust score a channel's stats give, stamped now."""
    n = stats.analysed
    return TrustScore(
        owner_id=stats.owner_id,
        channel=stats.channel,
        score=trust_score(stats.allow, stats.block, stats.review, stats.confidence_sum),
        videos_analysed=n,
        allow=stats.allow,
        block=stats.block,
        review=stats.review,
        mean_confidence=round(stats.confidence_sum / n, 2) if n else 0.0,
        updated_at=utcnow(),
    )


@job_type(
    "update_trust_scores",
    params=TrustParams,
    queue="analysis",
    schedule="0 */6 * * *",
    time_limit=3600,
)
def update_trust_scores(ctx: JobContext, params: TrustParams) -> dict[str, int]:
    """Recompute every channel's trust score from all of its analyses."""
    insights = Insights.of(ctx.app).repository
    stats = insights.channel_stats(owner_id=params.owner_id)
    ctx.progress(0, len(stats), f"{len(stats)} channels to score")
    written = 0
    for start in range(0, len(stats), _WRITE_BATCH):
        ctx.check_cancelled()
        chunk = [score_of(s) for s in stats[start : start + _WRITE_BATCH]]
        written += insights.save_trust_scores(chunk)
        ctx.progress(start + len(chunk), len(stats), f"{start + len(chunk)} channels scored")
    ctx.progress(len(stats), len(stats), f"{len(stats)} channels scored")
    return {"channels": len(stats), "owners": len({s.owner_id for s in stats}), "written": written}
