"""Importing this module declares every built-in job type in the default registry.

The job core's (``syncjobs.noop``, ``syncjobs.count``, ``maintain_jobs``), the account syncs
(``sync_account``, ``sync_due_accounts``) and the extras' (analysis, trust scores, usage,
notifications, digests, clean-up). ``register_actors`` and ``create_app`` import it.
"""

from .connections import jobs as connection_jobs
from .core import builtin_jobs as core_jobs
from .insights import jobs as insight_jobs

__all__ = ["connection_jobs", "core_jobs", "insight_jobs"]
