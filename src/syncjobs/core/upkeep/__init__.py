"""Upkeep storage: heartbeats, the schedule ledger, and stale, unsent, expired and old jobs.

``store`` holds the protocol, ``memory`` and ``sql`` the stores, ``contract`` their tests.
The upkeep service that uses it is ``syncjobs.upkeep``.
"""

from .store import UpkeepRepository

__all__ = ["UpkeepRepository"]
