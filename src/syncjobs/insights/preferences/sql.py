"""Owners' preferences in SQL: the preferences table, one row per owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...schema.base import SQLMixin
from ..models import DigestFrequency, Preferences

__all__ = ["SQLPreferencesMixin", "preferences_from_row"]

_PREFERENCE_VALUES = (
    "blocked_words",
    "allowed_channels",
    "blocked_channels",
    "viewer_age",
    "timezone",
    "digest",
    "webhook_url",
    "updated_at",
)


class SQLPreferencesMixin(SQLMixin):
    """PreferencesStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's preferences."""
        pr = self.tables.preferences
        with self.engine.connect() as conn:
            row = conn.execute(select(pr).where(pr.c.owner_id == owner_id)).mappings().first()
        return preferences_from_row(row) if row is not None else None

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        saved = preferences.normalised()
        values = {**saved.to_dict(), "updated_at": now}
        with self.engine.begin() as conn:
            conn.execute(
                self._upsert(self.tables.preferences, ["owner_id"], _PREFERENCE_VALUES), [values]
            )
        return saved


def preferences_from_row(row: Any) -> Preferences:
    """Preferences from a row of the preferences table."""
    return Preferences(
        owner_id=row["owner_id"],
        blocked_words=tuple(row["blocked_words"]),
        allowed_channels=tuple(row["allowed_channels"]),
        blocked_channels=tuple(row["blocked_channels"]),
        viewer_age=row["viewer_age"],
        timezone=row["timezone"],
        digest=DigestFrequency(row["digest"]),
        webhook_url=row["webhook_url"],
    )
