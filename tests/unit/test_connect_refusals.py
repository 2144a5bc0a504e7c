"""Connect flows refused: every refusal stores nothing (no account, no tokens, no job) and
spends the state; endpoints over plain http are refused unless on loopback."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine

from syncjobs import (
    ConfigurationError,
    ConnectStateError,
    ConsentDeniedError,
    InvalidInputError,
    MissingScopesError,
    PermissionDeniedError,
    ProviderUnavailableError,
    SyncJobs,
)
from syncjobs.clock import utcnow
from syncjobs.providers.consent import consent_flow
from syncjobs.providers.consent.loopback import INSECURE_TRANSPORT
from syncjobs.providers.types import ProviderConfig
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes

from .connect_support import (
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
    root,
    store,
)

__all__ = ["app", "build", "fakes", "root", "store"]  # the fixtures, imported for these tests

#: Scopes an owner leaves ticked, short of what the sync needs, and what is then missing.
PARTIAL = {
    "youtube": ([], ["https://www.googleapis.com/auth/youtube.readonly"]),
    "gmail": ([], ["https://www.googleapis.com/auth/gmail.readonly"]),
    "instagram": (["instagram_business_basic"], ["instagram_business_manage_insights"]),
    "tiktok": (["user.info.basic"], ["video.list"]),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_declined_consent_raises_consent_denied(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, fakes: CombinedFakes, provider: str
) -> None:
    fakes[provider].consent = "denied"
    start = app.accounts.begin_connect("u1", provider)
    location = consent(start.url)
    assert query_of(location)["error"] == "access_denied"
    with pytest.raises(ConsentDeniedError, match="declined") as caught:
        app.accounts.complete_connect("u1", location)
    assert caught.value.provider == provider
    assert_nothing_stored(sql_repo, start.state)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_consent_without_a_scope_the_sync_needs_raises_missing_scopes(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, fakes: CombinedFakes, provider: str
) -> None:
    granted, missing = PARTIAL[provider]
    fakes[provider].granted_scopes = granted
    start = app.accounts.begin_connect("u1", provider)
    with pytest.raises(MissingScopesError, match="allow every permission") as caught:
        app.accounts.complete_connect("u1", consent(start.url))
    assert caught.value.missing == missing
    assert_nothing_stored(sql_repo, start.state)


def test_a_replayed_callback_is_refused_as_unknown(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    start = app.accounts.begin_connect("u1", "tiktok")
    location = consent(start.url)
    app.accounts.complete_connect("u1", location)
    with pytest.raises(ConnectStateError, match="unknown or already used") as caught:
        app.accounts.complete_connect("u1", location)
    assert caught.value.reason == "unknown"
    assert count(sql_repo, "accounts") == count(sql_repo, "credentials") == 1
    assert count(sql_repo, "jobs") == 1  # the first connect's sync only


def test_a_state_past_its_ttl_is_refused_as_expired(
    build: Callable[..., SyncJobs], sql_repo: SQLAlchemyRepository
) -> None:
    app = build(oauth_state_ttl=120)
    start = app.accounts.begin_connect("u1", "instagram")
    row = pending_row(sql_repo, start.state)
    assert start.expires_at - row["created_at"] == timedelta(seconds=120)
    location = consent(start.url)
    with (
        time_machine.travel(start.expires_at + timedelta(seconds=1), tick=False),
        pytest.raises(ConnectStateError, match="expired") as caught,
    ):
        app.accounts.complete_connect("u1", location)
    assert caught.value.reason == "expired"
    assert_nothing_stored(sql_repo, start.state)


def test_another_owners_state_is_refused_and_spent(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    start = app.accounts.begin_connect("u1", "gmail")
    location = consent(start.url)
    with pytest.raises(ConnectStateError, match="another owner") as caught:
        app.accounts.complete_connect("u2", location)
    assert caught.value.reason == "wrong_owner"
    assert_nothing_stored(sql_repo, start.state)
    with pytest.raises(ConnectStateError) as again:  # spent for its owner too
        app.accounts.complete_connect("u1", location)
    assert again.value.reason == "unknown"
    assert app.accounts.list("u1") == app.accounts.list("u2") == []


def test_a_callback_without_a_code_spends_the_state_and_one_without_state_is_refused(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    start = app.accounts.begin_connect("u1", "youtube")
    params = query_of(consent(start.url))
    with pytest.raises(InvalidInputError, match="has no state"):
        app.accounts.complete_connect("u1", {"code": params["code"]})
    assert pending_row(sql_repo, start.state) is not None  # nothing names the attempt
    with pytest.raises(InvalidInputError, match="neither a code nor an error"):
        app.accounts.complete_connect("u1", {"state": params["state"]})
    assert_nothing_stored(sql_repo, start.state)
    other = app.accounts.begin_connect("u1", "youtube")
    with pytest.raises(InvalidInputError, match="code is longer than 4096"):
        app.accounts.complete_connect("u1", {"state": other.state, "code": "c" * 5000})
    assert_nothing_stored(sql_repo, other.state)
    with pytest.raises(InvalidInputError, match="callback must be"):
        app.accounts.complete_connect("u1", 42)  # type: ignore[arg-type]


def test_a_provider_without_a_connect_flow_is_a_configuration_error(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    with pytest.raises(ConfigurationError, match="no connect flow for provider 'myspace'"):
        app.accounts.begin_connect("u1", "myspace")
    assert count(sql_repo, "connect_states") == 0
    assert_nothing_stored(sql_repo)


def test_without_a_redirect_uri_anywhere_begin_is_a_configuration_error(
    build: Callable[..., SyncJobs], sql_repo: SQLAlchemyRepository
) -> None:
    app = build(oauth_redirect_uri=None)
    with pytest.raises(ConfigurationError, match="no OAuth redirect URI for tiktok"):
        app.accounts.begin_connect("u1", "tiktok")
    with pytest.raises(InvalidInputError, match="absolute http"):
        app.accounts.begin_connect("u1", "tiktok", redirect_uri="/oauth/callback")
    assert count(sql_repo, "connect_states") == 0
    start = app.accounts.begin_connect("u1", "tiktok", redirect_uri=REDIRECT)  # given: fine
    assert query_of(start.url)["redirect_uri"] == REDIRECT


def test_a_reconnect_of_another_owners_or_providers_account_is_refused(
    app: SyncJobs, sql_repo: SQLAlchemyRepository
) -> None:
    theirs = app.accounts.connect("u2", "gmail", {"access_token": "t"}, external_id="x@y.z")
    with pytest.raises(Exception, match="no account") as caught:
        app.accounts.begin_connect("u1", "gmail", account_id=theirs.id)
    assert type(caught.value).__name__ == "AccountNotFoundError"
    with pytest.raises(InvalidInputError, match="is a gmail account"):
        app.accounts.begin_connect("u2", "youtube", account_id=theirs.id)
    assert count(sql_repo, "connect_states") == 0


def test_the_upkeep_purges_expired_attempts(app: SyncJobs, sql_repo: SQLAlchemyRepository) -> None:
    app.accounts.begin_connect("u1", "tiktok")
    fresh = app.accounts.begin_connect("u1", "gmail")
    assert app.maintain()["connects_expired"] == 0
    ttl = app.settings.oauth_state_ttl
    with time_machine.travel(utcnow() + timedelta(seconds=ttl + 5), tick=False):
        kept = app.accounts.begin_connect("u1", "youtube")
        assert app.maintain()["connects_expired"] == 2
    assert pending_row(sql_repo, fresh.state) is None
    assert pending_row(sql_repo, kept.state) is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_plain_http_endpoints_are_refused_unless_on_loopback(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INSECURE_TRANSPORT, "1")  # not even when oauthlib would allow it
    flow = consent_flow(provider)
    config = ProviderConfig(client_id="cid", auth_url="http://accounts.example.com/auth")
    with pytest.raises(ConfigurationError, match="must be an https URL"):
        flow.authorization_url(config, redirect_uri=REDIRECT, state="s", code_verifier="v" * 43)
    insecure_token = ProviderConfig(
        client_id="cid",
        token_url="http://tokens.example.com/token",
        exchange_url="http://tokens.example.com/oauth/access_token",
    )
    with pytest.raises(ConfigurationError, match="must be an https URL"):
        flow.exchange(
            insecure_token, code="c", redirect_uri=REDIRECT, code_verifier="v" * 43, transport=None
        )


def test_the_loopback_allowance_ends_with_the_call(
    app: SyncJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(INSECURE_TRANSPORT, raising=False)
    start = app.accounts.begin_connect("u1", "youtube")  # http://127.0.0.1: allowed
    assert start.url.startswith("http://127.0.0.1")
    app.accounts.complete_connect("u1", consent(start.url))
    assert INSECURE_TRANSPORT not in os.environ


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_client_secret_is_a_configuration_error_that_never_shows_it(
    build: Callable[..., SyncJobs],
    sql_repo: SQLAlchemyRepository,
    fakes: CombinedFakes,
    root: str,
    provider: str,
) -> None:
    secret = "wrong-secret-4f1c9e"
    config = dataclasses.asdict(fakes.config(provider, root)) | {"client_secret": secret}
    app = build(**{provider: config})
    start = app.accounts.begin_connect("u1", provider)
    with pytest.raises(ConfigurationError, match="refused the app's OAuth client") as caught:
        app.accounts.complete_connect("u1", consent(start.url))
    assert secret not in str(caught.value)
    assert_nothing_stored(sql_repo, start.state)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_code_past_its_ten_minutes_is_refused_by_the_provider(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, fakes: CombinedFakes, provider: str
) -> None:
    fake = fakes[provider]
    start = app.accounts.begin_connect("u1", provider)
    location = consent(start.url)
    fake.clock = lambda: time.time() + 601  # the owner took long on the way back
    with pytest.raises(PermissionDeniedError, match="refused the authorisation code"):
        app.accounts.complete_connect("u1", location)
    assert_nothing_stored(sql_repo, start.state)


@pytest.mark.parametrize("provider", ["youtube", "tiktok", "instagram"])
def test_a_failing_token_endpoint_is_retriable_and_stores_nothing(
    app: SyncJobs, sql_repo: SQLAlchemyRepository, fakes: CombinedFakes, provider: str
) -> None:
    fakes[provider].inject("server_error", endpoint="token")
    start = app.accounts.begin_connect("u1", provider)
    with pytest.raises(ProviderUnavailableError, match="try again"):
        app.accounts.complete_connect("u1", consent(start.url))
    assert_nothing_stored(sql_repo, start.state)
