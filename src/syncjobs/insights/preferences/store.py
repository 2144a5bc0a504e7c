"""What the preferences store keeps: one Preferences record per owner."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from ..models import Preferences

__all__ = ["PreferencesStore"]


@runtime_checkable
class PreferencesStore(Protocol):
    """Owners' preferences, one record per owner."""

    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's stored preferences, or None."""
        ...

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        ...
