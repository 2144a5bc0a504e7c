"""``WorkerMetrics``: the Dramatiq middleware that counts a worker's jobs for Prometheus.

It listens to the app's public signals instead of deciding anything itself: the job a
delivery claimed is the thread's current context (``core.context``), the tracking middleware
tells ``app.outcome_hooks`` how each delivery ended, ``app.dead_letter_hooks`` every dead
letter, and the ``Accounts`` hooks what each sync cost and stored. Labels are the job type,
the outcome and the provider, never an owner or a job id, so the series stay few.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.middleware import Middleware

from ..connections.service import Accounts, ItemChanges, ProviderUsage
from ..core.app import JobApp
from ..core.context import current_context
from ..core.middleware import TrackingMiddleware
from ..core.models import Job
from ..errors import ConfigurationError
from . import multiproc
from ._prom import require_prometheus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["DURATION_BUCKETS", "WorkerMetrics", "install"]

logger = logging.getLogger("syncjobs.metrics")

#: Buckets of ``syncjobs_job_duration_seconds``: from a quick job to a long sync.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class _Series:
    """The worker's metric objects, registered in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        def counter(name: str, doc: str, labels: list[str]) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        self.started = counter("syncjobs_jobs_started", "Attempts claimed and run.", ["job_type"])
        self.finished = counter(
            "syncjobs_jobs_finished",
            "Deliveries of a job by how they ended (see docs/metrics.md).",
            ["job_type", "outcome"],
        )
        self.retries = counter(
            "syncjobs_job_retries", "Failed attempts sent again after a backoff.", ["job_type"]
        )
        self.dead_letters = counter(
            "syncjobs_dead_letters", "Jobs that failed for good.", ["job_type"]
        )
        self.api_calls = counter(
            "syncjobs_provider_api_calls", "Provider API calls of syncs.", ["provider"]
        )
        self.quota_units = counter(
            "syncjobs_provider_quota_units", "Provider quota units syncs spent.", ["provider"]
        )
        self.items = counter(
            "syncjobs_synced_items",
            "Items syncs stored, by change (added, updated, deleted).",
            ["provider", "change"],
        )
        self.duration = Histogram(
            "syncjobs_job_duration_seconds",
            "Seconds from claiming an attempt to recording its outcome.",
            ["job_type", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.running = Gauge(
            "syncjobs_jobs_running",
            "Attempts running now.",
            ["job_type"],
            registry=registry,
            multiprocess_mode="livesum",
        )


class WorkerMetrics(Middleware):
    """Counts the jobs a worker process runs, and what its syncs cost and stored."""

    def __init__(self, app: JobApp, *, shared_dir: Path | None = None) -> None:
        from prometheus_client import CollectorRegistry

        self.app = app
        #: The multi-process directory (``dramatiq`` with an exporter), or None: one process.
        self.shared_dir = shared_dir
        #: Where this process's series live; render it with ``prometheus_client``.
        self.registry = CollectorRegistry()
        self.series = _Series(self.registry)
        self._local = threading.local()

    @property
    def forks(self) -> list[Any]:
        """The exporter process dramatiq's main process starts, with a shared directory."""
        return [multiproc.serve] if self.shared_dir is not None else []

    # -- subscribing ----------------------------------------------------------------------
    def attach(self) -> None:
        """Subscribe to the app's outcome and dead-letter hooks and the accounts' hooks."""
        self.app.outcome_hooks.append(self.on_outcome)
        self.app.dead_letter_hooks.append(self.on_dead_letter)
        accounts = self._accounts()
        if accounts is not None:
            accounts.usage_hooks.append(self.on_usage)
            accounts.items_hooks.append(self.on_items)

    def detach(self) -> None:
        """Undo ``attach``."""
        _discard(self.app.outcome_hooks, self.on_outcome)
        _discard(self.app.dead_letter_hooks, self.on_dead_letter)
        accounts = self._accounts()
        if accounts is not None:
            _discard(accounts.usage_hooks, self.on_usage)
            _discard(accounts.items_hooks, self.on_items)

    def _accounts(self) -> Accounts | None:
        try:
            return self.app.extension(Accounts)
        except ConfigurationError:  # a bare job core: no syncs to count
            return None

    # -- Dramatiq -------------------------------------------------------------------------
    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        """Count an attempt the tracking middleware claimed (it runs before this one)."""
        ctx = current_context()
        if ctx is None or not message.args or ctx.job_id != str(message.args[0]):
            return
        try:
            self._end_running()  # an attempt whose outcome could not be recorded
            job_type = ctx.job.job_type
            self.series.started.labels(job_type).inc()
            self.series.running.labels(job_type).inc()
            self._local.attempt = (ctx.job_id, job_type, time.monotonic())
        except Exception:  # counting never stops a job
            logger.exception("could not count the start of job %s", ctx.job_id)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Drop this process's live gauges from the shared directory."""
        if self.shared_dir is not None:
            multiproc.mark_dead(self.shared_dir)

    # -- hooks ----------------------------------------------------------------------------
    def on_outcome(self, job_type: str, outcome: str, job: Job | None) -> None:
        """Count how a delivery ended; time the attempt if this thread claimed it."""
        self.series.finished.labels(job_type, outcome).inc()
        if outcome == "retried":
            self.series.retries.labels(job_type).inc()
        attempt = getattr(self._local, "attempt", None)
        if job is None or attempt is None or attempt[0] != job.id:
            return
        self._local.attempt = None
        self.series.running.labels(job_type).dec()
        self.series.duration.labels(job_type, outcome).observe(time.monotonic() - attempt[2])

    def _end_running(self) -> None:
        attempt = getattr(self._local, "attempt", None)
        if attempt is not None:
            self._local.attempt = None
            self.series.running.labels(attempt[1]).dec()

    def on_dead_letter(self, job: Job) -> None:
        """Count a job that failed for good."""
        self.series.dead_letters.labels(job.job_type).inc()

    def on_usage(self, usage: ProviderUsage) -> None:
        """Count what a sync cost at its provider."""
        self.series.api_calls.labels(usage.provider).inc(usage.api_calls)
        self.series.quota_units.labels(usage.provider).inc(usage.quota_units)

    def on_items(self, changes: ItemChanges) -> None:
        """Count what a stored page changed."""
        for change in ("added", "updated", "deleted"):
            n = getattr(changes, change)
            if n:
                self.series.items.labels(changes.provider, change).inc(n)


def _discard(hooks: list[Any], hook: Any) -> None:
    """Remove ``hook`` (a bound method: compared by equality) from ``hooks`` if it is there."""
    if hook in hooks:
        hooks.remove(hook)


def _app_of(target: JobApp | dramatiq.Broker) -> JobApp:
    if isinstance(target, JobApp):
        return target
    if isinstance(target, dramatiq.Broker):
        for middleware in target.middleware:
            if isinstance(middleware, TrackingMiddleware):
                return middleware.app
        raise ConfigurationError(
            "syncjobs is not bound to this broker: call register_actors (or create_app) first"
        )
    raise ConfigurationError(
        f"install() takes a syncjobs app or a bound Dramatiq broker, not {type(target).__name__}"
    )


def install(
    target: JobApp | dramatiq.Broker, *, port: int | None = None, host: str | None = None
) -> WorkerMetrics:
    """Add worker metrics to a bound broker (replacing earlier ones); return the middleware.

    With a ``port`` (default ``settings.metrics_port``), the processes of ``dramatiq`` share
    their counts and its main process serves them on ``host:port`` (default
    ``settings.metrics_host``). Without one, the counts stay in ``middleware.registry`` for
    the host to expose. Call it after binding, in the worker process (at import, like
    ``syncjobs.actors``), before its workers start; binding the broker again needs a new call.
    """
    app = _app_of(target)
    port = app.settings.metrics_port if port is None else port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"the metrics port must be an integer 0..65535, got {port!r}")
    require_prometheus()
    shared = multiproc.prepare(host or app.settings.metrics_host, port) if port else None
    middleware = WorkerMetrics(app, shared_dir=shared)
    broker = app.broker
    for earlier in [m for m in broker.middleware if isinstance(m, WorkerMetrics)]:
        earlier.detach()
        broker.middleware.remove(earlier)
    broker.add_middleware(middleware)  # last: its before-hook runs after the claim
    middleware.attach()
    return middleware
