"""Accounts and their sync: connect, list, disconnect, request a sync, and run one.

A sync walks the provider one page at a time. Each page's items and the provider's cursor are
stored in ONE transaction, so a crash, kill or cancel resumes from the last stored page; items
are upserted on (account, external id), so a replayed page never duplicates anything.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ._validate import integer, optional_text, text
from .accounts.store import AccountRepository, CredentialStore
from .errors import (
    AccountNotFoundError,
    ConfigurationError,
    InvalidInputError,
    RateLimitedError,
    ReauthorizationRequiredError,
)
from .models import Account, AccountState, Job, JobStatus, utcnow
from .providers import get_provider, provider_names
from .providers.base import lock_for
from .providers.types import Provider, ProviderConfig, TokenSet

if TYPE_CHECKING:
    from .app import SyncJobs
    from .context import JobContext

__all__ = [
    "PROVIDER_LABELS",
    "AccountSync",
    "accounts_of",
    "connect",
    "disconnect",
    "request_sync",
]

logger = logging.getLogger("syncjobs")

PROVIDER_LABELS = {
    "youtube": "YouTube",
    "gmail": "Gmail",
    "instagram": "Instagram",
    "tiktok": "TikTok",
}
_ID = re.compile(r"^[\w.@:+-]{1,255}$")


def _stores(app: SyncJobs) -> tuple[AccountRepository, CredentialStore]:
    accounts, credentials = app.deps.accounts, app.deps.credentials
    if accounts is None or credentials is None:
        raise ConfigurationError("accounts need an AccountRepository and a CredentialStore in Deps")
    return accounts, credentials


def owned_account(app: SyncJobs, account_id: str, owner_id: str) -> Account:
    """Return the owner's account, or raise AccountNotFoundError (also for another owner's)."""
    accounts, _ = _stores(app)
    if not isinstance(account_id, str) or not _ID.match(account_id):
        raise InvalidInputError(f"malformed account id {str(account_id)[:80]!r}")
    text(owner_id, "owner_id")
    found = accounts.get_account(account_id)
    if found is None or found.owner_id != owner_id:
        raise AccountNotFoundError(f"no account {account_id} for this owner")
    return found


def connect(
    app: SyncJobs,
    *,
    owner_id: str,
    provider: str,
    tokens: TokenSet | dict[str, Any],
    external_id: str | None = None,
    display_name: str | None = None,
    sync_interval: int | None = None,
) -> Account:
    """Store a connected account and its tokens (encrypted); reconnecting reactivates it."""
    from .app import _check_owner

    _check_owner(owner_id)
    text(provider, "provider", max_len=64)
    display_name = optional_text(display_name, "display_name")
    if external_id is not None and (not isinstance(external_id, str) or not _ID.match(external_id)):
        raise InvalidInputError("external_id must be 1-255 characters without spaces")
    if provider not in provider_names():
        raise ConfigurationError(
            f"unknown provider {provider!r} (known: {', '.join(provider_names())})"
        )
    try:
        token_set = tokens if isinstance(tokens, TokenSet) else TokenSet.model_validate(tokens)
    except ValueError:
        raise InvalidInputError("tokens must include a non-empty access_token") from None
    text(token_set.access_token, "access_token", max_len=8192)
    optional_text(token_set.refresh_token, "refresh_token", max_len=8192)
    interval = integer(
        sync_interval if sync_interval is not None else app.settings.sync_interval,
        "sync_interval",
        low=60,
        high=30 * 86400,
    )
    accounts, credentials = _stores(app)
    account = accounts.create_account(
        owner_id=owner_id,
        provider=provider,
        external_id=external_id,
        display_name=display_name,
        sync_interval=interval,
        now=utcnow(),
    )
    try:
        credentials.save_tokens(account.id, token_set)
    except Exception:  # e.g. no encryption key: leave no account without its tokens
        accounts.delete_account(account.id)
        raise
    return account


def accounts_of(app: SyncJobs, owner_id: str) -> list[Account]:
    """Return an owner's accounts."""
    from .app import _check_owner

    accounts, _ = _stores(app)
    return accounts.list_accounts(owner_id=_check_owner(owner_id))


def disconnect(app: SyncJobs, account_id: str, *, owner_id: str) -> None:
    """Remove an account with its tokens and synced items."""
    account = owned_account(app, account_id, owner_id)
    accounts, credentials = _stores(app)
    credentials.delete_tokens(account.id)
    accounts.delete_account(account.id)


def request_sync(
    app: SyncJobs,
    account: Account,
    *,
    full: bool = False,
    enforce_limit: bool = True,
) -> Job:
    """Submit a sync of ``account``, coalescing with one already waiting.

    At most one sync runs and one waits per account: asking again while one waits returns
    that one; asking while one runs queues a single follow-up.
    """
    base = f"sync:{account.id}:{account.last_sync_job_id or 'first'}{':full' if full else ''}"
    key = base
    for _ in range(20):
        job = app.submit(
            "sync_account",
            owner_id=account.owner_id,
            params={"account_id": account.id, "full": full},
            idempotency_key=key,
            enforce_limit=enforce_limit,
        )
        if not job.is_terminal:
            return job
        key = f"{base}:{job.id}"  # that one ended before it ran: chain past it
    raise ConfigurationError(f"could not queue a sync for account {account.id}")


class AccountSync:
    """One run of ``sync_account``: pages from the provider into the repository."""

    def __init__(self, ctx: JobContext, account_id: str, full: bool) -> None:
        self.ctx, self.app = ctx, ctx.app
        self.accounts, self.credentials = _stores(self.app)
        self.account = owned_account(self.app, account_id, ctx.owner_id)
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
            self.totals["deleted"] += self.accounts.sweep_unseen(
                account.id, since=full_since, now=now
            )
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
        insights = self.app.deps.insights
        calls = int(getattr(provider, "api_calls", 0))
        units = int(getattr(provider, "quota_units", 0))
        if insights is None or not (calls or units):
            return
        try:
            insights.record_provider_usage(
                owner_id=self.account.owner_id,
                account_id=self.account.id,
                provider=self.account.provider,
                job_id=self.ctx.job_id,
                api_calls=calls,
                quota_units=units,
                at=utcnow(),
            )
        except Exception:  # usage accounting must never fail a sync
            logger.exception("could not record provider usage of job %s", self.ctx.job_id)

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
            config=provider_config(self.app, self.account.provider),
            transport=self.app.deps.transport,
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
            self.totals["unchanged"] += counts.unchanged + page.unchanged
            self.totals["pages"] += 1
            seen += len(page.items) + page.unchanged
            total = max(page.total_hint or 0, seen) or None
            ctx.progress(
                seen,
                total,
                f"{label}: page {self.totals['pages']}, "
                f"{self.totals['added']} new, {self.totals['updated']} changed",
            )
            ctx.check_cancelled()
        return full_since

    def _pause(self, exc: ReauthorizationRequiredError) -> None:
        """Mark the account paused and tell its owner (once per expiry)."""
        acc = self.account
        label = PROVIDER_LABELS.get(acc.provider, acc.provider)
        self.accounts.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=utcnow(),
            error_code=exc.code,
            error_message=exc.message,
        )
        self.app.notify(
            acc.owner_id,
            kind="reauth_required",
            title=f"{label} connection expired",
            body=f"Reconnect your {label} account to resume syncing.",
            data={"account_id": acc.id, "provider": acc.provider},
        )


def provider_config(app: SyncJobs, provider: str) -> ProviderConfig:
    """The ProviderConfig for ``provider`` from settings (empty for unknown plug-ins)."""
    section = getattr(app.settings, provider, None) or app.settings.providers.get(provider)
    if section is None:
        return ProviderConfig()
    return ProviderConfig(**section.model_dump())


def due_syncs(app: SyncJobs, *, limit: int) -> tuple[int, int]:
    """Request a sync of every due active account; return (accounts due, jobs submitted)."""
    accounts, _ = _stores(app)
    due = accounts.due_accounts(now=utcnow(), limit=limit)
    submitted: set[str] = set()
    for account in due:
        submitted.add(request_sync(app, account, enforce_limit=False).id)
    return len(due), len(submitted)
