"""Small built-in job types: a no-op (benchmarks, health checks) and a timed demo job."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from ..context import JobContext
from ..registry import job_type

__all__ = ["CountParams", "NoopParams", "count", "noop"]


class NoopParams(BaseModel):
    """No parameters."""


class CountParams(BaseModel):
    """Count to ``to``, sleeping ``step`` seconds per unit."""

    to: int = Field(default=10, ge=0, le=1_000_000)
    step: float = Field(default=0.0, ge=0, le=60)


@job_type("syncjobs.noop", params=NoopParams, queue="syncjobs")
def noop(ctx: JobContext, params: NoopParams) -> None:
    """Do nothing: measures the tracking overhead."""


@job_type("syncjobs.count", params=CountParams, queue="syncjobs")
def count(ctx: JobContext, params: CountParams) -> dict[str, int]:
    """Count with progress and cancellation checks: shows a job's life in the ledger."""
    for i in range(1, params.to + 1):
        ctx.check_cancelled()
        if params.step:
            time.sleep(params.step)
        ctx.progress(i, params.to, f"counted {i} of {params.to}")
    return {"counted": params.to}
