"""The ledger's gauges, read at scrape time: what the dashboard's ``/metrics`` returns.

One scrape costs one ``job_counts`` and one ``last_heartbeats`` call on the upkeep store
(``core.maintenance.health``). If the ledger cannot be read, the scrape still answers, with
``syncjobs_ledger_up 0`` and nothing else.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from ..clock import utcnow
from ..core.app import JobApp
from ..core.maintenance import Health, health, upkeep_store
from ..core.models import JobStatus
from ._prom import require_prometheus

if TYPE_CHECKING:
    from prometheus_client.metrics_core import GaugeMetricFamily, Metric

__all__ = ["LedgerCollector", "ledger_collector", "scrape"]

logger = logging.getLogger("syncjobs.metrics")


class LedgerCollector:
    """A Prometheus collector of the ledger: queue depth, ages, statuses, health."""

    def __init__(self, app: JobApp) -> None:
        upkeep_store(app)  # ConfigurationError now rather than at every scrape
        self.app = app

    def describe(self) -> Iterator[Metric]:
        """The metric families, without reading the ledger."""
        yield from _families().values()

    def collect(self) -> Iterator[Metric]:
        """Read the ledger once and yield every family."""
        families = _families()
        now = utcnow()
        try:
            report = health(self.app, now)
        except Exception:  # the database is down: say so instead of failing the scrape
            logger.warning("could not read the ledger for metrics", exc_info=True)
            families["up"].add_metric([], 0)
            yield families["up"]
            return
        families["up"].add_metric([], 1)
        _fill(families, report, now)
        yield from families.values()


def _families() -> dict[str, GaugeMetricFamily]:
    from prometheus_client.metrics_core import GaugeMetricFamily

    def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=labels)

    return {
        "up": gauge("syncjobs_ledger_up", "1 if this scrape could read the ledger, else 0."),
        "healthy": gauge(
            "syncjobs_healthy", "1 if a worker heartbeat and a scheduler tick are recent."
        ),
        "worker": gauge(
            "syncjobs_worker_last_seen_age_seconds",
            "Seconds since the latest worker heartbeat (+Inf: never).",
        ),
        "scheduler": gauge(
            "syncjobs_scheduler_last_seen_age_seconds",
            "Seconds since the latest scheduler tick (+Inf: never).",
        ),
        "depth": gauge(
            "syncjobs_queue_depth", "Pending jobs (delayed and retrying included).", ["job_type"]
        ),
        "oldest": gauge(
            "syncjobs_oldest_pending_age_seconds",
            "Age of the oldest pending job, from its creation (0: none pending).",
            ["job_type"],
        ),
        "processing": gauge("syncjobs_jobs_processing", "Jobs running now.", ["job_type"]),
        "jobs": gauge("syncjobs_jobs", "Jobs in the ledger by status.", ["job_type", "status"]),
        "dead": gauge(
            "syncjobs_ledger_dead_letters", "Dead letters kept in the ledger.", ["job_type"]
        ),
    }


def _fill(families: dict[str, GaugeMetricFamily], report: Health, now: datetime) -> None:
    families["healthy"].add_metric([], 1 if report.healthy else 0)
    families["worker"].add_metric([], _age(report.worker_seen_at, now))
    families["scheduler"].add_metric([], _age(report.scheduler_seen_at, now))
    for job_type, counts in report.jobs.items():
        families["depth"].add_metric([job_type], counts[JobStatus.PENDING.value])
        families["oldest"].add_metric([job_type], counts["oldest_pending_age"] or 0.0)
        families["processing"].add_metric([job_type], counts[JobStatus.PROCESSING.value])
        families["dead"].add_metric([job_type], counts["dead_lettered"])
        for status in JobStatus:
            families["jobs"].add_metric([job_type, status.value], counts[status.value])


def _age(seen: datetime | None, now: datetime) -> float:
    return math.inf if seen is None else max(0.0, (now - seen).total_seconds())


def ledger_collector(app: JobApp) -> LedgerCollector:
    """The ledger's collector, for a host's own registry (``registry.register(...)``)."""
    require_prometheus()
    return LedgerCollector(app)


def scrape(app: JobApp, accept: str | None = None) -> tuple[bytes, str]:
    """Render the ledger's metrics: (body, content type), by the ``Accept`` header if given."""
    collector = ledger_collector(app)
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
