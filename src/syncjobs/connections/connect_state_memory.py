"""The in-memory :class:`~.connect_state.ConnectStateStore` (tests, the demo)."""

from __future__ import annotations

import threading
from datetime import datetime

from .connect_state import PendingConnect

__all__ = ["InMemoryConnectStates", "MemoryConnectStatesMixin"]


class MemoryConnectStatesMixin:
    """``ConnectStateStore`` in a dict under a lock (mixed into ``InMemoryRepository``)."""

    _pending: dict[str, PendingConnect]
    _pending_lock: threading.Lock

    def _init_connect_states(self) -> None:
        self._pending = {}
        self._pending_lock = threading.Lock()

    def save_pending(self, pending: PendingConnect) -> None:
        """Store a pending connect attempt."""
        with self._pending_lock:
            self._pending[pending.state_hash] = pending

    def take_pending(self, state_hash: str) -> PendingConnect | None:
        """Delete and return the attempt with this state hash; None if absent."""
        with self._pending_lock:
            return self._pending.pop(state_hash, None)

    def purge_pending(self, before: datetime) -> int:
        """Delete the attempts that expired before ``before``; return how many."""
        with self._pending_lock:
            gone = [key for key, row in self._pending.items() if row.expires_at < before]
            for key in gone:
                del self._pending[key]
            return len(gone)


class InMemoryConnectStates(MemoryConnectStatesMixin):
    """Pending connect attempts in process memory, on their own."""

    def __init__(self) -> None:
        self._init_connect_states()
