"""Reading the ledger across owners, for operators: the dashboard's and the CLI's views.

``JobBrowser`` is its protocol (``store``), with in-memory and SQL implementations and a
contract suite beside it, like every storage concern (docs/architecture.md).
"""

from .store import JobBrowser, JobQuery, ThroughputBucket, WorkerInfo

__all__ = ["JobBrowser", "JobQuery", "ThroughputBucket", "WorkerInfo"]
