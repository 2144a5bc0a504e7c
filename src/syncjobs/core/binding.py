"""The Dramatiq side of an app: one actor per job type, the minute tick, and the middleware.

``bind_actors(app)`` declares an actor for every registered job type on ``app.broker``,
declares the tick (the beat ``periodiq syncjobs.actors`` sends every minute), adds the
``TrackingMiddleware`` and gives the app its ``Sender``.

Actor names carry ``settings.actor_prefix`` (``syncjobs.``): job type ``sync_account`` runs as
actor ``syncjobs.sync_account``, a job type already named ``syncjobs.count`` keeps its name,
and the tick is ``syncjobs.tick``. Binding is all or nothing: a name another actor of the
broker already holds is refused before anything is declared, and a failure half-way puts the
broker back as it was. Binding a broker a second time replaces the earlier binding (its actors
and middleware) instead of adding a second one. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from .pipeline import enqueue_many
from .priority import declare_bands, job_message, send_job
from .registry import JobType
from .scheduling import Scheduler

__all__ = [
    "EXPECTED",
    "LATE_TICK_SECONDS",
    "TICK_ACTOR",
    "ActorBinding",
    "actor_name",
    "bind_actors",
]

#: The tick's name before the prefix; each tick runs the scheduler once.
TICK_ACTOR = "syncjobs.tick"
#: Late ticks are safe (slots are claimed in the ledger), so periodiq never skips them.
LATE_TICK_SECONDS = 7 * 24 * 3600
#: Ends of an attempt that are not failures: Dramatiq logs them at INFO, error reporters skip
#: them (a cancellation, and waiting out a provider's rate limit without spending a retry).
EXPECTED = (JobCancelledError, RateLimitedError)
#: The broker's collections that declaring an actor may add a queue to.
_QUEUE_SETS = ("queues", "delay_queues", "queues_pending")


def actor_name(name: str, prefix: str) -> str:
    """The Dramatiq actor name of job type ``name``: ``prefix`` + name, unless it has it."""
    return name if name.startswith(prefix) else prefix + name


class ActorBinding:
    """The actors of one app on its broker; the app sends its jobs through it."""

    def __init__(self, app: JobApp) -> None:
        self.app = app
        self.broker: dramatiq.Broker = app.broker
        self.prefix = app.settings.actor_prefix
        #: The name of this app's minute tick actor.
        self.tick_actor = actor_name(TICK_ACTOR, self.prefix)
        self._actors: dict[str, dramatiq.Actor[Any, Any]] = {}
        self.middleware = TrackingMiddleware(app)

    def actor_name(self, job_type: str) -> str:
        """The Dramatiq actor name that runs jobs of type ``job_type``."""
        return actor_name(job_type, self.prefix)

    def declare_all(self) -> None:
        """Replace any earlier binding of the broker with this one: all of it, or none."""
        earlier = [m for m in self.broker.middleware if isinstance(m, TrackingMiddleware)]
        self._check_names(earlier)
        saved = _BrokerState(self.broker)
        try:
            for middleware in earlier:
                _unbind(self.broker, middleware)
            _add_before_retries(self.broker, self.middleware)
            for jt in self.app.registry:
                self.declare(jt)
            self._declare_tick()
        except BaseException as exc:
            saved.restore()
            self._actors.clear()
            self.middleware.job_types.clear()
            if isinstance(exc, ValueError):  # Dramatiq's word for a clash or a bad option
                raise ConfigurationError(f"cannot bind syncjobs' actors: {exc}") from exc
            raise

    def _check_names(self, earlier: list[TrackingMiddleware]) -> None:
        """Refuse actor names that clash, before anything is declared."""
        owners: dict[str, str] = {self.tick_actor: "the minute tick"}
        for jt in self.app.registry:
            name = self.actor_name(jt.name)
            if name in owners:
                raise ConfigurationError(
                    f"job type {jt.name!r} would run as actor {name!r}, like {owners[name]}; "
                    "rename it, or set SYNCJOBS_ACTOR_PREFIX"
                )
            owners[name] = f"job type {jt.name!r}"
        replaced: set[str] = set()
        for middleware in earlier:
            replaced |= _names(middleware)
        for name in sorted(owners):
            if name in self.broker.actors and name not in replaced:
                raise ConfigurationError(_clash(name, owners[name]))

    def declare(self, jt: JobType) -> dramatiq.Actor[Any, Any]:
        """Declare (once) the actor that runs jobs of type ``jt``."""
        known = self._actors.get(jt.name)
        if known is not None:
            return known
        name = self.actor_name(jt.name)
        if name in self.broker.actors:
            raise ConfigurationError(_clash(name, f"job type {jt.name!r}"))

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

        run.__name__ = run.__qualname__ = name.replace(".", "_").replace(":", "_")
        time_limit = jt.time_limit or self.app.settings.default_time_limit
        actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=name,
            queue_name=jt.queue,
            priority=jt.priority,
            broker=self.broker,
            max_retries=0,  # the ledger retries; Dramatiq never re-sends a syncjobs message
            throws=EXPECTED,
            time_limit=int(time_limit * 1000),
        )(run)
        declare_bands(self.broker, jt.queue)
        self._actors[jt.name] = actor
        self.middleware.job_types[name] = jt
        return actor

    def actor(self, job_type: str) -> dramatiq.Actor[Any, Any]:
        """Return (declaring if needed) the Dramatiq actor of a job type."""
        return self.declare(self.app.registry.get(job_type))

    def send(self, job: Job, *, delay_ms: int | None = None) -> None:
        """Hand a ledger job to the broker, on its priority's band of its queue."""
        send_job(self.actor(job.job_type), job.id, job.priority, delay_ms)

    def send_many(self, jobs: Sequence[tuple[Job, int | None]]) -> None:
        """Hand many ledger jobs to the broker at once (one pipeline per chunk on Redis)."""
        actors = {name: self.actor(name) for name in {job.job_type for job, _ in jobs}}
        items = [
            (job_message(actors[job.job_type], job.id, job.priority), delay or None)
            for job, delay in jobs
        ]
        enqueue_many(self.broker, items)

    def _declare_tick(self) -> None:
        """Declare the minute beat ``periodiq syncjobs.actors`` sends."""
        from periodiq import PeriodiqMiddleware, cron  # loaded only when binding a broker

        if not any("periodic" in m.actor_options for m in self.broker.middleware):
            self.broker.add_middleware(PeriodiqMiddleware(skip_delay=LATE_TICK_SECONDS))
        app = self.app

        def tick() -> None:
            """Fire the schedules due now."""
            Scheduler(app).tick(utcnow())

        dramatiq.actor(
            actor_name=self.tick_actor,
            queue_name="syncjobs",
            broker=self.broker,
            max_retries=0,
            periodic=cron("* * * * *"),
        )(tick)


class _BrokerState:
    """What binding changes on a broker, saved so that a failed binding can undo it."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        self.actors = dict(broker.actors)
        self.middleware = list(broker.middleware)
        self.actor_options = set(broker.actor_options)
        self.queues = {
            attr: getattr(broker, attr).copy()
            for attr in _QUEUE_SETS
            if isinstance(getattr(broker, attr, None), set | dict)
        }

    def restore(self) -> None:
        """Put the actors, middleware, actor options and declared queues back."""
        broker = self.broker
        broker.actors.clear()
        broker.actors.update(self.actors)
        broker.middleware[:] = self.middleware
        broker.actor_options.clear()
        broker.actor_options.update(self.actor_options)
        for attr, saved in self.queues.items():
            current = getattr(broker, attr)
            current.clear()
            current.update(saved)


def _names(middleware: TrackingMiddleware) -> set[str]:
    """The actor names an earlier binding declared: its job types' and its tick."""
    return {*middleware.job_types, actor_name(TICK_ACTOR, middleware.app.settings.actor_prefix)}


def _unbind(broker: dramatiq.Broker, middleware: TrackingMiddleware) -> None:
    """Take an earlier binding's actors and middleware off the broker."""
    for name in _names(middleware):
        broker.actors.pop(name, None)
    broker.middleware.remove(middleware)


def _clash(name: str, wanted_by: str) -> str:
    return (
        f"an actor named {name!r} is already registered on this broker, so {wanted_by} cannot "
        "use that name; rename your actor, or set SYNCJOBS_ACTOR_PREFIX"
    )


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


def _add_before_retries(broker: dramatiq.Broker, middleware: TrackingMiddleware) -> None:
    """Add the tracking middleware just before Dramatiq's retries middleware, if there is one.

    Dramatiq calls the after-hooks last-added first, so placed there the tracking middleware
    sees what the retries middleware decided (see ``TrackingMiddleware``).
    """
    if any(isinstance(m, Retries) for m in broker.middleware):
        broker.add_middleware(middleware, before=Retries)
    else:
        broker.add_middleware(middleware)
