"""A host job type for the recovery fault test: it runs for a known time, then records its effect.

The worker processes import this module through ``SYNCJOBS_IMPORTS`` (``tests.faults.
timed_jobs``). ``faults.timed`` sleeps ``seconds`` in small steps (reporting progress and
checking for cancellation between them), then records its effect in Redis (the broker's
server, under its own keys): one count per job id, so a lost or doubled effect shows. Every
run also appends ``start`` and ``end`` lines to a log, with the attempt, the worker's process
group (what the test kills) and the wall time, so the test can tell a re-run after a kill
from two runs of one job at once.
"""

from __future__ import annotations

import json
import os
import time

import redis
from pydantic import BaseModel, Field

from syncjobs import JobContext, job_type

__all__ = ["NAME", "TimedParams", "effects_key", "runs_key", "timed"]

NAME = "faults.timed"
#: Attempts a job may take: a job killed at most once per fault, with room to spare.
MAX_RETRIES = 8
_STEP = 0.1

_clients: dict[tuple[int, str], redis.Redis] = {}


class TimedParams(BaseModel):
    """How long the job runs."""

    seconds: float = Field(ge=0, le=30, description="Seconds the job runs.")


def effects_key(prefix: str) -> str:
    """The Redis hash of job id → how many runs recorded their effect."""
    return f"faults:{prefix}effects"


def runs_key(prefix: str) -> str:
    """The Redis list of JSON lines, one per run start and end."""
    return f"faults:{prefix}runs"


def _redis(url: str) -> redis.Redis:
    key = (os.getpid(), url)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(url)
    return _clients[key]


def _line(ctx: JobContext, event: str) -> str:
    return json.dumps(
        {
            "event": event,
            "job": ctx.job_id,
            "attempt": ctx.attempt,
            "group": os.getpgid(0),
            "at": time.time(),
        }
    )


@job_type(NAME, params=TimedParams, max_retries=MAX_RETRIES)
def timed(ctx: JobContext, p: TimedParams) -> dict[str, object]:
    """Run for ``p.seconds``, then count this job's effect once."""
    settings = ctx.app.settings
    client = _redis(settings.broker_url)
    client.rpush(runs_key(settings.table_prefix), _line(ctx, "start"))
    steps = max(1, round(p.seconds / _STEP))
    for step in range(1, steps + 1):
        ctx.check_cancelled()
        time.sleep(p.seconds / steps)
        ctx.progress(step, steps)
    with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(effects_key(settings.table_prefix), ctx.job_id, 1)
        pipe.rpush(runs_key(settings.table_prefix), _line(ctx, "end"))
        pipe.execute()
    return {"seconds": p.seconds}
