"""Built-in job types (no Dramatiq import here: ``register_actors`` binds them).

Named ``jobtypes`` because ``syncjobs.jobs`` is the public function that lists jobs.
"""

from . import builtin, sync, upkeep

__all__ = ["builtin", "sync", "upkeep"]
