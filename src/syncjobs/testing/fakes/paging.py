"""The item index every fake pages through, and the opaque page tokens it hands out."""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

__all__ = ["SortedIndex", "decode_token", "encode_token"]


class SortedIndex:
    """Ids in ascending unique-key order (a timestamp): O(log n + page) newest-first pages."""

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: int, item_id: str) -> None:
        """Insert an id (appending when it is the newest, the common case)."""
        if not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._ids.append(item_id)
            return
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            raise ValueError(f"duplicate key {key}")
        self._keys.insert(at, key)
        self._ids.insert(at, item_id)

    def remove(self, key: int) -> None:
        """Remove the id stored under ``key``."""
        at = bisect_left(self._keys, key)
        if at == len(self._keys) or self._keys[at] != key:
            raise KeyError(key)
        del self._keys[at]
        del self._ids[at]

    def newest_key(self) -> int | None:
        """The largest key, or None when empty."""
        return self._keys[-1] if self._keys else None

    def next_key(self, now: int) -> int:
        """The key of a new newest item: ``now``, or one past the newest key if that is later."""
        return max(now, (self.newest_key() or 0) + 1)

    def older(self, before: int | None, limit: int, after: int | None = None) -> list[str]:
        """Up to ``limit`` ids with ``after < key < before``, newest first."""
        high = len(self._keys) if before is None else bisect_left(self._keys, before)
        low = 0 if after is None else bisect_right(self._keys, after)
        start = max(low, high - max(limit, 0))
        return self._ids[start:high][::-1]

    def newer(self, after: int, limit: int) -> list[str]:
        """Up to ``limit`` ids with ``key > after`` closest to it, newest first."""
        low = bisect_right(self._keys, after)
        return self._ids[low : low + max(limit, 0)][::-1]

    def count_between(self, after: int | None, before: int | None) -> int:
        """How many keys lie strictly between ``after`` and ``before``."""
        high = len(self._keys) if before is None else bisect_left(self._keys, before)
        low = 0 if after is None else bisect_right(self._keys, after)
        return max(0, high - low)

    def rank(self, key: int) -> int:
        """0-based position of ``key`` counted from the newest."""
        return len(self._keys) - 1 - bisect_left(self._keys, key)

    def ids(self) -> Iterator[str]:
        """Every id, newest first."""
        return reversed(self._ids)


def encode_token(*parts: object) -> str:
    """An opaque page token carrying ``parts``."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, arity: int) -> list[Any] | None:
    """The parts of a token from :func:`encode_token`, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parts = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parts, list) or len(parts) != arity:
        return None
    return parts
