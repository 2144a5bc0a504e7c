"""The in-memory ledger's grouped writes (``BatchClaimer``, ``BatchFinisher``) under its lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import cast

from ..models import Claim, Finish, Job
from .store import JobStore

__all__ = ["MemoryGroupMixin"]


class MemoryGroupMixin:
    """``claim_jobs`` and ``finish_jobs`` of the in-memory ledger: each write in turn, atomically.

    Needs ``_lock`` (an RLock) and the ledger's ``claim_job`` and ``finish_job``.
    """

    _lock: threading.RLock

    def claim_jobs(self, claims: Sequence[Claim]) -> list[Job | None]:
        """Claim many jobs at once (``BatchClaimer``)."""
        store = cast(JobStore, self)
        with self._lock:
            return [
                store.claim_job(
                    c.job_id, worker_id=c.worker_id, now=c.now, stale_before=c.stale_before
                )
                for c in claims
            ]

    def finish_jobs(self, finishes: Sequence[Finish]) -> list[Job | None]:
        """Record many terminal statuses at once (``BatchFinisher``)."""
        store = cast(JobStore, self)
        with self._lock:
            return [
                store.finish_job(
                    f.job_id,
                    status=f.status,
                    now=f.now,
                    result=f.result,
                    error_code=f.error_code,
                    error_message=f.error_message,
                    dead_letter=f.dead_letter,
                )
                for f in finishes
            ]
