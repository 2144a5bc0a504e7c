"""Job priorities that reorder work: priority bands as queues, and the job's own priority.

A job's priority (1 highest … 10) picks one of three *bands* of its job type's queue:

============  =================  ============================
priority      band               Dramatiq queue (queue ``sync``)
============  =================  ============================
1 to 3        high               ``sync.high``
4 to 7        normal             ``sync``
8 to 10       low                ``sync.low``
============  =================  ============================

Every band is its own broker queue, so a job sent to ``sync.high`` is fetched by that queue's
consumer at once, however many messages wait in ``sync``: Redis lists and RabbitMQ queues are
FIFO, and Dramatiq runs one consumer per queue. Inside a worker process the message carries
the job's exact priority (the ``syncjobs_priority`` option) and the worker's work queue, which
Dramatiq orders by actor priority, orders syncjobs' messages by that instead (lower first;
equal priorities keep their arrival order). A band's name never ends with Dramatiq's ``.DQ``
or ``.XQ``, so delayed messages (``sync.high.DQ``) come back to their own band. See
docs/concepts.md ("Priorities") and docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import logging
from queue import PriorityQueue
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:  # the registry imports this module; Dramatiq loads only with a broker
    import dramatiq

__all__ = [
    "BANDS",
    "HIGH_BAND_POLL_MS",
    "PRIORITY_OPTION",
    "BandedWorkQueue",
    "band_of",
    "band_queues",
    "base_queue",
    "check_queue_name",
    "declare_bands",
    "job_message",
    "prepare_worker",
    "q_name",
    "queue_for",
    "resend",
    "send_job",
    "tune_consumer",
]

logger = logging.getLogger("syncjobs.worker")

#: The message option carrying the job's own priority (1 highest … 10).
PRIORITY_OPTION = "syncjobs_priority"
#: Each band: its queue-name suffix and the highest priority number it takes.
BANDS: tuple[tuple[str, str, int], ...] = (
    ("high", ".high", 3),
    ("normal", "", 7),
    ("low", ".low", 10),
)
#: The longest an idle high band's consumer waits between two polls of its queue, in ms
#: (Redis; Dramatiq's other consumers wait up to the worker timeout, 1 s by default).
HIGH_BAND_POLL_MS = 100
#: Dramatiq's suffixes of a queue's delay and dead-letter queues.
_DRAMATIQ_SUFFIXES = (".DQ", ".XQ")
#: Suffixes a job type's own queue may not end with: the bands' and Dramatiq's.
_RESERVED = tuple(suffix for _, suffix, _ in BANDS if suffix) + _DRAMATIQ_SUFFIXES


def q_name(queue_name: str) -> str:
    """The queue behind a delay or dead-letter queue's name, as Dramatiq computes it."""
    return queue_name[:-3] if queue_name.endswith(_DRAMATIQ_SUFFIXES) else queue_name


def band_of(priority: int) -> str:
    """The band (``high``, ``normal`` or ``low``) of a priority 1 … 10."""
    if not 1 <= priority <= 10:
        raise ConfigurationError(f"priority must be 1..10, got {priority}")
    return next(name for name, _, last in BANDS if priority <= last)


def queue_for(queue_name: str, priority: int) -> str:
    """The broker queue a job of ``queue_name`` with ``priority`` is sent to."""
    band = band_of(priority)
    return queue_name + next(suffix for name, suffix, _ in BANDS if name == band)


def band_queues(queue_name: str) -> list[str]:
    """The queues of every band of ``queue_name``, highest band first."""
    return [queue_name + suffix for _, suffix, _ in BANDS]


def base_queue(queue_name: str) -> str:
    """The job type's queue behind a band's (or a band's delay queue's) name."""
    name = q_name(queue_name)
    for _, suffix, _ in BANDS:
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_queue_name(queue: str) -> None:
    """Refuse a job type's queue name that a band or Dramatiq's delay queues would clash with."""
    if queue.endswith(_RESERVED):
        raise ConfigurationError(
            f"invalid queue name {queue!r}: names ending with {', '.join(_RESERVED)} are "
            "reserved for priority bands and Dramatiq's delay and dead-letter queues"
        )


def declare_bands(broker: dramatiq.Broker, queue_name: str) -> None:
    """Declare the band queues of ``queue_name`` (the actor declares the normal one)."""
    for name in band_queues(queue_name):
        broker.declare_queue(name)


def job_message(
    actor: dramatiq.Actor[Any, Any], job_id: str, priority: int
) -> dramatiq.Message[Any]:
    """The message of job ``job_id``, on its priority's band and carrying that priority."""
    options: dict[str, Any] = {PRIORITY_OPTION: priority}
    message = actor.message_with_options(args=(job_id,), **options)
    return message.copy(queue_name=queue_for(actor.queue_name, priority))


def send_job(
    actor: dramatiq.Actor[Any, Any], job_id: str, priority: int, delay_ms: int | None
) -> dramatiq.Message[Any]:
    """Send the message of job ``job_id`` to its priority's band of the actor's queue."""
    return actor.broker.enqueue(job_message(actor, job_id, priority), delay=delay_ms or None)


def resend(broker: dramatiq.Broker, message: Any, delay_ms: int) -> dramatiq.Message[Any]:
    """Send a delivered message's job again later, to the band it came from."""
    actor = broker.get_actor(message.actor_name)
    priority = _priority(message)
    options: dict[str, Any] = {} if priority is None else {PRIORITY_OPTION: priority}
    again = actor.message_with_options(args=tuple(message.args), **options)
    again = again.copy(queue_name=q_name(message.queue_name))
    return broker.enqueue(again, delay=delay_ms)


def _priority(message: Any) -> int | None:
    """The job priority a message carries, if it carries a valid one."""
    options = getattr(message, "options", None)
    value = options.get(PRIORITY_OPTION) if isinstance(options, dict) else None
    return value if isinstance(value, int) and 1 <= value <= 10 else None


class BandedWorkQueue(PriorityQueue[Any]):
    """A worker's work queue that orders syncjobs' messages by the job's own priority.

    Dramatiq's consumers put each fetched message in with its actor's priority; a message
    that carries a job priority is put in with that priority instead. Ties keep arrival order.
    """

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` in, ranked by the job priority its message carries, if any."""
        priority = _priority(getattr(item, "message", None))
        if priority is not None and dataclasses.is_dataclass(item) and hasattr(item, "priority"):
            item = dataclasses.replace(item, priority=priority)  # type: ignore[type-var]
        super().put(item, block, timeout)


def prepare_worker(worker: Any) -> None:
    """Before a worker boots: widen ``--queues`` to the bands, rank work by job priority.

    A worker started with ``--queues sync`` also consumes ``sync.high`` and ``sync.low``; one
    started with ``--queues sync.high`` consumes only that band.
    """
    allowed = getattr(worker, "consumer_whitelist", None)
    if isinstance(allowed, set) and allowed:
        for name in sorted(allowed):
            if base_queue(name) == name:
                allowed.update(band_queues(name))
    current = getattr(worker, "work_queue", None)
    if type(current) is PriorityQueue and current.empty():
        worker.work_queue = BandedWorkQueue()
    elif not isinstance(current, BandedWorkQueue):
        logger.warning(
            "this Dramatiq worker's work queue is not the one syncjobs knows; jobs are ordered "
            "by priority band, and by their type's priority inside the worker"
        )


def tune_consumer(thread: Any, queues: set[str]) -> None:
    """Make the consumer of the high band of one of ``queues`` poll often while idle.

    Dramatiq's Redis consumer backs off to half to all of the worker timeout between polls of
    an empty queue; the high band is empty most of the time, and its next job is urgent.
    """
    name = getattr(thread, "queue_name", None)
    timeout = getattr(thread, "worker_timeout", None)
    if not isinstance(name, str) or not isinstance(timeout, int):
        return
    if name in {queue_for(queue, 1) for queue in queues}:
        thread.worker_timeout = min(timeout, HIGH_BAND_POLL_MS)
