"""Owners' preferences in process memory (a mixin of InMemoryRepository)."""

from __future__ import annotations

from datetime import datetime

from ..memory_state import MemoryInsightsState
from ..models import Preferences

__all__ = ["MemoryPreferences"]


class MemoryPreferences(MemoryInsightsState):
    """PreferencesStore on the shared in-memory state."""

    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's preferences."""
        with self._lock:
            return self._prefs.get(owner_id)

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        saved = preferences.normalised()
        with self._lock:
            self._prefs[saved.owner_id] = saved
        return saved
