"""The offline ``keyword`` analyzer: channel lists, blocked words and age rules."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..models import Decision, Preferences, QueuedItem, Verdict
from .common import (
    WordPatterns,
    compile_words,
    is_age_restricted,
    item_channels,
    item_tags,
    matches,
)

__all__ = ["MATURE_WORDS", "KeywordAnalyzer"]

#: Words that send an item to REVIEW when the viewer is younger than 13.
MATURE_WORDS: tuple[str, ...] = (
    "explicit",
    "nsfw",
    "gore",
    "horror",
    "violence",
    "violent",
    "drugs",
    "gambling",
)
_PATTERN_CACHE_SIZE = 1024
_MATURE_PATTERNS = compile_words(MATURE_WORDS)


class KeywordAnalyzer:
    """The offline analyzer: channel lists, blocked words and age rules; no AI call."""

    name = "keyword"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patterns: dict[tuple[str, ...], WordPatterns] = {}

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        """Judge ``item`` by its owner's channel lists, blocked words and viewer age."""
        channels = item_channels(item)
        if channels & {c.strip().lower() for c in preferences.blocked_channels}:
            return self._verdict(Decision.BLOCK, 100, ("blocked_channel",))
        if channels & {c.strip().lower() for c in preferences.allowed_channels}:
            return self._verdict(Decision.ALLOW, 100, ("allowed_channel",))
        text = "\n".join(
            part for part in (item.title, item.text, item.author, *item_tags(item.raw)) if part
        )
        blocked = matches(self.patterns_for(preferences.blocked_words), text)
        if blocked:
            confidence = min(95, 60 + 10 * len(blocked))
            return self._verdict(
                Decision.BLOCK, confidence, tuple(f"blocked_word:{w}" for w in blocked)
            )
        age = preferences.viewer_age
        if age is not None:
            if age < 18 and is_age_restricted(item.raw):
                if age < 13:
                    return self._verdict(Decision.BLOCK, 90, ("age_restricted",))
                return self._verdict(Decision.REVIEW, 70, ("age_restricted",))
            if age < 13:
                mature = matches(_MATURE_PATTERNS, text)
                if mature:
                    return self._verdict(Decision.REVIEW, 60, tuple(f"mature:{w}" for w in mature))
        return self._verdict(Decision.ALLOW, 80, ())

    def patterns_for(self, words: Sequence[str]) -> WordPatterns:
        """The compiled whole-word patterns of ``words`` (cached per tuple of words)."""
        key = tuple(words)
        with self._lock:
            cached = self._patterns.get(key)
        if cached is not None:
            return cached
        compiled = compile_words(key)
        with self._lock:
            if len(self._patterns) >= _PATTERN_CACHE_SIZE:
                self._patterns.clear()
            return self._patterns.setdefault(key, compiled)

    def close(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _verdict(decision: Decision, confidence: int, tags: tuple[str, ...]) -> Verdict:
        return Verdict(decision=decision, confidence=confidence, tags=tags, tokens=0, ai_calls=0)
