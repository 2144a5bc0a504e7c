"""Seeded data for the fakes: titles, sentences, ids, timestamps, and how they are written."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

__all__ = [
    "make_sentence",
    "make_title",
    "parse_rfc3339",
    "pick_ids",
    "random_id",
    "rfc3339",
    "short_hash",
    "spread_keys",
    "to_datetime",
]

# fmt: off
_WORDS = (
    "river", "mountain", "coffee", "garden", "winter", "summer", "city", "night", "morning",
    "journey", "kitchen", "guitar", "camera", "ocean", "forest", "street", "market", "recipe",
    "travel", "budget", "project", "weekend", "update", "review", "tutorial", "story", "secret",
    "lesson", "challenge", "habit", "studio", "island", "bridge", "festival", "library", "planet",
    "robot", "signal", "pattern", "puzzle", "rhythm", "canvas", "lantern",
)
_ADJECTIVES = (
    "quick", "simple", "honest", "tiny", "huge", "quiet", "bright", "hidden", "perfect", "lazy",
    "brave", "cozy", "wild", "ultimate", "surprising", "easy", "hard", "strange", "golden",
)
# fmt: on
_TEMPLATES = (
    "How I {verb} the {adj} {noun}",
    "{Adj} {noun} in 10 minutes",
    "My {noun} {noun2} routine",
    "Why the {noun} matters: a {adj} guide",
    "{Adj} {noun} vs {adj2} {noun2}",
    "{N} things about {noun}s nobody tells you",
    "Day {N}: {adj} {noun} {noun2}",
)
_VERBS = ("fixed", "built", "painted", "found", "tested", "cooked", "planned", "filmed")


def make_title(rng: random.Random) -> str:
    """A plausible human title."""
    adj, adj2 = rng.choice(_ADJECTIVES), rng.choice(_ADJECTIVES)
    return rng.choice(_TEMPLATES).format(
        verb=rng.choice(_VERBS),
        adj=adj,
        Adj=adj.capitalize(),
        adj2=adj2,
        noun=rng.choice(_WORDS),
        noun2=rng.choice(_WORDS),
        N=rng.randint(2, 99),
    )


def make_sentence(rng: random.Random, words: int) -> str:
    """A sentence of ``words`` random words."""
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[:1].upper() + text[1:] + "."


def spread_keys(rng: random.Random, count: int, end: int, span: int) -> list[int]:
    """``count`` unique ascending integer timestamps in ``(end - span, end]``."""
    span = max(span, count * 4)
    ages = sorted(rng.sample(range(span), count), reverse=True)
    return [end - age for age in ages]


def random_id(rng: random.Random, length: int, alphabet: str) -> str:
    """A random id of ``length`` characters from ``alphabet``."""
    return "".join(rng.choices(alphabet, k=length))


def pick_ids(rng: random.Random, live: list[str], ids: list[str] | int) -> list[str]:
    """``ids`` itself, or that many distinct live ids picked by ``rng``."""
    if isinstance(ids, int):
        return rng.sample(live, min(ids, len(live)))
    return list(ids)


def short_hash(*parts: object) -> str:
    """A short stable hash (for etags, trace ids)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=9).hexdigest()


def rfc3339(epoch: float) -> str:
    """``2024-01-31T12:00:00Z``."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or None when unparsable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def to_datetime(epoch: float | None) -> datetime | None:
    """Aware UTC datetime of ``epoch`` (None passes through)."""
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None
