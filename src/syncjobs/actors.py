"""The ready-made wiring that ``dramatiq syncjobs.actors`` and ``periodiq syncjobs.actors`` load.

It reads settings from the environment (``SYNCJOBS_*``), builds the SQL repository and binds
every declared job type (the built-ins and the modules named in ``SYNCJOBS_IMPORTS``) to a
broker:

- when a module loaded before it has already set Dramatiq's global broker
  (``dramatiq myapp.actors syncjobs.actors``, where ``myapp.actors`` calls
  ``dramatiq.set_broker``), to that broker: it is the one the worker consumes from, and it
  keeps the host's actors and middleware;
- otherwise to a broker built from ``SYNCJOBS_BROKER_URL``, made Dramatiq's global one.

With ``SYNCJOBS_METRICS_PORT`` set it also adds the worker metrics (``syncjobs.metrics``): each
worker process counts its jobs, and dramatiq's main process serves them on that port.
"""

from __future__ import annotations

import logging

import dramatiq.broker

from .factory import create_app

_host_broker = dramatiq.broker.global_broker
if _host_broker is not None:
    logging.getLogger("syncjobs").info(
        "binding syncjobs to the broker a module loaded before syncjobs.actors set: %s",
        type(_host_broker).__name__,
    )
app = create_app(broker=_host_broker, set_global_broker=_host_broker is None)
broker = app.broker
if app.settings.metrics_port:
    from .metrics import install

    install(app)

__all__ = ["app", "broker"]
