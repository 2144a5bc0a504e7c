"""What the digest store keeps and reads: digest claims, and owners' activity."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from ..models import OwnerActivity, Preferences

__all__ = ["DigestStore"]


@runtime_checkable
class DigestStore(Protocol):
    """The owners to send digests to, one claim per digest period, and what happened."""

    def digest_owners(
        self, *, after: str | None, limit: int
    ) -> list[tuple[str, Preferences | None]]:
        """Owners with accounts or preferences, by owner id after ``after``, with prefs."""
        ...

    def claim_digest(self, owner_id: str, kind: str, period_key: str, *, now: datetime) -> bool:
        """Note that a digest is being sent for this period; False if one was already."""
        ...

    def release_digest(self, owner_id: str, kind: str, period_key: str) -> None:
        """Forget a claim whose digest could not be recorded (so a later run may retry)."""
        ...

    def owner_activity(self, owner_id: str, *, since: datetime, until: datetime) -> OwnerActivity:
        """What happened for an owner in [since, until)."""
        ...
