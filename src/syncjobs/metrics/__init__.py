"""Prometheus metrics of the workers and the ledger (docs/metrics.md).

- ``install(app_or_broker)`` adds the ``WorkerMetrics`` middleware to a bound broker: each
  worker process counts the jobs it runs, the provider calls and quota its syncs spend and the
  items they store. ``dramatiq syncjobs.actors`` installs it when ``SYNCJOBS_METRICS_PORT`` is
  set, and its main process then serves the sum over every worker process on that port.
- ``scrape(app)`` renders the ledger's gauges (queue depth, oldest pending job, processing
  jobs, dead letters, heartbeats, health), read at scrape time: what the dashboard's
  ``/metrics`` returns. ``ledger_collector(app)`` is the same as a collector for a host's own
  registry.

Nothing here imports ``prometheus_client`` until it is used: a worker process must choose its
multi-process directory before that import (``syncjobs.metrics.multiproc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ledger import LedgerCollector, ledger_collector, scrape
    from .worker import WorkerMetrics, install

__all__ = ["LedgerCollector", "WorkerMetrics", "install", "ledger_collector", "scrape"]

_WHERE = {
    "LedgerCollector": "ledger",
    "ledger_collector": "ledger",
    "scrape": "ledger",
    "WorkerMetrics": "worker",
    "install": "worker",
}


def __getattr__(name: str) -> Any:
    """Import each public name on first use (see the module docstring)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
