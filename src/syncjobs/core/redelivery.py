"""Hand the messages of dead workers back to their queues now, not by chance.

Dramatiq's Redis broker keeps each message a worker fetched (running, or prefetched and not
yet started) in that worker's set of unacknowledged messages. Its queue maintenance moves the
sets of workers silent for longer than the broker's heartbeat timeout back to their queues,
but only on a random 0.1 % of broker commands per queue, so after a crash they can wait many
minutes. Every worker process runs ``requeue_dead_workers`` from its heartbeat thread, which
also keeps the process's own broker heartbeat fresh while all its threads are busy.

Brokers other than Redis keep no such sets (the in-memory broker lives and dies with its
process; RabbitMQ returns a closed connection's unacknowledged messages by itself).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq

__all__ = ["requeue_dead_workers"]

logger = logging.getLogger("syncjobs.upkeep")

#: The most message ids the broker's maintenance unpacks in one Lua call (dead messages).
_MAX_UNPACK = 4000


def requeue_dead_workers(broker: dramatiq.Broker) -> int:
    """Run the Redis broker's maintenance on every queue now; return the dead workers found."""
    script = getattr(broker, "scripts", {}).get("dispatch")
    client = getattr(broker, "client", None)
    if script is None or client is None:
        return 0
    now = int(time.time() * 1000)
    timeout = int(broker.heartbeat_timeout)  # type: ignore[attr-defined]
    beats = f"{broker.namespace}:__heartbeats__"  # type: ignore[attr-defined]
    dead = int(client.zcount(beats, 0, now - timeout))
    queues = broker.get_declared_queues() | broker.get_declared_delay_queues()
    for queue in sorted(queues):
        _maintain(broker, script, queue, now, timeout)
    if dead:
        logger.info("handed the unacknowledged messages of %d dead worker(s) back", dead)
    return dead


def _maintain(broker: Any, script: Any, queue: str, now: int, timeout: int) -> None:
    """One dispatch call of the broker's own script, with its maintenance switched on."""
    args = [
        "qsize",  # the cheapest command; its answer is not needed
        now,
        queue,
        broker.broker_id,  # also this process's broker heartbeat
        timeout,
        broker.dead_message_ttl,
        1,  # do the maintenance
        _MAX_UNPACK,
    ]
    script(args=args, keys=[broker.namespace])
