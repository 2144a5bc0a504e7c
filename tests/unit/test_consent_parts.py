"""The consent flows' parts: PKCE challenges, loopback-only plain http, scope changes."""

from __future__ import annotations

import os
import threading

import pytest

from syncjobs import ConfigurationError, MissingScopesError
from syncjobs.connections.connect import callback_query
from syncjobs.providers.consent import consent_flow
from syncjobs.providers.consent.base import is_loopback, s256_challenge
from syncjobs.providers.consent.google import YouTubeConsent
from syncjobs.providers.consent.instagram import long_lived_url
from syncjobs.providers.consent.loopback import INSECURE_TRANSPORT, loopback_http
from syncjobs.providers.consent.tiktok import hex_challenge


def test_pkce_challenges_follow_rfc_7636_and_tiktoks_hex_format() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert hex_challenge(verifier) == (
        "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3"
    )
    for name in ("youtube", "tiktok"):
        verifier = consent_flow(name).new_code_verifier()
        assert verifier is not None and 43 <= len(verifier) <= 128
    assert consent_flow("instagram").new_code_verifier() is None


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/token", True),
        ("http://localhost/token", True),
        ("http://[::1]:9/token", True),
        ("http://127.0.0.1.example.com/token", False),
        ("http://accounts.example.com/token", False),
    ],
)
def test_only_this_machine_counts_as_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_plain_http_elsewhere_is_refused_before_oauthlib_sees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(INSECURE_TRANSPORT, raising=False)
    with (
        pytest.raises(ConfigurationError, match="must be an https URL"),
        loopback_http("http://accounts.example.com/auth"),
    ):
        pass  # pragma: no cover
    assert INSECURE_TRANSPORT not in os.environ


def test_the_allowance_holds_while_any_loopback_call_runs_then_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(INSECURE_TRANSPORT, raising=False)
    inside = threading.Barrier(8)
    seen: list[str | None] = []

    def call() -> None:
        with loopback_http("http://127.0.0.1:1/token"):
            inside.wait()  # all eight inside at once
            seen.append(os.environ.get(INSECURE_TRANSPORT))
            inside.wait()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["1"] * 8
    assert INSECURE_TRANSPORT not in os.environ
    with loopback_http("https://oauth2.googleapis.com/token"):
        assert INSECURE_TRANSPORT not in os.environ  # https needs no allowance


def test_a_hosts_own_setting_is_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INSECURE_TRANSPORT, "yes")
    with loopback_http("http://localhost/token"):
        assert os.environ[INSECURE_TRANSPORT] == "1"
    assert os.environ[INSECURE_TRANSPORT] == "yes"


def _scope_warning(old: list[str], new: list[str]) -> Warning:
    warning = Warning("Scope has changed")
    warning.old_scope = old  # type: ignore[attr-defined]
    warning.new_scope = new  # type: ignore[attr-defined]
    return warning


def test_google_granting_more_scopes_is_fine_and_fewer_is_missing_scopes() -> None:
    flow = YouTubeConsent()
    asked = list(flow.scopes)
    flow.check_scope_change(_scope_warning(asked, [*asked, "openid"]))  # earlier grants too
    with pytest.raises(MissingScopesError) as caught:
        flow.check_scope_change(_scope_warning(asked, ["openid"]))
    assert caught.value.missing == asked and caught.value.provider == "youtube"


def test_instagrams_long_lived_exchange_is_the_refresh_endpoints_sibling() -> None:
    assert long_lived_url("https://graph.instagram.com/refresh_access_token") == (
        "https://graph.instagram.com/access_token"
    )
    assert long_lived_url("http://127.0.0.1:5/instagram/v21.0/refresh_access_token") == (
        "http://127.0.0.1:5/instagram/v21.0/access_token"
    )


def test_a_callback_reads_the_same_from_a_url_a_query_string_or_a_mapping() -> None:
    want = {"state": "s t", "code": "c/1"}
    assert callback_query("https://app.example.com/cb?state=s+t&code=c%2F1#_") == want
    assert callback_query("?state=s+t&code=c%2F1") == want
    assert callback_query("state=s+t&code=c%2F1") == want
    assert callback_query({"state": "s t", "code": "c/1"}) == want
    assert callback_query({"state": ["s t"], "code": ["c/1", "c/2"]}) == want  # parse_qs
