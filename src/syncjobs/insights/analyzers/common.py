"""What the analyzers share: reading an item's raw payload and whole-word matching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..models import QueuedItem

__all__ = [
    "WordPatterns",
    "compile_words",
    "get_path",
    "is_age_restricted",
    "item_channels",
    "item_tags",
    "matches",
]

#: (normalised word, whole-word pattern) pairs.
WordPatterns = tuple[tuple[str, re.Pattern[str]], ...]

_AGE_RESTRICTED = "ytAgeRestricted"


def get_path(mapping: object, *path: str) -> object:
    """Return ``mapping[path[0]][path[1]]…``, or None as soon as a level is missing."""
    value = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _normalise(word: str) -> str:
    """Lower-case ``word`` and collapse its inner whitespace."""
    return " ".join(word.lower().split())


def _word_pattern(word: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern of ``word`` (a phrase's spaces match any run)."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def compile_words(words: Iterable[str]) -> WordPatterns:
    """Return (normalised word, pattern) of each distinct non-empty word, in first-seen order."""
    seen: dict[str, re.Pattern[str]] = {}
    for word in words:
        key = _normalise(word)
        if key and key not in seen:
            seen[key] = _word_pattern(key)
    return tuple(seen.items())


def matches(patterns: Sequence[tuple[str, re.Pattern[str]]], text: str) -> list[str]:
    """Return the words whose pattern occurs in ``text``, sorted."""
    return sorted(word for word, pattern in patterns if pattern.search(text))


def item_channels(item: QueuedItem) -> set[str]:
    """Every name the item's channel goes by (channel, author, raw channel id), lower-cased."""
    candidates: list[object] = [
        item.channel,
        item.author,
        get_path(item.raw, "channelId"),
        get_path(item.raw, "snippet", "channelId"),
        get_path(item.raw, "snippet", "channelTitle"),
    ]
    return {c.strip().lower() for c in candidates if isinstance(c, str) and c.strip()}


def item_tags(raw: Mapping[str, Any]) -> list[str]:
    """The item's own tags: strings under ``raw["tags"]`` and ``raw["snippet"]["tags"]``."""
    tags: list[str] = []
    for found in (get_path(raw, "tags"), get_path(raw, "snippet", "tags")):
        if isinstance(found, list):
            tags += [tag for tag in found if isinstance(tag, str)]
    return tags


def is_age_restricted(raw: Mapping[str, Any]) -> bool:
    """Tell whether the provider marks the item age-restricted."""
    return (
        get_path(raw, "ageRestricted") is True
        or get_path(raw, "contentRating", "ytRating") == _AGE_RESTRICTED
        or get_path(raw, "contentDetails", "contentRating", "ytRating") == _AGE_RESTRICTED
    )
