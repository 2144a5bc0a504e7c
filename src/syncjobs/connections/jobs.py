"""The sync job types: ``sync_account`` and its fan-out ``sync_due_accounts``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..core.context import JobContext
from ..core.registry import job_type
from .service import Accounts
from .sync import AccountSync

__all__ = ["DueParams", "SyncParams", "sync_account", "sync_due_accounts"]


class SyncParams(BaseModel):
    """Which account to sync, and whether to start over."""

    account_id: str = Field(min_length=1, max_length=64)
    full: bool = False


class DueParams(BaseModel):
    """How many due accounts one run fans out at most."""

    limit: int = Field(default=10_000, ge=1, le=1_000_000)


@job_type("sync_account", params=SyncParams, queue="sync", max_retries=5, time_limit=3600)
def sync_account(ctx: JobContext, params: SyncParams) -> dict[str, Any]:
    """Incrementally sync one connected account, a page at a time, resumable."""
    return AccountSync(ctx, params.account_id, params.full).run()


@job_type("sync_due_accounts", params=DueParams, queue="sync", schedule="*/30 * * * *")
def sync_due_accounts(ctx: JobContext, params: DueParams) -> dict[str, int]:
    """Queue a sync of every active account whose interval has passed."""
    due, submitted = Accounts.of(ctx.app).due_syncs(limit=params.limit)
    ctx.progress(due, due, f"{submitted} syncs queued for {due} due accounts")
    return {"due": due, "submitted": submitted}
