"""The Dramatiq side of an app: one actor per job type, the minute tick, and the middleware.

``bind_actors(app)`` declares an actor for every registered job type on ``app.broker``,
declares ``syncjobs.tick`` (the beat ``periodiq syncjobs.actors`` sends every minute), adds
the ``TrackingMiddleware`` and gives the app its ``Sender``. See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Retries
from pydantic import ValidationError

from ..clock import utcnow
from ..errors import ConfigurationError, InvalidInputError, JobCancelledError, RateLimitedError
from .app import JobApp
from .context import JobContext, Outcome, current_context, skipped_job
from .middleware import TrackingMiddleware
from .models import Job
from .registry import JobType
from .scheduling import Scheduler

__all__ = ["EXPECTED", "LATE_TICK_SECONDS", "TICK_ACTOR", "ActorBinding", "bind_actors"]

#: The actor periodiq sends every minute; each tick runs the scheduler once.
TICK_ACTOR = "syncjobs.tick"
#: Late ticks are safe (slots are claimed in the ledger), so periodiq never skips them.
LATE_TICK_SECONDS = 7 * 24 * 3600
#: Ends of an attempt that are not failures: Dramatiq logs them at INFO, error reporters skip
#: them (a cancellation, and waiting out a provider's rate limit without spending a retry).
EXPECTED = (JobCancelledError, RateLimitedError)


class ActorBinding:
    """The actors of one app on its broker; the app sends its jobs through it."""

    def __init__(self, app: JobApp) -> None:
        self.app = app
        self.broker: dramatiq.Broker = app.broker
        self._actors: dict[str, dramatiq.Actor[Any, Any]] = {}
        self.middleware = TrackingMiddleware(app)

    def declare_all(self) -> None:
        """Add the middleware, then declare every registered job type and the tick."""
        # Dramatiq calls the after-hooks last-added first: placed before its retries middleware,
        # the tracking middleware sees what that one decided (see TrackingMiddleware).
        retries = [m for m in self.broker.middleware if isinstance(m, Retries)]
        if retries:
            self.broker.add_middleware(self.middleware, before=Retries)
        else:
            self.broker.add_middleware(self.middleware)
        for jt in self.app.registry:
            self.declare(jt)
        self._declare_tick()

    def declare(self, jt: JobType) -> dramatiq.Actor[Any, Any]:
        """Declare (once) the actor that runs jobs of type ``jt``."""
        known = self._actors.get(jt.name)
        if known is not None:
            return known

        def run(job_id: str) -> None:
            ctx = current_context()
            if ctx is None and skipped_job() == job_id:
                return  # a duplicate delivery the middleware logged and let through
            if ctx is None or ctx.job_id != job_id:
                raise ConfigurationError("a syncjobs actor ran without its tracking middleware")
            ctx.outcome = run_body(jt, ctx)
            if ctx.outcome.error is not None:
                # Raised through Dramatiq, so the host's middleware (error reporting, metrics,
                # logging) sees every failed attempt; the ledger still owns retries.
                raise ctx.outcome.error

        run.__name__ = run.__qualname__ = jt.name.replace(".", "_").replace(":", "_")
        time_limit = jt.time_limit or self.app.settings.default_time_limit
        actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=jt.name,
            queue_name=jt.queue,
            priority=jt.priority,
            broker=self.broker,
            max_retries=0,  # the ledger retries; Dramatiq never re-sends a syncjobs message
            throws=EXPECTED,
            time_limit=int(time_limit * 1000),
        )(run)
        self._actors[jt.name] = actor
        self.middleware.job_types[jt.name] = jt
        return actor

    def actor(self, job_type: str) -> dramatiq.Actor[Any, Any]:
        """Return (declaring if needed) the Dramatiq actor of a job type."""
        return self.declare(self.app.registry.get(job_type))

    def send(self, job: Job, *, delay_ms: int | None = None) -> None:
        """Hand a ledger job to the broker."""
        self.actor(job.job_type).send_with_options(args=(job.id,), delay=delay_ms or None)

    def _declare_tick(self) -> None:
        """Declare ``syncjobs.tick``, the minute beat ``periodiq syncjobs.actors`` sends."""
        from periodiq import PeriodiqMiddleware, cron  # loaded only when binding a broker

        if TICK_ACTOR in self.broker.actors:
            return
        if not any("periodic" in m.actor_options for m in self.broker.middleware):
            self.broker.add_middleware(PeriodiqMiddleware(skip_delay=LATE_TICK_SECONDS))
        app = self.app

        def tick() -> None:
            """Fire the schedules due now."""
            Scheduler(app).tick(utcnow())

        dramatiq.actor(
            actor_name=TICK_ACTOR,
            queue_name="syncjobs",
            broker=self.broker,
            max_retries=0,
            periodic=cron("* * * * *"),
        )(tick)


def bind_actors(app: JobApp) -> ActorBinding:
    """Declare ``app``'s actors on its broker and make the binding the app's sender."""
    binding = ActorBinding(app)
    binding.declare_all()
    app.sender = binding
    return binding


def run_body(jt: JobType, ctx: JobContext) -> Outcome:
    """Run a job body with its validated params; return its value or the exception it raised."""
    try:
        params = jt.params.model_validate(ctx.job.params)
    except ValidationError as exc:
        return Outcome(error=InvalidInputError(f"stored params no longer validate: {exc}"))
    try:
        return Outcome(value=jt.func(ctx, params))
    except Exception as exc:
        return Outcome(error=exc)
    except dramatiq.middleware.Interrupt as exc:  # time limit, shutdown
        return Outcome(error=exc)
