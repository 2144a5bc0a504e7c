"""Small helpers the adapters share: times, numbers, fingerprints, batches, refresh locks."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "chunks",
    "fingerprint",
    "lock_for",
    "metrics_of",
    "parse_time",
    "seconds_until_pacific_midnight",
    "to_int",
]

_PACIFIC = ZoneInfo("America/Los_Angeles")

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_for(account_key: str) -> threading.Lock:
    """Return the process-wide refresh lock of one account (created on first use)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(account_key, threading.Lock())


def seconds_until_pacific_midnight(now: datetime) -> float:
    """Return the seconds from ``now`` until the next midnight in America/Los_Angeles."""
    local = now.astimezone(_PACIFIC)
    next_day = (local + timedelta(days=1)).date()
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=_PACIFIC)
    return max(1.0, (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())


def parse_time(value: str | int | float) -> datetime:
    """Parse an ISO 8601 string (``Z`` or ``+0000`` offsets) or epoch seconds to aware UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_int(value: object) -> int | None:
    """Return ``value`` as an int if it is one or a numeric string (APIs send strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def metrics_of(raw: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, int]:
    """Pick the integer metrics ``names`` (metric -> raw key) out of ``raw``."""
    out: dict[str, int] = {}
    for metric, key in names.items():
        number = to_int(raw.get(key))
        if number is not None:
            out[metric] = number
    return out


def fingerprint(value: object) -> str:
    """Return a short stable hash of a JSON-serialisable value."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    """Yield ``values`` in lists of at most ``size``."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
