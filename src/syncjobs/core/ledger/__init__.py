"""The job ledger: jobs, their log lines and dead letters, and change subscriptions.

``store`` holds the protocols, ``memory`` and ``sql`` the stores, ``contract`` their tests.
"""

from .store import JobIdLookup, JobLogStore, JobRepository, JobStore, Subscription

__all__ = ["JobIdLookup", "JobLogStore", "JobRepository", "JobStore", "Subscription"]
