"""The ready-made wiring that ``dramatiq syncjobs.actors`` and ``periodiq syncjobs.actors`` load.

It reads settings from the environment (``SYNCJOBS_*``), builds the broker and the SQL
repository, binds every declared job type (the built-ins and the modules named in
``SYNCJOBS_IMPORTS``) and makes the broker Dramatiq's global one.
"""

from __future__ import annotations

from .factory import create_app

app = create_app(set_global_broker=True)
broker = app.broker

__all__ = ["app", "broker"]
