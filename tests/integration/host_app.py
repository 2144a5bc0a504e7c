"""A host application's worker module, as docs/using-in-your-app.md ("Your broker") shows it.

``dramatiq tests.integration.host_app syncjobs.actors`` or, with ``HOST_BINDS_SYNCJOBS`` set,
``dramatiq tests.integration.host_app`` alone. It builds its own broker (Redis or RabbitMQ,
from ``HOST_BROKER_URL``), adds its own middleware, makes the broker Dramatiq's global one and
declares its own actor named ``sync_account``. Then syncjobs binds to the same broker:
``syncjobs.actors``, loaded after it, finds the global broker; or this module calls
``syncjobs.create_app(broker=broker)`` itself. What ran is appended to ``HOST_RECORD``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

import syncjobs

_lock = threading.Lock()


def record(line: str) -> None:
    with _lock, open(os.environ["HOST_RECORD"], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def build_broker(url: str) -> dramatiq.Broker:
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, confirm_delivery=True)
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(url=url, heartbeat_timeout=20_000)  # type: ignore[no-untyped-call]


class Recorder(Middleware):
    """The host's own middleware: sees every message the worker processed, syncjobs' too."""

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        record(f"middleware saw {message.actor_name}")


broker = build_broker(os.environ["HOST_BROKER_URL"])
broker.add_middleware(Recorder())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="host")
def sync_account(user_id: str) -> None:
    """The host's own ``sync_account``, nothing to do with syncjobs' job type of that name."""
    record(f"host sync_account {user_id}")


if os.environ.get("HOST_BINDS_SYNCJOBS"):
    jobs = syncjobs.create_app(broker=broker)
