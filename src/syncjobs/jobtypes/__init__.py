"""Built-in job types (no Dramatiq import here: ``register_actors`` binds them).

Named ``jobtypes`` because ``syncjobs.jobs`` is the public function that lists jobs.
"""

from . import analyze, builtin, cleanup, notify, sync, trust, upkeep, usage

__all__ = ["analyze", "builtin", "cleanup", "notify", "sync", "trust", "upkeep", "usage"]
