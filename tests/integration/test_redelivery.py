"""A dead worker's unacknowledged messages go back to their queues when a worker asks.

Real Redis, Dramatiq's own Redis broker with its random maintenance switched off, so only
``requeue_dead_workers`` can hand the messages back. (RabbitMQ does it by itself when the
connection closes: ``test_a_killed_workers_prefetched_messages_run_on_a_new_worker`` in
test_worker_process.py.)
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from syncjobs.core.redelivery import requeue_dead_workers

pytestmark = pytest.mark.integration


def make_broker(url: str, namespace: str) -> RedisBroker:
    broker = RedisBroker(  # type: ignore[no-untyped-call]
        url=url, namespace=namespace, heartbeat_timeout=20_000, maintenance_chance=0
    )
    dramatiq.actor(actor_name="t_work", queue_name="q", broker=broker)(lambda n: None)
    return broker


def fetch(broker: RedisBroker, count: int) -> list[Any]:
    """Up to ``count`` messages from queue ``q`` (a bounded number of polls)."""
    consumer = broker.consume("q", prefetch=count, timeout=100)
    got = []
    for _ in range(30):
        message = next(consumer)
        if message is not None:
            got.append(message)
        if len(got) == count:
            break
    return got


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def test_a_dead_workers_prefetched_messages_are_handed_back(
    redis_server: Any, namespace: str
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    dead = make_broker(redis_server.url, namespace)
    for n in range(3):
        dead.get_actor("t_work").send(n)
    held = fetch(dead, 3)  # fetched (prefetched or running), never acknowledged
    assert len(held) == 3
    # The worker is killed: its last broker heartbeat ages past the timeout.
    client.zadd(f"{namespace}:__heartbeats__", {dead.broker_id: 0})
    live = make_broker(redis_server.url, namespace)
    assert fetch(live, 3) == []  # Dramatiq's own maintenance is off: nothing came back
    assert requeue_dead_workers(live) == 1
    again = fetch(live, 3)
    assert sorted(m.args[0] for m in again) == [0, 1, 2]
    assert requeue_dead_workers(live) == 0  # the dead worker is forgotten once handled
    for broker in (dead, live):
        broker.close()


def test_a_busy_live_workers_messages_stay_with_it(redis_server: Any, namespace: str) -> None:
    busy = make_broker(redis_server.url, namespace)
    for n in range(2):
        busy.get_actor("t_work").send(n)
    assert len(fetch(busy, 2)) == 2
    other = make_broker(redis_server.url, namespace)
    # The busy worker's own pass keeps its heartbeat fresh while every thread is busy.
    requeue_dead_workers(busy)
    assert requeue_dead_workers(other) == 0
    assert fetch(other, 2) == []  # still the busy worker's, not queued again
    for broker in (busy, other):
        broker.close()


def test_brokers_without_unacknowledged_sets_need_nothing() -> None:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.brokers.stub import StubBroker

    assert requeue_dead_workers(StubBroker()) == 0
    # RabbitMQ hands a closed connection's messages back by itself: not even a connection
    # is opened (nothing listens on port 1).
    rabbit = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/%2F")
    dramatiq.actor(actor_name="t_work", queue_name="q", broker=rabbit)(lambda n: None)
    assert requeue_dead_workers(rabbit) == 0
    assert rabbit.connections == set()
