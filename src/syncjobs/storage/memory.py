"""InMemoryRepository: every store in process memory, for unit tests and embedding.

It composes each concern's memory mixin (docs/architecture.md); it is thread-safe and
``subscribe`` wakes on every change of a job.
"""

from __future__ import annotations

import itertools
import threading

from ..connections.browse_memory import MemoryAccountBrowserMixin
from ..connections.connect_state_memory import MemoryConnectStatesMixin
from ..connections.memory import MemoryAccountsMixin
from ..core.browse.memory import MemoryBrowseMixin
from ..core.ledger.memory import MemoryLedgerMixin
from ..core.upkeep.memory import MemoryUpkeepMixin
from ..insights.analysis_queue.memory import MemoryAnalysisQueue
from ..insights.digests.memory import MemoryDigests
from ..insights.notifications.memory import MemoryNotifications
from ..insights.preferences.memory import MemoryPreferences
from ..insights.retention.memory import MemoryRetention
from ..insights.trust.memory import MemoryTrust
from ..insights.usage.memory import MemoryUsage

__all__ = ["InMemoryRepository"]


class InMemoryRepository(
    MemoryLedgerMixin,
    MemoryUpkeepMixin,
    MemoryBrowseMixin,
    MemoryAnalysisQueue,
    MemoryPreferences,
    MemoryTrust,
    MemoryUsage,
    MemoryNotifications,
    MemoryDigests,
    MemoryRetention,
    MemoryAccountsMixin,
    MemoryAccountBrowserMixin,
    MemoryConnectStatesMixin,
):
    """The job ledger, upkeep, accounts, items and the extras' records in process memory.

    It browses them too (``JobBrowser``, ``AccountBrowser``, ``UsageBrowser``) and keeps
    pending connect attempts (``ConnectStateStore``).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        #: The ids of log lines, dead letters, items, notifications and rollup runs.
        self._ids = itertools.count(1)
        self._init_ledger()
        self._init_upkeep()
        self._init_accounts()
        self._init_connect_states()
        self._init_insights()
