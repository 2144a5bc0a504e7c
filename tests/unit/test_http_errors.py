"""The shared HTTP error mapper: meanings, error classes, transport errors, redaction."""

from __future__ import annotations

import logging

import httpx
import pytest

from syncjobs._http import (
    ErrorMap,
    Meaning,
    error_for,
    install_log_redaction,
    meaning_of,
    scrub,
    send,
)
from syncjobs._http.redact import LOGGERS
from syncjobs.errors import (
    FatalError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResourceNotFoundError,
    TokenRejectedError,
    UnexpectedResponseError,
)


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (429, Meaning.RATE_LIMITED),
        (401, Meaning.TOKEN_REJECTED),
        (403, Meaning.PERMISSION_DENIED),
        (404, Meaning.NOT_FOUND),
        (408, Meaning.UNAVAILABLE),
        (500, Meaning.UNAVAILABLE),
        (503, Meaning.UNAVAILABLE),
        (400, Meaning.UNEXPECTED),
        (425, Meaning.UNEXPECTED),
    ],
)
def test_status_alone(status: int, meaning: Meaning) -> None:
    assert meaning_of(status) is meaning


def test_reasons_win_in_a_fixed_order() -> None:
    reasons = {
        Meaning.STALE_CURSOR: {"invalidPageToken"},
        Meaning.RATE_LIMITED: {"slow"},
        Meaning.PERMISSION_DENIED: {"forbidden"},
        Meaning.UNAVAILABLE: {"backendError"},
    }
    assert meaning_of(400, "invalidPageToken", reasons=reasons) is Meaning.STALE_CURSOR
    assert meaning_of(403, "slow", reasons=reasons) is Meaning.RATE_LIMITED
    assert meaning_of(401, "forbidden", reasons=reasons) is Meaning.PERMISSION_DENIED
    assert meaning_of(401, "backendError", reasons=reasons) is Meaning.TOKEN_REJECTED
    assert meaning_of(404, "backendError", reasons=reasons) is Meaning.UNAVAILABLE
    assert meaning_of(425, unavailable={425}) is Meaning.UNAVAILABLE


def test_error_for_builds_the_class_of_each_meaning() -> None:
    cases = {
        Meaning.RATE_LIMITED: RateLimitedError,
        Meaning.TOKEN_REJECTED: TokenRejectedError,
        Meaning.PERMISSION_DENIED: PermissionDeniedError,
        Meaning.UNAVAILABLE: ProviderUnavailableError,
        Meaning.NOT_FOUND: ResourceNotFoundError,
        Meaning.UNEXPECTED: UnexpectedResponseError,
    }
    for meaning, kind in cases.items():
        error = error_for(meaning, "m", provider="p", status_code=400, retry_after=3)
        assert type(error) is kind and error.provider == "p" and error.status_code == 400
    limited = error_for(Meaning.RATE_LIMITED, "m", provider="p", retry_after=3)
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 3


def test_an_error_map_words_and_classes() -> None:
    errors = ErrorMap(
        provider="hook",
        default_retry_after=60.0,
        phrases={Meaning.RATE_LIMITED: "slow down", Meaning.UNEXPECTED: "refused"},
        types={Meaning.RATE_LIMITED: RateLimitedError, Meaning.UNEXPECTED: FatalError},
    )
    assert errors.error(httpx.Response(204), label="x") is None
    limited = errors.error(httpx.Response(429, headers={"Retry-After": "7"}), label="x")
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 7
    assert str(limited) == "x: slow down (HTTP 429), retry in 7s"
    waited = errors.error(httpx.Response(429), label="x")
    assert isinstance(waited, RateLimitedError) and waited.retry_after == 60
    refused = errors.error(httpx.Response(404), label="x", detail="gone")
    assert type(refused) is FatalError and str(refused) == "x: refused (HTTP 404): gone"


def _failing(exc: Exception) -> httpx.Response:
    raise exc


def test_send_maps_transport_errors_without_keeping_them() -> None:
    request = httpx.Request("GET", "http://x/?access_token=SECRET")
    with pytest.raises(ProviderUnavailableError) as timed_out:
        send(lambda: _failing(httpx.ReadTimeout("t", request=request)), label="a", provider="p")
    assert (
        timed_out.value.reason == "timeout" and str(timed_out.value) == "a: the request timed out"
    )
    assert timed_out.value.__cause__ is None and timed_out.value.__context__ is None
    with pytest.raises(ProviderUnavailableError) as refused:
        send(
            lambda: _failing(httpx.ConnectError("SECRET", request=request)),
            label="a",
            provider="p",
            timeout=2,
            connection_reason="connection_error",
            chain=True,
        )
    assert refused.value.reason == "connection_error"
    assert isinstance(refused.value.__cause__, httpx.ConnectError)


def test_scrub() -> None:
    text = "tok1 and ?access_token=abc&x=1 and sk-live-123"
    assert scrub(text, ["tok1", None]) == "*** and ?access_token=***&x=1 and ***"


def test_log_redaction_is_installed_once_and_scrubs(caplog: pytest.LogCaptureFixture) -> None:
    first = install_log_redaction("KEY-123")
    assert install_log_redaction() is first
    for name in LOGGERS:
        assert logging.getLogger(name).filters.count(first) == 1
    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info("GET %s with KEY-123", "http://x/?access_token=abc&code=9")
    assert "abc" not in caplog.text and "KEY-123" not in caplog.text and "code=9" not in caplog.text
