"""InsightsStores: every store of the extras in one type, for the repository they are given."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .analysis_queue.store import AnalysisQueueStore
from .digests.store import DigestStore
from .notifications.store import NotificationStore
from .preferences.store import PreferencesStore
from .retention.store import RetentionStore
from .trust.store import TrustStore
from .usage.store import UsageStore

__all__ = ["InsightsStores"]


@runtime_checkable
class InsightsStores(
    AnalysisQueueStore,
    PreferencesStore,
    TrustStore,
    UsageStore,
    NotificationStore,
    DigestStore,
    RetentionStore,
    Protocol,
):
    """One object with every extras store (``Deps.insights``); adds no method of its own."""
