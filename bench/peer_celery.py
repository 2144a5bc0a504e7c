"""Celery app of bench/peers.py: one no-op task, Redis broker, SQLAlchemy result backend.

Workers: ``python -m celery -A bench.peer_celery worker --pool prefork --concurrency 16
--prefetch-multiplier 2 -Q peers`` (see bench/peers.py for why prefork and which sizes).
``BENCH_CELERY_TRACK_STARTED=1`` (the default) also records STARTED in the result table
before SUCCESS (a status kept while the task runs, not only once it is done).
"""

from __future__ import annotations

import os

from celery import Celery

app = Celery(
    "bench_peers",
    broker=os.environ["BENCH_REDIS_URL"],
    backend="db+" + os.environ["BENCH_PG_URL"],  # db+postgresql+psycopg://…
)
app.conf.update(
    task_default_queue="peers",
    task_track_started=os.environ.get("BENCH_CELERY_TRACK_STARTED", "1") == "1",
    task_ignore_result=False,
    worker_prefetch_multiplier=2,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_extended=False,
)


@app.task(name="peer_noop")
def noop() -> None:
    """Do nothing."""
