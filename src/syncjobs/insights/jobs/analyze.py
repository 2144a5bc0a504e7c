"""``analyze_items``: judge queued items by priority, in batches, through the Analyzer."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from ...clock import utcnow
from ...core.context import JobContext
from ...core.middleware import describe
from ...core.registry import job_type
from ...errors import ConfigurationError, FatalError, RateLimitedError, UnexpectedResponseError
from ..analyzers import Analyzer, item_channels
from ..models import Analysis, Decision, Preferences, QueuedItem, Verdict
from ..service import Insights

__all__ = ["AnalysisRun", "AnalyzeParams", "analyze_items", "is_allow_listed"]


def _stops_run(exc: BaseException) -> bool:
    """True for errors after which no other item would fare better (a rate limit, a bad key).

    A reply the analyzer could not make sense of (UnexpectedResponseError) fails its item only.
    """
    if isinstance(exc, UnexpectedResponseError):
        return False
    return isinstance(exc, (RateLimitedError, FatalError, ConfigurationError))


class AnalyzeParams(BaseModel):
    """How much one run analyses at most (default: the ``analysis_max_items`` setting)."""

    max_items: int | None = Field(default=None, ge=1, le=1_000_000)


@job_type(
    "analyze_items",
    params=AnalyzeParams,
    queue="analysis",
    schedule="*/5 * * * *",
    time_limit=1800,
    max_retries=3,
)
def analyze_items(ctx: JobContext, params: AnalyzeParams) -> dict[str, Any]:
    """Analyse queued items, flagged and high-priority first, in bounded-concurrency batches."""
    return AnalysisRun(ctx, params.max_items or ctx.app.settings.analysis_max_items).run()


def is_allow_listed(item: QueuedItem, preferences: Preferences) -> bool:
    """True when the item's channel is on its owner's allow list (it skips analysis)."""
    allowed = {c.strip().lower() for c in preferences.allowed_channels}
    return bool(allowed) and not allowed.isdisjoint(item_channels(item))


class AnalysisRun:
    """One run of ``analyze_items``."""

    def __init__(self, ctx: JobContext, max_items: int) -> None:
        self.ctx, self.app = ctx, ctx.app
        self.insights = Insights.of(ctx.app)
        self.settings = ctx.app.settings
        self.max_items = max_items
        self.counts: Counter[str] = Counter()
        self._prefs: dict[str, Preferences] = {}

    def run(self) -> dict[str, Any]:
        """Claim and analyse batches until the queue is empty or the run's budget is spent."""
        s = self.settings
        insights, analyzer = self.insights.repository, self.insights.analyzer
        saved = self.ctx.saved_checkpoint  # totals of earlier attempts (rate limits)
        if isinstance(saved, dict) and isinstance(saved.get("counts"), dict):
            self.counts.update({k: int(v) for k, v in saved["counts"].items()})
        handled = self.counts["analysed"] + self.counts["skipped"] + self.counts["failed"]
        total = handled + min(insights.analysis_backlog(), self.max_items - handled)
        self.ctx.progress(handled, total, f"{total - handled} items to analyse")
        with ThreadPoolExecutor(s.analysis_concurrency, thread_name_prefix="analyze") as pool:
            while handled < self.max_items:
                self.ctx.check_cancelled()
                now = utcnow()
                batch = insights.claim_analysis_batch(
                    limit=min(s.analysis_batch_size, self.max_items - handled),
                    now=now,
                    stale_before=now - timedelta(seconds=s.analysis_stale_after),
                )
                if not batch:
                    break
                stopped = self._batch(batch, analyzer, pool)
                handled += len(batch) - stopped
                self.counts["batches"] += 1
                self.ctx.checkpoint({"counts": dict(self.counts)})
                total = max(total, handled)
                self.ctx.progress(handled, total, self._summary())
        self.ctx.progress(handled, handled, self._summary())
        return {
            **{
                k: self.counts[k]
                for k in (
                    "analysed",
                    "skipped",
                    "failed",
                    "allow",
                    "block",
                    "review",
                    "ai_calls",
                    "tokens",
                    "batches",
                )
            },
            "remaining": insights.analysis_backlog(),
        }

    def _summary(self) -> str:
        c = self.counts
        return (
            f"{c['analysed']} analysed ({c['allow']} allow, {c['block']} block, "
            f"{c['review']} review), {c['skipped']} skipped, {c['failed']} failed"
        )

    def _preferences(self, owner_id: str) -> Preferences:
        if owner_id not in self._prefs:
            self._prefs[owner_id] = self.insights.preferences(owner_id)
        return self._prefs[owner_id]

    def _batch(self, batch: list[QueuedItem], analyzer: Analyzer, pool: ThreadPoolExecutor) -> int:
        """Analyse one claimed batch; store every outcome in one transaction.

        Raises the error that stops the run (a rate limit, a bad key) once the outcomes of the
        items already judged are stored; the rest of the batch goes back to the queue.
        """
        skipped = {i.item_id for i in batch if is_allow_listed(i, self._preferences(i.owner_id))}
        todo = [i for i in batch if i.item_id not in skipped]
        halt = threading.Event()
        outcomes = list(
            pool.map(lambda i: _judge(analyzer, i, self._preferences(i.owner_id), halt), todo)
        )
        results: list[Analysis] = []
        failed: dict[int, str] = {}
        released: list[int] = []
        stop: BaseException | None = None
        now = utcnow()
        for item, (verdict, error, ms) in zip(todo, outcomes, strict=True):
            if verdict is not None:
                results.append(_analysis(item, verdict, analyzer.name, ms, now))
            elif error is not None and (isinstance(error, _Halted) or _stops_run(error)):
                released.append(item.item_id)
                if not isinstance(error, _Halted):
                    stop = stop or error
            else:
                code, message = describe(error or RuntimeError("no verdict"))
                failed[item.item_id] = f"{code}: {message}"
                self.ctx.log(
                    f"item {item.item_id} ({item.provider} {item.external_id}) "
                    f"could not be analysed: {code}: {message}",
                    level="warning",
                )
        self.insights.repository.save_analyses(
            results=results,
            skipped=sorted(skipped),
            failed=failed,
            released=released,
            max_attempts=self.settings.analysis_max_attempts,
            now=now,
        )
        self._count(results, len(skipped), len(failed))
        if stop is not None:
            self.ctx.checkpoint({"counts": dict(self.counts)})
            raise stop
        return len(released)

    def _count(self, results: list[Analysis], skipped: int, failed: int) -> None:
        c = self.counts
        c["analysed"] += len(results)
        c["skipped"] += skipped
        c["failed"] += failed
        for a in results:
            c[a.decision.value] += 1
            c["ai_calls"] += a.ai_calls
            c["tokens"] += (
                a.tokens
                if a.tokens is not None
                else self.settings.estimated_tokens_per_item * max(1, a.ai_calls)
            )


def _judge(
    analyzer: Analyzer, item: QueuedItem, preferences: Preferences, halt: threading.Event
) -> tuple[Verdict | None, BaseException | None, int]:
    """Run the analyzer on one item; never raises (one bad item must not sink the batch).

    Once an item hit an error that stops the run, ``halt`` is set and the others are not sent.
    """
    if halt.is_set():
        return None, _Halted(), 0
    started = time.perf_counter()
    try:
        verdict = analyzer.analyze(item, preferences)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"{analyzer.name} returned {type(verdict).__name__}, not Verdict")
        if not isinstance(verdict.decision, Decision):
            verdict = dataclasses.replace(verdict, decision=Decision(verdict.decision))
        return verdict, None, int((time.perf_counter() - started) * 1000)
    except Exception as exc:
        if _stops_run(exc):
            halt.set()
        return None, exc, int((time.perf_counter() - started) * 1000)


class _Halted(Exception):
    """An item not sent to the analyzer because the run is stopping."""


def _analysis(item: QueuedItem, verdict: Verdict, analyzer: str, ms: int, now: Any) -> Analysis:
    return Analysis(
        item_id=item.item_id,
        owner_id=item.owner_id,
        account_id=item.account_id,
        channel=item.channel,
        decision=verdict.decision,
        confidence=max(0, min(100, int(verdict.confidence))),
        tags=tuple(str(t)[:64] for t in verdict.tags[:20]),
        analyzer=analyzer,
        tokens=verdict.tokens,
        ai_calls=verdict.ai_calls,
        duration_ms=ms,
        analyzed_at=now,
    )
