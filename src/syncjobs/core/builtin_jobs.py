"""The job core's own job types: a no-op, a timed demo job, and ``maintain_jobs``."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from .context import JobContext
from .maintenance import maintain
from .registry import job_type

__all__ = ["CountParams", "MaintainParams", "NoopParams", "count", "maintain_jobs", "noop"]


class NoopParams(BaseModel):
    """No parameters."""


class MaintainParams(BaseModel):
    """No parameters: everything comes from settings."""


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


@job_type(
    "maintain_jobs", params=MaintainParams, queue="syncjobs", schedule="*/5 * * * *", max_retries=0
)
def maintain_jobs(ctx: JobContext, params: MaintainParams) -> dict[str, int]:
    """Re-queue crashed jobs, re-send lost messages, expire stale jobs, purge old ones."""
    return maintain(ctx.app)
