"""Connect flows: send an owner to a provider's consent page, and finish when they come back.

``begin_connect`` makes a fresh ``state`` (``secrets.token_urlsafe(32)``), stores only its
SHA-256 with the owner, provider, callback URL, PKCE verifier and the account being
reconnected (:class:`~.connect_state.PendingConnect`), and returns the consent URL.
``complete_connect`` takes that row back first (deleting it: a state works once), refuses an
unknown, expired or foreign state, a declined consent and missing scopes, exchanges the code
(:mod:`syncjobs.providers.consent`), then stores the encrypted tokens, creates or reactivates
the account and queues its first sync. A refusal stores nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .._validate import text
from ..clock import utcnow
from ..core.checks import check_owner
from ..core.models import Job
from ..errors import (
    AccountMismatchError,
    AccountNotFoundError,
    ConfigurationError,
    ConnectStateError,
    InvalidInputError,
    MissingScopesError,
)
from ..providers import SYNC_SCOPES
from ..providers.consent import Grant, consent_flow
from .connect_state import ConnectStateStore, PendingConnect
from .models import Account, AccountState

if TYPE_CHECKING:
    from .service import Accounts

__all__ = [
    "Callback",
    "ConnectStart",
    "Connected",
    "begin_connect",
    "complete_connect",
    "state_hash",
]

#: The longest authorisation code accepted (the providers' are a few hundred characters).
_MAX_CODE = 4096
#: What ``complete_connect`` accepts: the callback's query params, its query string or URL.
Callback = Mapping[str, str] | str


@dataclass(frozen=True)
class ConnectStart:
    """Where to send the owner (``url``) and the state that brings them back."""

    url: str
    state: str
    provider: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    """A finished connect: the account, its first sync, and whether it existed already."""

    account: Account
    sync_job: Job
    reconnected: bool


def state_hash(state: str) -> str:
    """The SHA-256 hex under which a state is stored (the state itself never is)."""
    return hashlib.sha256(state.encode()).hexdigest()


def _states(accounts: Accounts) -> ConnectStateStore:
    if accounts.connect_states is None:
        raise ConfigurationError("connect flows need a ConnectStateStore in Deps (connect_states)")
    return accounts.connect_states


def _redirect_uri(accounts: Accounts, provider: str, given: str | None) -> str:
    if given is not None:
        return _checked_uri(given, InvalidInputError, "redirect_uri")
    configured = accounts.provider_config(provider).redirect_uri
    if configured:
        return _checked_uri(configured, ConfigurationError, f"{provider}.redirect_uri")
    fallback = accounts.app.settings.oauth_redirect_uri
    if fallback:
        return _checked_uri(fallback, ConfigurationError, "oauth_redirect_uri")
    raise ConfigurationError(
        f"no OAuth redirect URI for {provider}: pass redirect_uri, or set "
        f"SYNCJOBS_OAUTH_REDIRECT_URI (or the provider's redirect_uri)"
    )


def _checked_uri(uri: str, error: type[Exception], name: str) -> str:
    parts = urlsplit(uri) if isinstance(uri, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(f"{name} must be an absolute http(s) URL")
    if parts.fragment:
        raise error(f"{name} must not have a fragment")
    return uri


def begin_connect(
    accounts: Accounts,
    owner_id: str,
    provider: str,
    *,
    redirect_uri: str | None = None,
    account_id: str | None = None,
) -> ConnectStart:
    """Record a pending connect and return the provider's consent URL for the owner."""
    check_owner(owner_id)
    text(provider, "provider", max_len=64)
    flow = consent_flow(provider)
    if account_id is not None:
        account = accounts.owned(account_id, owner_id)
        if account.provider != provider:
            raise InvalidInputError(f"account {account_id} is a {account.provider} account")
    accounts.stores()
    states = _states(accounts)
    uri = _redirect_uri(accounts, provider, redirect_uri)
    state = secrets.token_urlsafe(32)
    verifier = flow.new_code_verifier()
    url = flow.authorization_url(
        accounts.provider_config(provider), redirect_uri=uri, state=state, code_verifier=verifier
    )
    now = utcnow()
    expires_at = now + timedelta(seconds=accounts.app.settings.oauth_state_ttl)
    states.save_pending(
        PendingConnect(
            state_hash=state_hash(state),
            owner_id=owner_id,
            provider=provider,
            redirect_uri=uri,
            created_at=now,
            expires_at=expires_at,
            code_verifier=verifier,
            account_id=account_id,
        )
    )
    return ConnectStart(url=url, state=state, provider=provider, expires_at=expires_at)


def callback_query(callback: Callback) -> dict[str, str]:
    """The callback's query params from a mapping, a query string or a full callback URL."""
    if isinstance(callback, str):
        raw = callback.strip()
        if "?" in raw or raw.startswith(("http://", "https://")):
            raw = urlsplit(raw).query
        return dict(parse_qsl(raw.split("#", 1)[0], keep_blank_values=True))
    if isinstance(callback, Mapping):
        query: dict[str, str] = {}
        for key, value in callback.items():
            if isinstance(value, list | tuple):  # parse_qs-style lists: the first value
                value = value[0] if value else ""
            query[str(key)] = str(value)
        return query
    raise InvalidInputError("callback must be the query params, the query string or the URL")


def take_pending(accounts: Accounts, owner_id: str, query: Mapping[str, str]) -> PendingConnect:
    """Take the callback's pending connect (single use), or raise ConnectStateError."""
    state = query.get("state")
    if not state:
        raise InvalidInputError("the callback has no state: it did not come from a connect")
    pending = _states(accounts).take_pending(state_hash(state))
    if pending is None:
        raise ConnectStateError("the connect state is unknown or already used", reason="unknown")
    if utcnow() >= pending.expires_at:
        raise ConnectStateError("the connect attempt expired: start it again", reason="expired")
    if pending.owner_id != owner_id:
        raise ConnectStateError("the connect state belongs to another owner", reason="wrong_owner")
    return pending


def complete_connect(accounts: Accounts, owner_id: str, callback: Callback) -> Connected:
    """Finish a connect from the provider's callback: tokens stored, account active, sync queued."""
    check_owner(owner_id)
    query = callback_query(callback)
    accounts.stores()
    pending = take_pending(accounts, owner_id, query)
    flow = consent_flow(pending.provider)
    refused = flow.callback_error(query)
    if refused is not None:
        raise refused
    code = query.get("code")
    if not code:
        raise InvalidInputError("the callback has neither a code nor an error")
    if len(code) > _MAX_CODE:
        raise InvalidInputError(f"the callback's code is longer than {_MAX_CODE} characters")
    grant = flow.exchange(
        accounts.provider_config(pending.provider),
        code=code,
        redirect_uri=pending.redirect_uri,
        code_verifier=pending.code_verifier,
        transport=accounts.transport,
    )
    _check_scopes(pending.provider, grant)
    if pending.account_id is not None:
        account = _reactivate(accounts, pending, pending.account_id, grant)
        reconnected = True
    else:
        account, reconnected = _connect(accounts, pending, grant)
    job = accounts.request_sync(account, enforce_limit=False)
    return Connected(account=account, sync_job=job, reconnected=reconnected)


def _check_scopes(provider: str, grant: Grant) -> None:
    missing = [
        scope for scope in SYNC_SCOPES.get(provider, ()) if scope not in grant.granted_scopes
    ]
    if missing:
        raise MissingScopesError(
            f"{provider}: consent was granted without {', '.join(missing)}, which the sync "
            "needs; connect again and allow every permission",
            provider=provider,
            missing=missing,
        )


def _reactivate(
    accounts: Accounts, pending: PendingConnect, account_id: str, grant: Grant
) -> Account:
    """Reconnect the paused account: same id, cursor and interval; tokens and state renewed."""
    store, credentials = accounts.stores()
    account = store.get_account(account_id)
    if account is None or account.owner_id != pending.owner_id:
        raise AccountNotFoundError(f"no account {account_id} for this owner")
    if account.external_id is not None and account.external_id != grant.external_id:
        raise AccountMismatchError(
            f"{pending.provider}: consent was given for another account than the one being "
            "reconnected; sign in to the provider as that account and try again"
        )
    credentials.save_tokens(account.id, grant.tokens)
    now = utcnow()
    if account.external_id is None:  # connected without one: only its state changes
        updated = store.set_account_state(account.id, AccountState.ACTIVE, now=now)
    else:  # the same row, reactivated, its error cleared and its name refreshed
        updated = store.create_account(
            owner_id=account.owner_id,
            provider=account.provider,
            external_id=account.external_id,
            display_name=grant.display_name,
            sync_interval=account.sync_interval,
            now=now,
        )
    if updated is None or updated.id != account.id:
        raise AccountNotFoundError(f"no account {account_id} for this owner")
    return updated


def _connect(accounts: Accounts, pending: PendingConnect, grant: Grant) -> tuple[Account, bool]:
    """Create the account, or reactivate the owner's one for the same provider account."""
    store, _ = accounts.stores()
    existing = [
        account
        for account in store.list_accounts(owner_id=pending.owner_id)
        if account.provider == pending.provider and account.external_id == grant.external_id
    ]
    account = accounts.connect(
        pending.owner_id,
        pending.provider,
        grant.tokens,
        external_id=grant.external_id,
        display_name=grant.display_name,
        sync_interval=existing[0].sync_interval if existing else None,
    )
    return account, bool(existing)
