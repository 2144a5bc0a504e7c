"""Many Dramatiq messages at once: Redis pipelines, or one enqueue per message elsewhere.

On the Redis broker each message costs what the broker's own enqueue does (a fresh
``redis_message_id``, the delay queue and ``eta`` for a delayed one, the broker middleware's
``before_enqueue`` and ``after_enqueue``), but the writes go in pipelines of ``CHUNK``
messages: ``HSET <ns>:<queue>.msgs id data`` + ``RPUSH <ns>:<queue> id`` each, exactly what the
broker's enqueue script runs, one round trip per chunk instead of one per message. The
middleware hooks are called as ``Broker.emit_before``/``emit_after`` call them, skipping the
middleware that do not override them. RabbitMQ
and the in-memory stub broker get one ``enqueue`` per message (no batching there).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.common import current_millis, dq_name
from dramatiq.middleware import Middleware, MiddlewareError

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
    before, after = _hooks(broker, "before_enqueue"), _hooks(broker, "after_enqueue")
    sent = []
    for original, delay in items:
        redis_id = str(uuid.uuid4())
        queue = original.queue_name
        options = {**original.options, "redis_message_id": redis_id}
        if delay is not None:
            queue = dq_name(queue)
            options["eta"] = current_millis() + delay
        message = dataclasses.replace(original, queue_name=queue, options=options)
        for hook in before:
            _call(broker, hook, message, delay, reraise=MiddlewareError)
        pipe.hset(f"{broker.namespace}:{queue}.msgs", redis_id, message.encode())
        pipe.rpush(f"{broker.namespace}:{queue}", redis_id)
        sent.append((message, delay))
    pipe.execute()
    for message, delay in sent:
        for hook in after:
            _call(broker, hook, message, delay, reraise=None)


def _hooks(broker: dramatiq.Broker, signal: str) -> list[Callable[..., None]]:
    """The middleware methods ``broker.emit_*(signal)`` would call that do something.

    Dramatiq calls every middleware's method, in order (``after_*`` in reverse); the base
    class's are no-ops, so only the overridden ones are kept, in the same order.
    """
    ordered = broker.middleware if signal.startswith("before_") else reversed(broker.middleware)
    base = getattr(Middleware, signal)
    return [getattr(m, signal) for m in ordered if getattr(type(m), signal, base) is not base]


def _call(
    broker: Any,
    hook: Callable[..., None],
    message: dramatiq.Message[Any],
    delay: int | None,
    reraise: type[Exception] | None,
) -> None:
    """Call one hook as ``Broker.emit_*`` does: its errors are logged, not raised."""
    try:
        hook(broker, message, delay)
    except Exception as exc:
        if reraise is not None and isinstance(exc, reraise):
            raise
        broker.logger.critical("Unexpected failure in %r.", hook, exc_info=True)
