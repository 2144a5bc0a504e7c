"""A job type the integration tests add to the workers through ``SYNCJOBS_IMPORTS``.

``itest.flaky`` fails on purpose: rate-limited on its first attempt, retriably on its first
``fail_times`` attempts, or for good. The ``flaky_jobs`` fixture imports it in the test
process too (for ``submit``) and takes it out of the global registry again afterwards.
"""

from __future__ import annotations

from pydantic import BaseModel

from syncjobs import FatalError, JobContext, RateLimitedError, RetriableError, job_type


class FlakyParams(BaseModel):
    fail_times: int = 0
    retry_after: float = 0.0
    fatal: bool = False


@job_type("itest.flaky", params=FlakyParams, queue="syncjobs", max_retries=3)
def flaky(ctx: JobContext, p: FlakyParams) -> dict[str, int]:
    if p.fatal:
        raise FatalError("fails for good on purpose")
    if p.retry_after and ctx.saved_checkpoint is None:  # a rate limit gives the attempt back
        ctx.checkpoint({"rate_limited": True})
        raise RateLimitedError("rate-limited on purpose", retry_after=p.retry_after)
    if ctx.attempt <= p.fail_times:
        raise RetriableError(f"attempt {ctx.attempt} fails on purpose")
    return {"attempt": ctx.attempt}
