"""Token refresh and error mapping of the four adapters against the fake servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest

from syncjobs.errors import (
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthorizationRequiredError,
    UnexpectedResponseError,
)
from syncjobs.testing.fakes import FAKES, MALFORMED_VARIANTS

from .test_providers_support import PROVIDERS, Harness, assert_clean, build, harness

#: What the first list call of a full sync is named at each fake.
FULL_LIST = {
    "youtube": "playlistItems.list",
    "gmail": "messages.list",
    "instagram": "media",
    "tiktok": "video.list",
}
#: Instagram refreshes only tokens >= 24 h old: issue old ones whose age the adapter does not know.
OLD = 2 * 86400


def _raises(h: Harness, error: type[ProviderError], **sync: object) -> ProviderError:
    with pytest.raises(error) as caught:
        h.sync(**sync)  # type: ignore[arg-type]
    assert caught.value.provider == h.name
    assert_clean(caught.value, h.secrets())
    return caught.value


def _unknown_age(fake: object) -> object:
    tokens = fake.issue_tokens(age=OLD)  # type: ignore[attr-defined]
    return tokens.model_copy(update={"issued_at": None})


def _harness(name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    fake = FAKES[name](items=30)
    tokens = _unknown_age(fake) if name == "instagram" else fake.issue_tokens()
    return harness(name, fake=fake, tokens=tokens, **kwargs)  # type: ignore[arg-type]


# -- token refresh ------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_rejected_token_is_refreshed_once_saved_and_the_call_retried(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("unauthorized")
        h.sync()
        assert h.matches()
        assert h.fake.refreshes == 1 and len(h.saved) == 1
        new = h.saved[0]
        assert new.access_token != h.tokens.access_token
        assert h.provider.tokens == new
        assert new.issued_at is not None and new.expires_at is not None
        assert new.expires_at > new.issued_at
        if name in ("youtube", "gmail"):
            assert new.refresh_token == h.tokens.refresh_token
        if name == "instagram":
            assert new.refresh_token is None and new.expires_at - new.issued_at == timedelta(
                days=60
            )
        # Counting: the rejected call, the refresh and the retry are all calls.
        assert h.provider.api_calls == h.fake.requests


def test_tiktok_stores_the_rotated_refresh_token_before_using_it() -> None:
    with _harness("tiktok") as h:
        order: list[str] = []
        saved = h.saved
        h.provider._save_tokens = lambda t: (order.append("saved"), saved.append(t))  # type: ignore[method-assign]
        h.fake.inject("unauthorized")
        h.sync()
        assert order == ["saved"]
        rotated = h.saved[0]
        assert rotated.refresh_token and rotated.refresh_token != h.tokens.refresh_token
        assert rotated.refresh_expires_at is not None
        # The old refresh token is dead now; the rotated one keeps working.
        h.fake.inject("unauthorized")
        h.sync()
        assert len(h.saved) == 2 and h.saved[1].refresh_token != rotated.refresh_token
        stale = h.reconnect(tokens=h.tokens)
        h.fake.inject("unauthorized")
        with pytest.raises(ReauthorizationRequiredError) as caught:
            list(stale.sync(None, full=True, known=lambda ids: set()))
        assert caught.value.reason == "invalid_grant"
        assert_clean(caught.value, h.secrets())


@pytest.mark.parametrize("name", ["youtube", "gmail", "tiktok"])
def test_a_token_near_expiry_is_refreshed_before_the_first_call(name: str) -> None:
    fake = FAKES[name](items=5)
    with harness(name, fake=fake, tokens=fake.issue_tokens(expires_in=120)) as h:
        h.sync()
        assert h.fake.refreshes == 1 and len(h.saved) == 1
        assert h.provider.tokens is h.saved[0]
        # The refresh counts on page 1: refresh + (channels | profile) + list + details.
        assert h.store.pages[0].api_calls == {"youtube": 4, "gmail": 4, "tiktok": 2}[name]
        assert sum(p.api_calls for p in h.store.pages) == h.fake.requests
        assert h.matches()


def test_instagram_refreshes_a_token_older_than_a_day_and_keeps_younger_ones() -> None:
    fake = FAKES["instagram"](items=5)
    with harness("instagram", fake=fake, tokens=fake.issue_tokens(age=25 * 3600)) as h:
        h.sync()
        assert h.fake.refreshes == 1 and h.fake.calls["token"] == 1
        h.sync()  # the fresh token is young: no second refresh
        assert h.fake.refreshes == 1
    fake = FAKES["instagram"](items=5)
    with harness("instagram", fake=fake, tokens=fake.issue_tokens(age=3600)) as h:
        h.sync()
        assert h.fake.refreshes == 0 and h.saved == []


def test_instagram_expired_token_needs_reauthorization_without_a_call() -> None:
    fake = FAKES["instagram"](items=5)
    with harness("instagram", fake=fake, tokens=fake.issue_tokens(expires_in=60, age=120)) as h:
        error = _raises(h, ReauthorizationRequiredError)
        assert "expired" in str(error)
        assert h.fake.requests == 0


def test_instagram_young_rejected_token_needs_reauthorization() -> None:
    fake = FAKES["instagram"](items=5)
    with harness("instagram", fake=fake, tokens=fake.issue_tokens(age=60)) as h:
        h.fake.inject("unauthorized")
        _raises(h, ReauthorizationRequiredError)
        assert h.fake.calls["token"] == 0


@pytest.mark.parametrize("name", PROVIDERS)
def test_invalid_grant_on_refresh_requires_reauthorization(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("unauthorized")
        h.fake.inject("invalid_grant")
        error = _raises(h, ReauthorizationRequiredError)
        assert error.reason == ("190" if name == "instagram" else "invalid_grant")
        assert h.saved == []
        assert h.fake.calls["token"] == 1


@pytest.mark.parametrize("name", ["youtube", "gmail", "tiktok"])
def test_a_second_rejection_after_refresh_requires_reauthorization(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("unauthorized", count=2)
        error = _raises(h, ReauthorizationRequiredError)
        assert error.status_code == 401
        assert h.fake.refreshes == 1


@pytest.mark.parametrize("name", ["youtube", "gmail", "tiktok"])
def test_a_failing_token_endpoint_is_unavailable_not_reauth(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("google.auth._exponential_backoff.time.sleep", lambda seconds: None)
    with _harness(name) as h:
        h.fake.inject("unauthorized")
        h.fake.inject("server_error", count=3, endpoint="token")
        _raises(h, ProviderUnavailableError)


# -- rate limits and quota ----------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_rate_limit_retry_after_is_the_providers_header(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("rate_limit", retry_after=17)
        error = _raises(h, RateLimitedError)
        assert isinstance(error, RateLimitedError) and error.retry_after == 17
        assert error.reason in ("rateLimitExceeded", "4", "rate_limit_exceeded")


@pytest.mark.parametrize("name", PROVIDERS)
def test_rate_limit_without_retry_after_backs_off_with_jitter(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("rate_limit", retry_after=None)
        error = _raises(h, RateLimitedError)
        assert isinstance(error, RateLimitedError) and 30 <= error.retry_after <= 37.5


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        ("2025-01-15T20:00:00+00:00", 12 * 3600),  # noon PST
        ("2025-07-01T06:59:00+00:00", 60),  # 23:59 PDT
        ("2025-03-09T08:30:00+00:00", 22 * 3600 + 1800),  # 00:30 PST on a 23-hour day
    ],
)
@pytest.mark.parametrize("name", ["youtube", "gmail"])
def test_daily_quota_waits_until_midnight_pacific(name: str, now: str, seconds: int) -> None:
    clock_value = datetime.fromisoformat(now)
    with _harness(name, clock=lambda: clock_value) as h:
        h.fake.inject("quota_exceeded")
        error = _raises(h, RateLimitedError)
        assert isinstance(error, RateLimitedError)
        assert error.retry_after == seconds
        assert error.reason == ("quotaExceeded" if name == "youtube" else "dailyLimitExceeded")


# -- server errors, timeouts, malformed payloads ------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_server_errors_are_unavailable(name: str) -> None:
    with _harness(name) as h:
        h.fake.inject("server_error")
        error = _raises(h, ProviderUnavailableError)
        assert error.status_code == 500


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_timeout_is_unavailable(name: str) -> None:
    with _harness(name, loopback=True, timeout=0.25) as h:
        h.fake.inject("timeout", seconds=0.6)
        error = _raises(h, ProviderUnavailableError)
        assert error.reason == "timeout"


def test_a_refused_connection_is_unavailable() -> None:
    fake = FAKES["tiktok"](items=1)
    provider = build(fake, "tiktok", root="http://127.0.0.1:9", timeout=1.0)
    try:
        with pytest.raises(ProviderUnavailableError) as caught:
            list(provider.sync(None, full=False, known=lambda ids: set()))
        assert caught.value.reason == "connection_error"
    finally:
        provider.close()


@pytest.mark.parametrize("variant", sorted(MALFORMED_VARIANTS))
@pytest.mark.parametrize("name", PROVIDERS)
def test_malformed_payloads_are_unexpected(name: str, variant: str) -> None:
    with _harness(name) as h:
        h.fake.inject("malformed", variant=variant, endpoint=FULL_LIST[name])
        error = _raises(h, UnexpectedResponseError)
        assert error.reason == "invalid_payload"


@pytest.mark.parametrize("variant", ["wrong_type", "missing_ids", "not_json"])
def test_malformed_gmail_history_and_batch_parts_are_unexpected(variant: str) -> None:
    with _harness("gmail") as h:
        h.fake.inject("malformed", variant=variant, endpoint="messages.get")
        _raises(h, UnexpectedResponseError)
        h.store.cursor = None
        h.sync()
        h.fake.add_items(1)
        h.fake.inject("malformed", variant=variant, endpoint="history.list")
        _raises(h, UnexpectedResponseError)


def test_youtube_forbidden_is_permission_denied() -> None:
    def forbid(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": 403, "message": "Forbidden", "errors": [{"reason": "forbidden"}]}}
        return httpx.Response(403, json=body)

    with _harness("youtube", transport=httpx.MockTransport(forbid)) as h:
        error = _raises(h, PermissionDeniedError)
        assert error.reason == "forbidden"


@pytest.mark.parametrize(
    ("body", "error", "reason"),
    [
        (
            {"error": {"code": 10, "type": "OAuthException", "message": "denied"}},
            PermissionDeniedError,
            "10",
        ),
        (
            {"error": {"code": 200, "type": "OAuthException", "message": "x"}},
            PermissionDeniedError,
            "200",
        ),
        ({"error": {"code": 17, "type": "OAuthException", "message": "x"}}, RateLimitedError, "17"),
        (
            {"error": {"code": 613, "type": "OAuthException", "message": "x"}},
            RateLimitedError,
            "613",
        ),
        (
            {"error": {"code": 1, "type": "OAuthException", "message": "x"}},
            ProviderUnavailableError,
            "1",
        ),
    ],
)
def test_instagram_errors_key_on_the_graph_code_not_the_status(
    body: dict[str, object], error: type[ProviderError], reason: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(400, json=body))
    with _harness("instagram", transport=transport) as h:
        assert _raises(h, error).reason == reason


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("scope_not_authorized", 401, PermissionDeniedError),
        ("rate_limit_exceeded", 200, RateLimitedError),
        ("internal_error", 200, ProviderUnavailableError),
        ("invalid_params", 400, UnexpectedResponseError),
    ],
)
def test_tiktok_envelope_errors_count_even_with_http_200(
    code: str, status: int, error: type[ProviderError]
) -> None:
    body = {"data": {}, "error": {"code": code, "message": "m", "log_id": "1"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    with _harness("tiktok", transport=transport) as h:
        assert _raises(h, error).reason == code
        assert h.fake.refreshes == 0


# -- Gmail specifics ----------------------------------------------------------------------


def test_gmail_stale_history_runs_a_full_resync() -> None:
    with _harness("gmail") as h:
        h.sync()
        h.fake.add_items(2)
        h.fake.delete_items(list(h.fake.dataset())[-3:])
        h.fake.inject("stale_history")
        h.fake.reset_counters()
        pages = h.sync()
        assert pages[0].full_resync and not any(p.full_resync for p in pages[1:])
        assert h.fake.calls["history.list"] == 1 and h.fake.calls["profile"] == 1
        assert h.fake.calls["messages.get"] == 2  # known messages are not fetched again
        assert h.matches()  # the job's sweep drops what the full run did not see


def test_gmail_expired_history_retention_runs_a_full_resync() -> None:
    with _harness("gmail") as h:
        h.sync()
        h.fake.history_retention = 2
        h.fake.change_items(5)
        pages = h.sync()
        assert pages[0].full_resync
        h.fake.history_retention = None
        h.fake.add_items(1)
        pages = h.sync()
        assert not pages[0].full_resync
        assert len(pages[0].items) == 1


def test_gmail_retries_failed_batch_parts_once() -> None:
    with _harness("gmail") as h:
        h.fake.inject("server_error", endpoint="messages.get", count=2)
        h.sync()
        assert h.matches()
        assert h.fake.calls["batch"] == 3  # list pages of 20 and 10, plus one retry batch
        # The adapter counts 5 units for every part it sends; the fake does not charge the
        # two parts it throttled (the API does not say), so we count 10 more.
        assert h.provider.quota_units == h.fake.quota_units + 10


def test_a_rate_limited_gmail_batch_part_waits_its_retry_after() -> None:
    with _harness("gmail") as h:
        h.fake.inject("rate_limit", endpoint="messages.get", count=1, retry_after=7)
        error = _raises(h, RateLimitedError)
        assert isinstance(error, RateLimitedError) and error.retry_after == 7
        assert h.fake.calls["batch"] == 1  # not re-sent before the provider allows


def test_gmail_batch_parts_failing_twice_raise_their_error() -> None:
    with _harness("gmail") as h:
        h.fake.inject("rate_limit", endpoint="messages.get", count=100, retry_after=9)
        error = _raises(h, RateLimitedError)
        assert isinstance(error, RateLimitedError) and error.retry_after == 9
        assert h.store.items == {}


def test_gmail_skips_a_message_deleted_between_list_and_get() -> None:
    fake = FAKES["gmail"](items=30)
    inner = fake.transport()
    victims: list[str] = []

    def delete_before_first_batch(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/batch") and not victims:
            victims.extend(fake.delete_items(1))
        response = inner.handle_request(request)
        response.read()
        return response

    with harness("gmail", fake=fake, transport=httpx.MockTransport(delete_before_first_batch)) as h:
        h.sync()
        assert victims and victims[0] not in h.store.items
        assert h.matches()
        h.sync()  # history then reports the delete
        assert h.matches()


# -- pagination loops and secrets -----------------------------------------------------------


def _looping(name: str) -> Callable[[httpx.Request], httpx.Response]:
    def tiktok(request: httpx.Request) -> httpx.Response:
        video = {"id": "7", "create_time": 1_700_000_000}
        data = {"videos": [video], "cursor": 1_700_000_000_000, "has_more": True}
        return httpx.Response(
            200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": ""}}
        )

    def instagram(request: httpx.Request) -> httpx.Response:
        media = {"id": "1", "timestamp": "2024-01-01T00:00:00+0000"}
        paging = {"cursors": {"after": "same"}, "next": "http://fake/next"}
        return httpx.Response(200, json={"data": [media], "paging": paging, "media_count": 9})

    return {"tiktok": tiktok, "instagram": instagram}[name]


@pytest.mark.parametrize("name", ["tiktok", "instagram"])
def test_a_repeated_page_cursor_is_a_pagination_loop(name: str) -> None:
    with _harness(name, transport=httpx.MockTransport(_looping(name))) as h:
        error = _raises(h, UnexpectedResponseError)
        assert "pagination loop" in str(error)
        assert len(h.store.pages) == 1


def test_instagram_refresh_errors_never_show_the_token_in_the_url() -> None:
    fake = FAKES["instagram"](items=3)
    tokens = fake.issue_tokens(age=OLD)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with harness(
        "instagram", fake=fake, tokens=tokens, transport=httpx.MockTransport(refused)
    ) as h:
        error = _raises(h, ProviderUnavailableError)
        assert error.__cause__ is None and error.__suppress_context__
    with harness("instagram", fake=FAKES["instagram"](items=3), tokens=tokens) as h:
        h.fake.inject("server_error", endpoint="token")
        _raises(h, ProviderUnavailableError)


def test_error_messages_scrub_tokens_the_provider_echoes() -> None:
    fake = FAKES["tiktok"](items=1)
    tokens = fake.issue_tokens()
    echo = {
        "data": {},
        "error": {"code": "invalid_params", "message": f"bad token {tokens.access_token}"},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(400, content=json.dumps(echo)))
    with harness("tiktok", fake=fake, tokens=tokens, transport=transport) as h:
        error = _raises(h, UnexpectedResponseError)
        assert "bad token ***" in str(error)
