"""Many Dramatiq messages at once: Redis pipelines, or one enqueue per message elsewhere.

On the Redis broker each message costs what the broker's own enqueue does (a fresh
``redis_message_id``, the delay queue and ``eta`` for a delayed one, the broker middleware's
``before_enqueue`` and ``after_enqueue``), but the writes go in pipelines of ``CHUNK``
messages: ``HSET <ns>:<queue>.msgs id data`` + ``RPUSH <ns>:<queue> id`` each, exactly what the
broker's enqueue script runs, one round trip per chunk instead of one per message. RabbitMQ
and the in-memory stub broker get one ``enqueue`` per message (no batching there).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
from dramatiq.common import current_millis, dq_name

__all__ = ["CHUNK", "enqueue_many"]

#: Messages per Redis pipeline round trip.
CHUNK = 1000


def enqueue_many(
    broker: dramatiq.Broker, items: Sequence[tuple[dramatiq.Message[Any], int | None]]
) -> None:
    """Enqueue each (message, delay in ms or None) on ``broker``; pipelined on Redis."""
    if not _is_redis(broker):
        for message, delay in items:
            broker.enqueue(message, delay=delay)
        return
    for start in range(0, len(items), CHUNK):
        _pipelined(broker, items[start : start + CHUNK])


def _is_redis(broker: dramatiq.Broker) -> bool:
    try:
        from dramatiq.brokers.redis import RedisBroker
    except ImportError:  # the redis extra is not installed
        return False
    return isinstance(broker, RedisBroker)


def _pipelined(broker: Any, items: Sequence[tuple[dramatiq.Message[Any], int | None]]) -> None:
    """One pipeline for ``items``, with the broker middleware's hooks around it."""
    pipe = broker.client.pipeline(transaction=False)
    sent = []
    for original, delay in items:
        message = original.copy(options={"redis_message_id": str(uuid.uuid4())})
        queue = message.queue_name
        if delay is not None:
            queue = dq_name(queue)
            message = message.copy(queue_name=queue, options={"eta": current_millis() + delay})
        broker.emit_before("enqueue", message, delay)
        redis_id = message.options["redis_message_id"]
        pipe.hset(f"{broker.namespace}:{queue}.msgs", redis_id, message.encode())
        pipe.rpush(f"{broker.namespace}:{queue}", redis_id)
        sent.append((message, delay))
    pipe.execute()
    for message, delay in sent:
        broker.emit_after("enqueue", message, delay)
