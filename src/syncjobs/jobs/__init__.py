"""Built-in job types (no Dramatiq import here: they are bound by ``register_actors``)."""

from . import builtin

__all__ = ["builtin"]
