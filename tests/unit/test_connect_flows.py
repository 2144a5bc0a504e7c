"""Connect flows end to end over HTTP: consent page → callback → account, tokens, first sync.

The four fakes are served on loopback; the app stores everything in SQL (SQLite, then
PostgreSQL), tokens through the encrypting credential store.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from syncjobs import (
    AccountMismatchError,
    AccountState,
    Connected,
    ConnectStart,
    JobStatus,
    PermissionDeniedError,
    SyncJobs,
)
from syncjobs.clock import utcnow
from syncjobs.connections.credentials import SQLCredentialStore
from syncjobs.providers.consent.base import s256_challenge
from syncjobs.providers.consent.tiktok import hex_challenge
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes

from ..conftest import run_until_idle
from .connect_support import (
    IDENTITY,
    ITEMS,
    PROVIDERS,
    REDIRECT,
    app,
    assert_nothing_stored,
    build,
    consent,
    count,
    fakes,
    pending_row,
    query_of,
    raw_secret,
    root,
    store,
)

__all__ = ["app", "build", "fakes", "root", "store"]  # the fixtures, imported for these tests


def connect(app: SyncJobs, provider: str, **kw: str) -> tuple[ConnectStart, Connected]:
    start = app.accounts.begin_connect("u1", provider, **kw)
    return start, app.accounts.complete_connect("u1", consent(start.url))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_granted_consent_connects_the_account_and_its_first_sync_stores_its_items(
    app: SyncJobs,
    sql_repo: SQLAlchemyRepository,
    store: SQLCredentialStore,
    fakes: CombinedFakes,
    provider: str,
) -> None:
    fake = fakes[provider]
    start = app.accounts.begin_connect("u1", provider)
    sent = query_of(start.url)
    assert start.url.startswith(str(app.accounts.provider_config(provider).auth_url))
    assert (sent["state"], sent["redirect_uri"], start.provider) == (
        start.state,
        REDIRECT,
        provider,
    )
    assert start.expires_at > utcnow()
    row = pending_row(sql_repo, start.state)
    assert row is not None and row["owner_id"] == "u1" and start.state not in str(dict(row))

    done = app.accounts.complete_connect("u1", consent(start.url))

    account = done.account
    assert (account.state, account.provider, done.reconnected) == (
        AccountState.ACTIVE,
        provider,
        False,
    )
    assert (account.external_id, account.display_name) == IDENTITY[provider](fake)
    assert pending_row(sql_repo, start.state) is None
    tokens = store.load_tokens(account.id)
    assert tokens is not None and tokens.access_token
    secret = raw_secret(sql_repo, account.id)
    assert tokens.access_token not in secret
    assert tokens.refresh_token is None or tokens.refresh_token not in secret
    if provider in ("youtube", "gmail", "tiktok"):  # PKCE: the challenge of our verifier
        challenge = hex_challenge if provider == "tiktok" else s256_challenge
        assert sent["code_challenge"] == challenge(row["code_verifier"])
        assert sent["code_challenge_method"] == "S256"
        assert tokens.refresh_token  # Google's offline access; TikTok's rotating token
    if provider == "instagram":  # the long-lived token, not the 1-hour one
        assert "code_challenge" not in sent and row["code_verifier"] is None
        assert fake.calls["exchange"] == fake.calls["long_lived"] == 1
        assert tokens.refresh_token is None and tokens.issued_at and tokens.expires_at
        assert tokens.expires_at - tokens.issued_at > timedelta(days=59)
    if provider == "tiktok":
        assert tokens.refresh_expires_at is not None

    assert done.sync_job.job_type == "sync_account"
    assert done.sync_job.params["account_id"] == account.id
    run_until_idle(app)
    job = app.status(done.sync_job.id, owner_id="u1")
    assert job.status is JobStatus.COMPLETED, job.error_message
    assert job.result["added"] == len(fake.dataset()) == ITEMS


@pytest.mark.parametrize("provider", ["youtube", "tiktok"])
def test_the_fake_checks_pkce_so_a_code_is_useless_without_our_verifier(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, provider: str
) -> None:
    start = app.accounts.begin_connect("u1", provider)
    sent = query_of(start.url)
    forged = start.url.replace(sent["code_challenge"], s256_challenge("not-our-verifier" * 3))
    with pytest.raises(PermissionDeniedError, match="refused the authorisation code") as caught:
        app.accounts.complete_connect("u1", consent(forged))
    assert caught.value.reason in ("invalid_grant", "invalid_request")
    assert_nothing_stored(sql_repo, start.state)


def test_the_callback_may_be_a_url_a_query_string_or_query_params(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    for provider, shape in (("gmail", "url"), ("tiktok", "query"), ("instagram", "params")):
        start = app.accounts.begin_connect("u1", provider)
        location = consent(start.url)
        callback: object = {
            "url": location,
            "query": location.split("?", 1)[1],
            "params": query_of(location),  # Instagram's code keeps its trailing "#_" here
        }[shape]
        done = app.accounts.complete_connect("u1", callback)  # type: ignore[arg-type]
        assert done.account.provider == provider and done.account.state is AccountState.ACTIVE
    assert count(sql_repo, "accounts") == count(sql_repo, "credentials") == 3


def test_connecting_the_same_provider_account_again_keeps_its_id_cursor_and_interval(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, fakes: CombinedFakes
) -> None:
    open_id, name = IDENTITY["tiktok"](fakes["tiktok"])
    first = app.accounts.connect(
        "u1",
        "tiktok",
        fakes["tiktok"].issue_tokens(),
        external_id=open_id,
        display_name="an old name",
        sync_interval=7200,
    )
    app.accounts.sync(first.id, owner_id="u1")
    run_until_idle(app)
    cursor = sql_repo.get_account(first.id).cursor  # type: ignore[union-attr]
    assert cursor
    _, again = connect(app, "tiktok")
    assert again.account.id == first.id and again.reconnected
    assert (again.account.cursor, again.account.sync_interval) == (cursor, 7200)
    assert again.account.display_name == name
    assert count(sql_repo, "accounts") == 1


@pytest.mark.parametrize("provider", ["youtube", "instagram"])
def test_a_reconnect_reactivates_the_paused_account_keeping_its_id_and_cursor(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, store: SQLCredentialStore, provider: str
) -> None:
    _, first = connect(app, provider)
    run_until_idle(app)
    account = first.account
    cursor = sql_repo.get_account(account.id).cursor  # type: ignore[union-attr]
    old_tokens = store.load_tokens(account.id)
    sql_repo.set_account_state(
        account.id,
        AccountState.REAUTH_REQUIRED,
        now=utcnow(),
        error_code="reauthorization_required",
        error_message="the token was revoked",
    )

    start = app.accounts.begin_connect("u1", provider, account_id=account.id)
    done = app.accounts.complete_connect("u1", consent(start.url))

    assert (done.account.id, done.reconnected) == (account.id, True)
    assert done.account.state is AccountState.ACTIVE
    assert (done.account.error_code, done.account.error_message) == (None, None)
    assert done.account.cursor == cursor
    assert done.account.display_name == account.display_name
    assert store.load_tokens(account.id) != old_tokens
    run_until_idle(app)
    job = app.status(done.sync_job.id, owner_id="u1")
    assert job.status is JobStatus.COMPLETED, job.error_message


def test_a_reconnect_granted_for_another_provider_account_is_refused_storing_nothing(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, store: SQLCredentialStore
) -> None:
    other = app.accounts.connect(
        "u1", "gmail", {"access_token": "old-token"}, external_id="someone.else@example.com"
    )
    sql_repo.set_account_state(
        other.id, AccountState.REAUTH_REQUIRED, now=utcnow(), error_code="reauthorization_required"
    )
    start = app.accounts.begin_connect("u1", "gmail", account_id=other.id)
    with pytest.raises(AccountMismatchError, match="another account"):
        app.accounts.complete_connect("u1", consent(start.url))
    after = sql_repo.get_account(other.id)
    assert after is not None and after.state is AccountState.REAUTH_REQUIRED
    assert store.load_tokens(other.id).access_token == "old-token"  # type: ignore[union-attr]
    assert count(sql_repo, "accounts") == count(sql_repo, "credentials") == 1
    assert count(sql_repo, "jobs") == 0
    assert pending_row(sql_repo, start.state) is None


@pytest.mark.parametrize("provider", ["gmail", "instagram", "tiktok"])
def test_no_log_line_shows_the_client_secret_or_the_code(
    app: SyncJobs, caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    caplog.set_level(logging.DEBUG)
    start = app.accounts.begin_connect("u1", provider)
    location = consent(start.url)
    code = query_of(location)["code"]
    done = app.accounts.complete_connect("u1", location)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP Request" in logged or "Request" in logged  # the calls were logged
    secret = app.accounts.provider_config(provider).client_secret
    tokens = app.deps.credentials.load_tokens(done.account.id)  # type: ignore[union-attr]
    assert tokens is not None
    assert secret not in logged
    assert code.removesuffix("#_") not in logged
    assert tokens.access_token not in logged
    assert tokens.refresh_token is None or tokens.refresh_token not in logged
