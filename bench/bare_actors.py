"""Bare Dramatiq no-op actor on the same Redis: the baseline the tracked jobs are held to."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ["SYNCJOBS_BROKER_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bare", max_retries=0)
def bare_noop() -> None:
    """Do nothing."""
