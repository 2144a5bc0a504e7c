"""Pending connect attempts: the server-side half of an OAuth ``state``.

``begin_connect`` saves one :class:`PendingConnect` per consent page it sends an owner to,
keyed by the SHA-256 of the state (the state itself is never stored); ``complete_connect``
takes it back exactly once (:meth:`ConnectStateStore.take_pending` deletes and returns it
atomically), so a callback can never be replayed. The periodic upkeep purges expired rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["ConnectStateStore", "PendingConnect"]


@dataclass(frozen=True)
class PendingConnect:
    """One consent page an owner was sent to and has not come back from yet."""

    #: SHA-256 hex of the state put in the consent URL.
    state_hash: str
    owner_id: str
    provider: str
    #: The callback URL given to the provider (the code exchange must repeat it).
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    #: The PKCE code verifier, for providers that use PKCE.
    code_verifier: str | None = None
    #: The account being reconnected, if this attempt reconnects one.
    account_id: str | None = None


@runtime_checkable
class ConnectStateStore(Protocol):
    """Pending connect attempts, each taken back at most once."""

    def save_pending(self, pending: PendingConnect) -> None:
        """Store a pending connect attempt (its ``state_hash`` is new)."""
        ...

    def take_pending(self, state_hash: str) -> PendingConnect | None:
        """Delete and return the attempt with this state hash, atomically; None if absent."""
        ...

    def purge_pending(self, before: datetime) -> int:
        """Delete the attempts that expired before ``before``; return how many."""
        ...
