"""What the retention store deletes: old allowed items and old read notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["RetentionStore"]


@runtime_checkable
class RetentionStore(Protocol):
    """Batched deletes of the extras' records past retention (``cleanup_old_data``)."""

    def delete_allowed_items(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` old items judged ALLOW or allow-listed; return how many.

        An item goes when it was first seen before ``before`` and its latest analysis is
        ALLOW, or it was skipped as allow-listed; its analysis goes with it. BLOCK and REVIEW
        items, and items never analysed, are never deleted.
        """
        ...

    def delete_read_notifications(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` notifications read before ``before``; return how many.

        Unread notifications are never deleted; a deleted one's delivery records go with it.
        """
        ...
