"""``Accounts``: connect, list and disconnect an owner's accounts, and queue their syncs.

An app carries one ``Accounts`` extension (``Accounts.of(app)``). A sync reports what it cost
at the provider and when an account needs its owner to reconnect through the hooks here, so
the extras (usage, notifications) listen without accounts importing them.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from .._validate import flag, integer, optional_text, text
from ..clock import utcnow
from ..core.app import JobApp
from ..core.bulk import JobSpec
from ..core.checks import check_owner
from ..core.models import Job
from ..errors import (
    AccountNotFoundError,
    ConfigurationError,
    InvalidInputError,
    ReauthorizationRequiredError,
)
from ..providers import provider_names
from ..providers.types import ProviderConfig, TokenSet
from .connect import Callback, Connected, ConnectStart, begin_connect, complete_connect
from .connect_state import ConnectStateStore
from .models import Account
from .store import AccountRepository, CredentialStore

__all__ = [
    "DUE_BATCH",
    "PROVIDER_LABELS",
    "Accounts",
    "ItemChanges",
    "ItemsHook",
    "ProviderUsage",
    "ReauthHook",
    "UsageHook",
]

logger = logging.getLogger("syncjobs")

#: How each built-in provider is named to people.
PROVIDER_LABELS = {
    "youtube": "YouTube",
    "gmail": "Gmail",
    "instagram": "Instagram",
    "tiktok": "TikTok",
}
#: Due accounts per ``submit_many`` call of ``due_syncs``.
DUE_BATCH = 1000
_ID = re.compile(r"^[\w.@:+-]{1,255}$")


@dataclass(frozen=True)
class ProviderUsage:
    """What one sync cost at its provider: API calls and quota units."""

    owner_id: str
    account_id: str
    provider: str
    job_id: str | None
    api_calls: int
    quota_units: int
    at: datetime


@dataclass(frozen=True)
class ItemChanges:
    """What one stored page of a sync (or its closing sweep of unseen items) changed."""

    owner_id: str
    account_id: str
    provider: str
    job_id: str | None
    added: int
    updated: int
    deleted: int


#: Told what each sync cost at the provider (it must not raise).
UsageHook = Callable[[ProviderUsage], None]
#: Told what each stored page of a sync changed in the account's items (it must not raise).
ItemsHook = Callable[[ItemChanges], None]
#: Told of an account that now needs its owner to reconnect it (it must not raise).
ReauthHook = Callable[[Account, ReauthorizationRequiredError], None]


@dataclass
class Accounts:
    """The accounts side of an app: its stores, and the hooks a sync reports to."""

    app: JobApp
    store: AccountRepository | None
    credentials: CredentialStore | None
    #: An httpx transport every provider uses instead of the network (tests, demo); not
    #: Google's code exchange in ``complete_connect``, which google-auth-oauthlib sends with
    #: ``requests`` (serve the fakes on loopback to test it).
    transport: httpx.BaseTransport | None = None
    usage_hooks: list[UsageHook] = field(default_factory=list)
    reauth_hooks: list[ReauthHook] = field(default_factory=list)
    items_hooks: list[ItemsHook] = field(default_factory=list)
    #: Pending connect attempts (``begin_connect`` / ``complete_connect``).
    connect_states: ConnectStateStore | None = None

    @staticmethod
    def of(app: JobApp) -> Accounts:
        """The ``Accounts`` extension of ``app``."""
        return app.extension(Accounts)

    def stores(self) -> tuple[AccountRepository, CredentialStore]:
        """The account store and the credential store, or ConfigurationError if missing."""
        if self.store is None or self.credentials is None:
            raise ConfigurationError(
                "accounts need an AccountRepository and a CredentialStore in Deps"
            )
        return self.store, self.credentials

    def owned(self, account_id: str, owner_id: str) -> Account:
        """Return the owner's account, or raise AccountNotFoundError (also for another's)."""
        store, _ = self.stores()
        if not isinstance(account_id, str) or not _ID.match(account_id):
            raise InvalidInputError(f"malformed account id {str(account_id)[:80]!r}")
        text(owner_id, "owner_id")
        found = store.get_account(account_id)
        if found is None or found.owner_id != owner_id:
            raise AccountNotFoundError(f"no account {account_id} for this owner")
        return found

    def connect(
        self,
        owner_id: str,
        provider: str,
        tokens: TokenSet | dict[str, Any],
        *,
        external_id: str | None = None,
        display_name: str | None = None,
        sync_interval: int | None = None,
    ) -> Account:
        """Connect (or reconnect) an owner's provider account; its tokens are stored encrypted."""
        check_owner(owner_id)
        text(provider, "provider", max_len=64)
        display_name = optional_text(display_name, "display_name")
        if external_id is not None and (
            not isinstance(external_id, str) or not _ID.match(external_id)
        ):
            raise InvalidInputError("external_id must be 1-255 characters without spaces")
        if provider not in provider_names():
            raise ConfigurationError(
                f"unknown provider {provider!r} (known: {', '.join(provider_names())})"
            )
        token_set = _token_set(tokens)
        interval = integer(
            sync_interval if sync_interval is not None else self.app.settings.sync_interval,
            "sync_interval",
            low=60,
            high=30 * 86400,
        )
        store, credentials = self.stores()
        account = store.create_account(
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
            store.delete_account(account.id)
            raise
        return account

    def begin_connect(
        self,
        owner_id: str,
        provider: str,
        *,
        redirect_uri: str | None = None,
        account_id: str | None = None,
    ) -> ConnectStart:
        """Start connecting (or, with ``account_id``, reconnecting) an account: the consent URL."""
        return begin_connect(
            self, owner_id, provider, redirect_uri=redirect_uri, account_id=account_id
        )

    def complete_connect(self, owner_id: str, callback: Callback) -> Connected:
        """Finish a connect from the provider's callback; the account's first sync is queued."""
        return complete_connect(self, owner_id, callback)

    def purge_connect_states(self, now: datetime) -> dict[str, int]:
        """Forget the connect attempts that expired before ``now`` (run by the upkeep)."""
        if self.connect_states is None:
            return {}
        return {"connects_expired": self.connect_states.purge_pending(now)}

    def list(self, owner_id: str) -> list[Account]:
        """List an owner's connected accounts."""
        store, _ = self.stores()
        return store.list_accounts(owner_id=check_owner(owner_id))

    def disconnect(self, account_id: str, *, owner_id: str) -> None:
        """Remove an account, its tokens and its synced items."""
        account = self.owned(account_id, owner_id)
        store, credentials = self.stores()
        credentials.delete_tokens(account.id)
        store.delete_account(account.id)

    def sync(self, account_id: str, *, owner_id: str, full: bool = False) -> Job:
        """Queue a sync of an account now (coalesces with one already waiting)."""
        account = self.owned(account_id, check_owner(owner_id))
        return self.request_sync(account, full=flag(full, "full"))

    def request_sync(
        self, account: Account, *, full: bool = False, enforce_limit: bool = True
    ) -> Job:
        """Submit a sync of ``account``, coalescing with one already waiting.

        At most one sync runs and one waits per account: asking again while one waits returns
        that one; asking while one runs queues a single follow-up.
        """
        return self.request_syncs([account], full=full, enforce_limit=enforce_limit)[0]

    def request_syncs(
        self, accounts: Sequence[Account], *, full: bool = False, enforce_limit: bool = True
    ) -> builtins.list[Job]:
        """``request_sync`` for many accounts at once: one ``submit_many`` per round.

        Each account's key is ``sync:<account>:<its last sync job or "first">``, so a second
        request while one waits returns that one. A key whose job ended before it ran (it was
        cancelled or expired) is chained past (``<key>:<that job>``) in the next round.
        """
        suffix = ":full" if full else ""
        bases = [f"sync:{a.id}:{a.last_sync_job_id or 'first'}{suffix}" for a in accounts]
        keys = builtins.list(bases)
        found: dict[int, Job] = {}
        todo = builtins.list(range(len(accounts)))
        for _ in range(20):
            specs = [
                JobSpec(
                    "sync_account",
                    owner_id=accounts[i].owner_id,
                    params={"account_id": accounts[i].id, "full": full},
                    idempotency_key=keys[i],
                )
                for i in todo
            ]
            jobs = self.app.submit_many(specs, enforce_limit=enforce_limit)
            ended = []
            for i, job in zip(todo, jobs, strict=True):
                if job.is_terminal:  # that one ended before it ran: chain past it
                    keys[i] = f"{bases[i]}:{job.id}"
                    ended.append(i)
                else:
                    found[i] = job
            todo = ended
            if not todo:
                return [found[i] for i in range(len(accounts))]
        raise ConfigurationError(f"could not queue a sync for account {accounts[todo[0]].id}")

    def due_syncs(self, *, limit: int) -> tuple[int, int]:
        """Request a sync of every due active account; return (accounts due, jobs submitted).

        The syncs are submitted ``DUE_BATCH`` accounts at a time, each batch in one ledger
        transaction and one batched send.
        """
        store, _ = self.stores()
        due = store.due_accounts(now=utcnow(), limit=limit)
        submitted: set[str] = set()
        for start in range(0, len(due), DUE_BATCH):
            chunk = due[start : start + DUE_BATCH]
            submitted |= {job.id for job in self.request_syncs(chunk, enforce_limit=False)}
        return len(due), len(submitted)

    def provider_config(self, provider: str) -> ProviderConfig:
        """The ProviderConfig for ``provider`` from settings (empty for unknown plug-ins)."""
        settings = self.app.settings
        section = getattr(settings, provider, None) or settings.providers.get(provider)
        if section is None:
            return ProviderConfig()
        values = section.model_dump()
        return ProviderConfig(
            **values | {"client_secret": section.client_secret.get_secret_value()}
        )

    def report_usage(self, usage: ProviderUsage) -> None:
        """Tell the usage hooks what a sync cost (a failing hook never fails the sync)."""
        for hook in list(self.usage_hooks):
            try:
                hook(usage)
            except Exception:
                logger.exception("could not record provider usage of job %s", usage.job_id)

    def report_items(self, changes: ItemChanges) -> None:
        """Tell the items hooks what a stored page changed (a failing hook never fails a sync)."""
        for hook in list(self.items_hooks):
            try:
                hook(changes)
            except Exception:
                logger.exception("an items hook failed for job %s", changes.job_id)

    def report_reauth(self, account: Account, exc: ReauthorizationRequiredError) -> None:
        """Tell the reauthorisation hooks that ``account`` needs its owner to reconnect."""
        for hook in list(self.reauth_hooks):
            try:
                hook(account, exc)
            except Exception:
                logger.exception("a reauthorisation hook failed for account %s", account.id)


def _token_set(tokens: TokenSet | dict[str, Any]) -> TokenSet:
    try:
        token_set = tokens if isinstance(tokens, TokenSet) else TokenSet.model_validate(tokens)
    except ValueError:
        raise InvalidInputError("tokens must include a non-empty access_token") from None
    text(token_set.access_token, "access_token", max_len=8192)
    optional_text(token_set.refresh_token, "refresh_token", max_len=8192)
    return token_set
