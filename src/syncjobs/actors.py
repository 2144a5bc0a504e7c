"""The ready-made wiring that ``dramatiq syncjobs.actors`` and ``periodiq syncjobs.actors`` load.

It reads settings from the environment (``SYNCJOBS_*``), builds the SQL repository and binds
every declared job type (the built-ins and the modules named in ``SYNCJOBS_IMPORTS``) to a
broker:

- when a module loaded before it has already set Dramatiq's global broker
  (``dramatiq myapp.actors syncjobs.actors``, where ``myapp.actors`` calls
  ``dramatiq.set_broker``), to that broker: it is the one the worker consumes from, and it
  keeps the host's actors and middleware;
- otherwise to a broker built from ``SYNCJOBS_BROKER_URL``, made Dramatiq's global one.

``SYNCJOBS_LOG_FORMAT=json`` makes the process log one JSON object per line. Bad settings, an
unknown job module or an unreachable database or broker stop the process with one CRITICAL
line saying what to fix (exit code 2, or 3 for what could not be reached), not a traceback.

With ``SYNCJOBS_METRICS_PORT`` set it also adds the worker metrics (``syncjobs.metrics``): each
worker process counts its jobs, and dramatiq's main process serves them on that port.
"""

from __future__ import annotations

import logging

import dramatiq.broker

from .app import SyncJobs
from .factory import create_app
from .failures import EXIT_BROKER, EXIT_DATABASE, explain
from .logs import apply_log_format
from .settings import Settings

#: Dramatiq's exit codes for a worker that could not start: its modules did not import, or
#: the broker (here also the database) could not be reached.
_RET_IMPORT, _RET_CONNECT = 2, 3

_logger = logging.getLogger("syncjobs")


def _start() -> SyncJobs:
    """Build the app; a failure a person can fix is one CRITICAL log line and an exit."""
    host_broker = dramatiq.broker.global_broker
    try:
        settings = Settings()
        apply_log_format(settings)
        if host_broker is not None:
            _logger.info(
                "binding syncjobs to the broker a module loaded before syncjobs.actors set: %s",
                type(host_broker).__name__,
            )
        return create_app(settings, broker=host_broker, set_global_broker=host_broker is None)
    except Exception as exc:
        failure = explain(exc)
        if failure is None:
            raise
        _logger.critical("syncjobs cannot start: %s", failure.message)
        connect = failure.exit_code in (EXIT_DATABASE, EXIT_BROKER)
        raise SystemExit(_RET_CONNECT if connect else _RET_IMPORT) from None


app = _start()
broker = app.broker
if app.settings.metrics_port:
    from .metrics import install

    install(app)

__all__ = ["app", "broker"]
