"""The connect-state contract: what every ``ConnectStateStore`` must do, as pytest tests.

Provide a ``connect_states`` fixture returning the store under test.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from ..clock import utcnow
from .connect_state import PendingConnect

__all__ = ["ConnectStateStoreContract", "pending_connect"]


def pending_connect(
    *,
    owner_id: str = "owner-1",
    created_at: datetime | None = None,
    ttl: float = 600,
    **fields: Any,
) -> PendingConnect:
    """A pending connect with a fresh state hash (fields override the defaults)."""
    created = created_at or utcnow()
    values: dict[str, Any] = {
        "state_hash": hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        "owner_id": owner_id,
        "provider": "youtube",
        "redirect_uri": "https://app.example.com/oauth/callback?from=settings",
        "created_at": created,
        "expires_at": created + timedelta(seconds=ttl),
        "code_verifier": "v" * 64,
        "account_id": None,
    }
    values.update(fields)
    return PendingConnect(**values)


class ConnectStateStoreContract:
    """Pending connect attempts: saved, taken back once, purged when expired."""

    @pytest.fixture
    def connect_states(self) -> Any:
        """Override: return the store under test."""
        raise NotImplementedError("provide a `connect_states` fixture")  # pragma: no cover

    def test_a_saved_attempt_comes_back_whole_and_only_once(self, connect_states: Any) -> None:
        pending = pending_connect(account_id="acc-1", provider="tiktok")
        connect_states.save_pending(pending)
        assert connect_states.take_pending(pending.state_hash) == pending
        assert connect_states.take_pending(pending.state_hash) is None

    def test_an_attempt_without_pkce_or_account_keeps_its_nones(self, connect_states: Any) -> None:
        pending = pending_connect(code_verifier=None, provider="instagram")
        connect_states.save_pending(pending)
        taken = connect_states.take_pending(pending.state_hash)
        assert taken == pending and taken.code_verifier is None and taken.account_id is None

    def test_an_unknown_state_hash_takes_nothing(self, connect_states: Any) -> None:
        kept = pending_connect()
        connect_states.save_pending(kept)
        assert connect_states.take_pending("0" * 64) is None
        assert connect_states.take_pending(kept.state_hash) == kept

    def test_of_eight_concurrent_takes_exactly_one_wins(self, connect_states: Any) -> None:
        pending = pending_connect()
        connect_states.save_pending(pending)
        barrier = threading.Barrier(8)
        won: list[PendingConnect | None] = []
        lock = threading.Lock()

        def take() -> None:
            barrier.wait()
            got = connect_states.take_pending(pending.state_hash)
            with lock:
                won.append(got)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 8
        assert [got for got in won if got is not None] == [pending]

    def test_purge_removes_only_attempts_expired_before_the_time(self, connect_states: Any) -> None:
        now = utcnow()
        old = pending_connect(created_at=now - timedelta(hours=2), ttl=600)
        fresh = pending_connect(created_at=now, ttl=600)
        connect_states.save_pending(old)
        connect_states.save_pending(fresh)
        assert connect_states.purge_pending(now) == 1
        assert connect_states.take_pending(old.state_hash) is None
        assert connect_states.take_pending(fresh.state_hash) == fresh
        assert connect_states.purge_pending(now) == 0
