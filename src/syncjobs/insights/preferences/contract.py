"""The contract of PreferencesStore: round trips and replacement."""

from __future__ import annotations

import pytest

from ..contract_helpers import at
from ..models import DigestFrequency, Preferences
from .store import PreferencesStore

__all__ = ["PreferencesStoreContract"]


class PreferencesStoreContract:
    """Owners' preferences round-trip every field and are replaced whole.

    Provide a ``repository`` fixture returning a fresh, empty ``PreferencesStore``.
    """

    @pytest.fixture
    def repository(self) -> PreferencesStore:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_preferences_round_trip_and_are_replaced(self, repository: PreferencesStore) -> None:
        assert isinstance(repository, PreferencesStore)
        assert repository.get_preferences("owner-1") is None
        prefs = Preferences(
            owner_id="owner-1",
            blocked_words=("gore", "Blut ✗"),
            allowed_channels=("Zoë Ångström",),
            blocked_channels=("bad", "worse"),
            viewer_age=9,
            timezone="Europe/Berlin",
            digest=DigestFrequency.WEEKLY,
            webhook_url="https://example.test/hook?owner=1",
        )
        assert repository.save_preferences(prefs, now=at(1)) == prefs
        got = repository.get_preferences("owner-1")
        assert got == prefs
        assert got is not None and got.digest is DigestFrequency.WEEKLY
        assert isinstance(got.blocked_words, tuple)
        plain = Preferences("owner-1")
        assert repository.save_preferences(plain, now=at(2)) == plain
        assert repository.get_preferences("owner-1") == plain
        assert repository.get_preferences("owner-2") is None
