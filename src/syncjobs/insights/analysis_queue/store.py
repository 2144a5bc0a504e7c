"""What the analysis queue stores: items waiting for analysis, and their analyses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..models import Analysis, QueuedItem

__all__ = ["ANALYZING", "DONE", "FAILED", "QUEUED", "SKIPPED", "AnalysisQueueStore"]

#: An item's analysis states: waiting, claimed by a worker, judged, allow-listed, given up.
QUEUED, ANALYZING, DONE, SKIPPED, FAILED = "queued", "analyzing", "done", "skipped", "failed"


@runtime_checkable
class AnalysisQueueStore(Protocol):
    """The analysis queue over synced items, and each item's latest analysis.

    Items enter the queue when they are synced (``AccountRepository.save_page``) and leave it
    with their account (``AccountRepository.delete_account``, which deletes their analyses).
    """

    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take up to ``limit`` live queued items for analysis, best first.

        Order: items flagged for review, then higher ``priority``, then oldest
        ``first_seen_at``, then lowest id. Claimed items are marked ``analyzing`` at ``now``
        so concurrent callers never get the same item; an item left ``analyzing`` since
        before ``stale_before`` (its worker died) can be claimed again.
        """
        ...

    def analysis_backlog(self) -> int:
        """How many live items wait for analysis (queued, or stale in ``analyzing``)."""
        ...

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
        """Record one batch's outcome in ONE transaction.

        ``results``: upsert the item's analysis (keyed on item id) and mark it ``done``.
        ``skipped``: allow-listed items, marked ``skipped`` with no analysis.
        ``failed``: item id → error; the attempt counts and the item is queued again (not
        claimable before the next ``stale_before`` passes ``now``: a failed item backs off),
        or marked ``failed`` once it reached ``max_attempts``. ``released``: back to ``queued``
        without counting an attempt (the batch was interrupted). Each item's review flag is
        cleared once it has a result.
        """
        ...

    def queue_for_analysis(
        self, item_ids: Sequence[int], *, priority: int, review_flag: bool, now: datetime
    ) -> int:
        """Queue live items (again) with a priority and review flag; return how many."""
        ...

    def get_analysis(self, item_id: int) -> Analysis | None:
        """The latest analysis of an item, or None."""
        ...

    def list_analyses(
        self, *, owner_id: str, decision: str | None = None, limit: int = 100
    ) -> list[Analysis]:
        """An owner's analyses, newest first, optionally of one decision."""
        ...

    def item_analysis_state(self, item_id: int) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of an item, or None when it does not exist."""
        ...
