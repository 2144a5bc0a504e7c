"""The provider registry and the shared HTTP base, without sync runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest

import syncjobs.providers as providers
from syncjobs.errors import (
    ConfigurationError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthorizationRequiredError,
    ResourceNotFoundError,
    StaleCursorError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from syncjobs.providers import (
    DEFAULT_BASE_URLS,
    DEFAULT_TOKEN_URLS,
    GMAIL_BATCH_URL,
    get_provider,
    provider_names,
)
from syncjobs.providers.gmail import GmailProvider, batch_url_for
from syncjobs.providers.http import HTTPProvider
from syncjobs.providers.instagram import InstagramProvider
from syncjobs.providers.tiktok import TikTokProvider
from syncjobs.providers.types import Page, Provider, ProviderConfig, TokenSet
from syncjobs.providers.util import lock_for, parse_time, seconds_until_pacific_midnight, to_int
from syncjobs.providers.youtube import YouTubeProvider
from syncjobs.testing.fakes import FAKES

from .test_providers_support import harness

BUILTIN = {
    "youtube": YouTubeProvider,
    "gmail": GmailProvider,
    "instagram": InstagramProvider,
    "tiktok": TikTokProvider,
}


class AcmeProvider:
    """A third-party provider registered through an entry point."""

    name = "acme"

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def sync(self, cursor: Mapping[str, Any] | None, *, full: bool, known: Any) -> Iterator[Page]:
        yield Page(items=[], cursor={})

    def close(self) -> None:
        pass


def _with_plugins(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    monkeypatch.setattr(
        providers, "entry_points", lambda group: [e for e in entries if e.group == group]
    )


def test_builtin_providers_are_registered_by_name() -> None:
    assert provider_names() == ["gmail", "instagram", "tiktok", "youtube"]
    for name, cls in BUILTIN.items():
        assert get_provider(name) is cls
        assert getattr(providers, cls.__name__) is cls
        assert cls.name == name


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_provider("myspace")
    assert str(caught.value) == (
        "unknown provider 'myspace'; known providers: gmail, instagram, tiktok, youtube"
    )


def test_entry_point_providers_load_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    acme = EntryPoint("acme", f"{__name__}:AcmeProvider", "syncjobs.providers")
    other = EntryPoint("other", f"{__name__}:AcmeProvider", "somebody.else")
    _with_plugins(monkeypatch, acme, other)
    assert provider_names() == ["acme", "gmail", "instagram", "tiktok", "youtube"]
    factory = get_provider("acme")
    assert factory is AcmeProvider
    assert isinstance(factory(tokens=None), Provider)


def test_a_broken_entry_point_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugins(monkeypatch, EntryPoint("broken", "no_such_module:X", "syncjobs.providers"))
    with pytest.raises(ConfigurationError, match="provider 'broken' failed to load"):
        get_provider("broken")


@pytest.mark.parametrize("name", list(BUILTIN))
def test_adapters_default_to_the_real_endpoints(name: str) -> None:
    provider = get_provider(name)(
        tokens=TokenSet(access_token="a"), save_tokens=lambda t: None, config=ProviderConfig()
    )
    try:
        assert isinstance(provider, Provider)
        assert isinstance(provider, HTTPProvider)
        assert provider.base_url == DEFAULT_BASE_URLS[name]
        assert provider.token_url == DEFAULT_TOKEN_URLS[name]
        assert provider.config.timeout == 30.0
    finally:
        provider.close()


def test_gmail_batch_url_is_derived_from_the_base_url() -> None:
    assert batch_url_for(DEFAULT_BASE_URLS["gmail"]) == GMAIL_BATCH_URL
    assert batch_url_for("http://127.0.0.1:8080/gmail/gmail/v1/users/me") == (
        "http://127.0.0.1:8080/gmail/batch/gmail/v1"
    )
    assert batch_url_for("http://proxy.local/custom") == "http://proxy.local/batch/gmail/v1"


def test_page_size_is_clamped_to_what_the_api_allows() -> None:
    config = ProviderConfig()
    tokens = TokenSet(access_token="a")
    for cls, asked, used in [
        (YouTubeProvider, 500, 50),
        (TikTokProvider, 50, 20),
        (GmailProvider, None, 500),
    ]:
        provider = cls(tokens=tokens, save_tokens=lambda t: None, config=config, page_size=asked)
        assert provider.page_size == used
        provider.close()


def test_lock_for_returns_one_lock_per_account() -> None:
    assert lock_for("youtube:1") is lock_for("youtube:1")
    assert lock_for("youtube:1") is not lock_for("youtube:2")


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2025, 1, 15, 20, 0, tzinfo=UTC), 12 * 3600),
        (datetime(2025, 11, 2, 7, 30, tzinfo=UTC), 24 * 3600 + 1800),  # 00:30 PDT, a 25-hour day
        (datetime(2025, 6, 1, 7, 0, tzinfo=UTC), 24 * 3600),  # exactly midnight PDT
    ],
)
def test_seconds_until_pacific_midnight(now: datetime, seconds: float) -> None:
    assert seconds_until_pacific_midnight(now) == seconds


def test_time_and_count_parsing() -> None:
    assert parse_time("2019-04-05T07:56:32+0000") == datetime(2019, 4, 5, 7, 56, 32, tzinfo=UTC)
    assert parse_time("2024-01-31T12:00:00Z") == datetime(2024, 1, 31, 12, tzinfo=UTC)
    assert parse_time(1_700_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert [to_int("42"), to_int(7), to_int("x"), to_int(True), to_int(None)] == [
        42,
        7,
        None,
        None,
        None,
    ]


NOW = datetime(2025, 1, 15, 20, 0, tzinfo=UTC)


def _provider(cls: type[HTTPProvider]) -> HTTPProvider:
    tokens = TokenSet(access_token="secret-access", refresh_token="secret-refresh")
    return cls(
        tokens=tokens, save_tokens=lambda t: None, config=ProviderConfig(), clock=lambda: NOW
    )


def _google(status: int, reason: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "error": {"code": status, "message": "m", "errors": [{"reason": reason, "message": "m"}]}
    }
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("response", "endpoint", "error", "extra"),
    [
        (_google(400, "invalidPageToken"), "playlistItems.list", StaleCursorError, None),
        (_google(404, "playlistNotFound"), "playlistItems.list", StaleCursorError, None),
        (_google(404, "notFound"), "videos.list", ResourceNotFoundError, None),
        (_google(403, "forbidden"), "videos.list", PermissionDeniedError, None),
        (_google(403, "quotaExceeded"), "videos.list", RateLimitedError, 12 * 3600),
        (
            _google(403, "rateLimitExceeded", {"Retry-After": "5"}),
            "videos.list",
            RateLimitedError,
            5,
        ),
        (
            _google(429, "rateLimitExceeded", {"Retry-After": "0"}),
            "videos.list",
            RateLimitedError,
            "default",
        ),
        (_google(401, "authError"), "videos.list", TokenRejectedError, None),
        (_google(503, "backendError"), "videos.list", ProviderUnavailableError, None),
        (
            httpx.Response(502, text="<html>Bad Gateway</html>"),
            "videos.list",
            ProviderUnavailableError,
            None,
        ),
        (
            httpx.Response(400, json={"error": "invalid_grant"}),
            "token",
            ReauthorizationRequiredError,
            None,
        ),
        (httpx.Response(418, text="teapot"), "videos.list", UnexpectedResponseError, None),
    ],
)
def test_youtube_answers_map_to_the_error_tree(
    response: httpx.Response, endpoint: str, error: type[Exception], extra: object
) -> None:
    provider = _provider(YouTubeProvider)
    try:
        found = provider.classify(response, endpoint=endpoint)
        assert type(found) is error
        if isinstance(found, RateLimitedError):
            if extra == "default":
                assert 30 <= found.retry_after <= 37.5
            else:
                assert found.retry_after == extra
    finally:
        provider.close()


def test_retry_after_may_be_an_http_date() -> None:
    provider = _provider(GmailProvider)
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    try:
        found = provider.classify(
            _google(429, "rateLimitExceeded", {"Retry-After": when}), endpoint="x"
        )
        assert isinstance(found, RateLimitedError) and found.retry_after == 90
    finally:
        provider.close()


def test_graph_throttling_reads_the_business_use_case_header() -> None:
    provider = _provider(InstagramProvider)
    usage = (
        '{"1784": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]}'
    )
    body = {"error": {"code": 80002, "type": "OAuthException", "message": "throttled"}}
    try:
        found = provider.classify(
            httpx.Response(400, json=body, headers={"X-Business-Use-Case-Usage": usage}),
            endpoint="media",
        )
        assert isinstance(found, RateLimitedError) and found.retry_after == 7 * 60
    finally:
        provider.close()


def test_messages_scrub_tokens_and_token_query_values() -> None:
    provider = _provider(InstagramProvider)
    try:
        text = "GET /refresh_access_token?access_token=IGAAT123&x=1 used secret-access"
        assert provider.scrub(text) == "GET /refresh_access_token?access_token=***&x=1 used ***"
    finally:
        provider.close()


def test_concurrent_rejections_refresh_only_once() -> None:
    fake = FAKES["youtube"](items=3)
    with harness("youtube", fake=fake) as h:
        fake.inject("unauthorized")
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def call() -> None:
            barrier.wait()
            try:
                h.provider.call(
                    "GET",
                    "channels",
                    endpoint="channels.list",
                    params={"part": "id", "mine": "true"},
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert fake.refreshes == 1 and len(h.saved) == 1
