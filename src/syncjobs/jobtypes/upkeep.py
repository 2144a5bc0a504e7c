"""The upkeep job type: ``maintain_jobs``."""

from __future__ import annotations

from pydantic import BaseModel

from ..context import JobContext
from ..registry import job_type
from ..upkeep import maintain

__all__ = ["MaintainParams", "maintain_jobs"]


class MaintainParams(BaseModel):
    """No parameters: everything comes from settings."""


@job_type(
    "maintain_jobs", params=MaintainParams, queue="syncjobs", schedule="*/5 * * * *", max_retries=0
)
def maintain_jobs(ctx: JobContext, params: MaintainParams) -> dict[str, int]:
    """Re-queue crashed jobs, re-send lost messages, expire stale jobs, purge old ones."""
    return maintain(ctx.app)
