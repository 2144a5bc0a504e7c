"""What the extras' contract suites share: fixed instants, realistic items, batch helpers.

Each concern's ``contract.py`` holds its pytest suite; this module imports no pytest.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, Protocol

from ..connections.models import Account
from ..connections.store import AccountRepository
from ..connections.testdata import T0, make_account, minute, video
from .models import Analysis, Decision, Notification, QueuedItem
from .notifications.store import NotificationStore
from .stores import InsightsStores

__all__ = [
    "T0",
    "ContractRepository",
    "account_with_items",
    "add_account",
    "add_note",
    "at",
    "claim_batch",
    "claimed_ids",
    "make_result",
    "run_threads",
    "save_batch",
    "video",
]

#: T0 plus ``minutes``.
at = minute
#: Connect an account named "Zoë's channel ✓" at T0 plus ``minutes``.
add_account = make_account


class ContractRepository(AccountRepository, InsightsStores, Protocol):
    """What the extras' contracts run against: accounts (items come from ``save_page``) and
    the extras' stores (a concern's records are made and checked through its neighbours')."""


def account_with_items(
    repo: ContractRepository,
    count: int,
    *,
    external: str = "UC-1",
    owner_id: str = "owner-1",
    minutes: float = 0,
) -> tuple[Account, list[int]]:
    """An account with ``count`` items, one first seen per minute from ``minutes`` on."""
    acc = add_account(repo, external, owner_id=owner_id, minutes=minutes)
    for i in range(count):
        repo.save_page(
            acc.id,
            items=[video(f"{external}-{i:02d}")],
            deleted_ids=[],
            cursor={},
            now=at(minutes + i),
        )
    return acc, [it.id for it in repo.list_items(acc.id)]


def claim_batch(
    repo: ContractRepository, limit: int = 100, *, at: float = 100, stale: float = 40
) -> list[QueuedItem]:
    """Claim up to ``limit`` items at minute ``at``; claims before minute ``stale`` are stale."""
    now, stale_before = T0 + timedelta(minutes=at), T0 + timedelta(minutes=stale)
    return repo.claim_analysis_batch(limit=limit, now=now, stale_before=stale_before)


def claimed_ids(repo: ContractRepository, limit: int = 100, **kwargs: Any) -> list[int]:
    """The item ids ``claim_batch`` claims."""
    return [q.item_id for q in claim_batch(repo, limit, **kwargs)]


def make_result(
    item_id: int,
    acc: Account,
    decision: Decision = Decision.ALLOW,
    *,
    minutes: float = 101,
    confidence: int = 80,
    channel: str = "Zoë Ångström",
    tokens: int | None = 150,
    ai_calls: int = 1,
) -> Analysis:
    """An analysis of ``item_id`` (of ``acc``) made at T0 plus ``minutes``."""
    return Analysis(
        item_id=item_id,
        owner_id=acc.owner_id,
        account_id=acc.id,
        channel=channel,
        decision=decision,
        confidence=confidence,
        tags=("kids", "東京 ✓"),
        analyzer="keyword",
        tokens=tokens,
        ai_calls=ai_calls,
        duration_ms=42,
        analyzed_at=at(minutes),
    )


def save_batch(
    repo: ContractRepository, *results: Analysis, at: float = 101, **kwargs: Any
) -> None:
    """Save a batch's results (and skips, failures, releases) at minute ``at``."""
    kwargs.setdefault("max_attempts", 3)
    repo.save_analyses(results=list(results), now=T0 + timedelta(minutes=at), **kwargs)


def add_note(
    repo: NotificationStore, owner_id: str = "owner-1", minutes: float = 0, title: str = "n"
) -> Notification:
    """Add a notification for ``owner_id`` at T0 plus ``minutes``."""
    return repo.add_notification(
        owner_id=owner_id,
        kind="analysis.blocked",
        title=title,
        body="Ünïcode ✓",
        data={"item": 1},
        now=at(minutes),
    )


def run_threads(count: int, target: Any) -> list[BaseException]:
    """Run ``target`` in ``count`` threads started together; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
