"""One run of ``sync_account``: an account's provider, page by page, into its store.

A sync walks the provider one page at a time. Each page's items and the provider's cursor are
stored in ONE transaction, so a crash, kill or cancel resumes from the last stored page; items
are upserted on (account, external id), so a replayed page never duplicates anything.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from ..clock import utcnow
from ..core.context import JobContext
from ..core.models import JobStatus
from ..errors import InvalidInputError, RateLimitedError, ReauthorizationRequiredError
from ..providers import get_provider
from ..providers.types import Provider
from ..providers.util import lock_for
from .models import AccountState
from .service import PROVIDER_LABELS, Accounts, ItemChanges, ProviderUsage

__all__ = ["AccountSync"]


class AccountSync:
    """One run of ``sync_account``: pages from the provider into the repository."""

    def __init__(self, ctx: JobContext, account_id: str, full: bool) -> None:
        self.ctx, self.app = ctx, ctx.app
        self.service = Accounts.of(ctx.app)
        self.accounts, self.credentials = self.service.stores()
        self.account = self.service.owned(account_id, ctx.owner_id)
        self.full = full
        self.totals = {"added": 0, "updated": 0, "unchanged": 0, "deleted": 0, "pages": 0}

    def run(self) -> dict[str, Any]:
        """Sync the account; return what changed and what it cost."""
        account = self.account
        if account.state is AccountState.DISABLED:
            raise InvalidInputError("the account is disabled")
        if account.state is AccountState.REAUTH_REQUIRED:
            raise ReauthorizationRequiredError(
                "the account needs its owner to reconnect it", provider=account.provider
            )
        self._wait_for_running_sync()
        self.accounts.start_sync(account.id, job_id=self.ctx.job_id, now=utcnow())
        provider = self._provider()
        try:
            full_since = self._walk(provider)
        except ReauthorizationRequiredError as exc:
            self._pause(exc)
            raise
        finally:
            provider.close()
            self._record_usage(provider)
        now = utcnow()
        if full_since is not None:
            swept = self.accounts.sweep_unseen(account.id, since=full_since, now=now)
            self.totals["deleted"] += swept
            self._report_items(0, 0, swept)
        interval = account.sync_interval
        jitter = random.uniform(0, interval * self.app.settings.sync_jitter)
        self.accounts.finish_sync(
            account.id, now=now, next_sync_at=now + timedelta(seconds=interval + jitter)
        )
        return {
            **self.totals,
            "provider": account.provider,
            "full": full_since is not None,
            "queued_for_analysis": self.totals["added"],
            "api_calls": int(getattr(provider, "api_calls", 0)),
            "quota_units": int(getattr(provider, "quota_units", 0)),
        }

    def _record_usage(self, provider: Provider) -> None:
        """Count what this run cost at the provider, for ``aggregate_usage`` (even if it failed)."""
        calls = int(getattr(provider, "api_calls", 0))
        units = int(getattr(provider, "quota_units", 0))
        if not (calls or units):
            return
        self.service.report_usage(
            ProviderUsage(
                owner_id=self.account.owner_id,
                account_id=self.account.id,
                provider=self.account.provider,
                job_id=self.ctx.job_id,
                api_calls=calls,
                quota_units=units,
                at=utcnow(),
            )
        )

    def _report_items(self, added: int, updated: int, deleted: int) -> None:
        """Tell the items hooks what one stored page (or the sweep) changed, if anything."""
        if not (added or updated or deleted) or not self.service.items_hooks:
            return
        acc = self.account
        self.service.report_items(
            ItemChanges(
                owner_id=acc.owner_id,
                account_id=acc.id,
                provider=acc.provider,
                job_id=self.ctx.job_id,
                added=added,
                updated=updated,
                deleted=deleted,
            )
        )

    def _wait_for_running_sync(self) -> None:
        """Never sync one account twice at once (rotating refresh tokens would clash)."""
        other_id = self.account.last_sync_job_id
        if other_id is None or other_id == self.ctx.job_id:
            return
        other = self.app.repository.get_job(other_id)
        stale = self.app.settings.job_stale_after
        if (
            other is not None
            and other.status is JobStatus.PROCESSING
            and (
                other.heartbeat_at is not None
                and (utcnow() - other.heartbeat_at).total_seconds() < stale
            )
        ):
            raise RateLimitedError(
                "another sync of this account is running; this one waits for it",
                retry_after=min(5.0, stale),
                provider=self.account.provider,
                reason="sync_in_progress",
            )

    def _provider(self) -> Provider:
        tokens = self.credentials.load_tokens(self.account.id)
        if tokens is None:
            raise ReauthorizationRequiredError(
                "no tokens are stored for this account", provider=self.account.provider
            )
        factory = get_provider(self.account.provider)
        return factory(
            tokens=tokens,
            save_tokens=partial(self.credentials.save_tokens, self.account.id),
            config=self.service.provider_config(self.account.provider),
            transport=self.service.transport,
            lock=lock_for(self.account.id),
        )

    def _walk(self, provider: Provider) -> datetime | None:
        """Store every page; return when the full run started, if this run is full."""
        ctx, acc = self.ctx, self.account
        started = utcnow()
        saved = ctx.saved_checkpoint if isinstance(ctx.saved_checkpoint, dict) else {}
        full_since = (
            datetime.fromisoformat(saved["full_since"]) if saved.get("full_since") else None
        )
        label = PROVIDER_LABELS.get(acc.provider, acc.provider)

        def known(external_ids: Sequence[str]) -> set[str]:
            return self.accounts.known_items(acc.id, external_ids, now=utcnow())

        seen = 0
        for page in provider.sync(acc.cursor, full=self.full, known=known):
            if page.full_resync and full_since is None:
                full_since = started
                ctx.checkpoint({"full_since": started.isoformat()})
            counts = self.accounts.save_page(
                acc.id,
                items=page.items,
                deleted_ids=page.deleted_ids,
                cursor=page.cursor,
                now=utcnow(),
            )
            for key in ("added", "updated", "deleted"):
                self.totals[key] += getattr(counts, key)
            self._report_items(counts.added, counts.updated, counts.deleted)
            self.totals["unchanged"] += counts.unchanged + page.unchanged
            self.totals["pages"] += 1
            seen += len(page.items) + page.unchanged
            # The provider's count of items (None if it gives none: indeterminate progress).
            # It is an estimate: ``seen`` may pass it; the percent stays below 100 till the end.
            ctx.progress(
                seen,
                page.total_hint,
                f"{label}: page {self.totals['pages']}, "
                f"{self.totals['added']} new, {self.totals['updated']} changed",
            )
            ctx.check_cancelled()
        return full_since

    def _pause(self, exc: ReauthorizationRequiredError) -> None:
        """Mark the account paused and tell its owner (once per expiry)."""
        acc = self.account
        self.accounts.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=utcnow(),
            error_code=exc.code,
            error_message=exc.message,
        )
        self.service.report_reauth(acc, exc)
