"""The state the extras' in-memory stores share with InMemoryRepository, which composes them."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from ..connections.models import Account, StoredItem
from .models import (
    Analysis,
    BreakerState,
    Delivery,
    Notification,
    Preferences,
    RollupRun,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
)

__all__ = ["MemoryInsightsState", "QueueEntry"]


@dataclasses.dataclass
class QueueEntry:
    """An item's place in the analysis queue (the SQL ``items.analysis_*`` columns)."""

    priority: int = 0
    review_flag: bool = False
    attempts: int = 0
    claimed_at: datetime | None = None
    error: str | None = None


class MemoryInsightsState:
    """Base of every in-memory extras store: the dicts they read and write.

    ``InMemoryRepository`` provides the lock, the id counter, the accounts and the items
    (``MemoryAccountsMixin`` keeps ``_item_keys``) and calls ``_init_insights`` once. The
    accounts mixin calls ``_items_forgotten`` when items are deleted and ``_item_rejudged``
    when what an analyzer reads of an item changed.
    """

    # Provided by InMemoryRepository.
    _lock: threading.RLock
    _ids: itertools.count[int]
    _accounts: dict[str, Account]
    #: account id → external id → item; ``_seen`` holds each item's last_seen_at.
    _items: dict[str, dict[str, StoredItem]]
    _seen: dict[tuple[str, str], datetime]
    #: item id → (account id, external id), kept by the accounts mixin.
    _item_keys: dict[int, tuple[str, str]]
    #: Deletes items by id (the accounts mixin), then calls ``_items_forgotten``.
    _forget_items: Callable[[Sequence[int]], None]
    # Made by _init_insights: each item's queue fields, then the extras' records.
    _queue: dict[int, QueueEntry]
    _analyses: dict[int, Analysis]
    _prefs: dict[str, Preferences]
    _trust: dict[tuple[str, str], TrustScore]
    #: (provider, event) of each sync's provider calls.
    _provider_usage: list[tuple[str, UsageEvent]]
    _usage: dict[tuple[str, UsagePeriod, datetime], UsageRecord]
    _rollups: list[RollupRun]
    _notes: list[Notification]
    _deliveries: dict[tuple[int, str], Delivery]
    _breakers: dict[str, BreakerState]
    _digests: dict[tuple[str, str, str], datetime]

    def _init_insights(self) -> None:
        self._queue = {}
        self._analyses = {}
        self._prefs = {}
        self._trust = {}
        self._provider_usage = []
        self._usage = {}
        self._rollups = []
        self._notes = []
        self._deliveries = {}
        self._breakers = {}
        self._digests = {}

    def _item(self, item_id: int) -> StoredItem | None:
        key = self._item_keys.get(item_id)
        return None if key is None else self._items.get(key[0], {}).get(key[1])

    def _items_forgotten(self, item_ids: Sequence[int]) -> None:
        """Drop deleted items' queue fields and analyses."""
        for item_id in item_ids:
            self._queue.pop(item_id, None)
            self._analyses.pop(item_id, None)

    def _item_rejudged(self, item_id: int) -> None:
        """An item's words changed: its attempts and last error start again."""
        queue = self._queue.get(item_id)
        if queue is not None:
            queue.attempts, queue.error, queue.claimed_at = 0, None, None
