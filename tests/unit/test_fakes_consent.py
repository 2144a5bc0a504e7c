"""The fakes' consent pages and code exchanges, driven over loopback like a browser and a server.

Each test plays the owner's browser (``GET`` the consent page, read the ``302``) and the
application's server (exchange the code at the token endpoint), then uses the tokens with the
real adapters of :mod:`syncjobs.providers`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from syncjobs.providers import SYNC_SCOPES, get_provider
from syncjobs.providers.types import ProviderConfig, TokenSet
from syncjobs.testing.fakes import (
    FAKES,
    CombinedFakes,
    FakeGmail,
    FakeInstagram,
    FakeProvider,
    FakeTikTok,
    FakeYouTube,
    serve,
)
from syncjobs.testing.fakes.consent import CODE_TTL, pkce_challenge

PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]
PKCE_PROVIDERS = ["youtube", "gmail", "tiktok"]
CALLBACK = "https://app.example/oauth/callback"


@dataclass
class Session:
    """A fake served on loopback, its config, a client that never follows redirects."""

    name: str
    fake: Any
    config: ProviderConfig
    client: httpx.Client
    verifier: str
    now: list[float]

    @property
    def client_param(self) -> str:
        return "client_key" if self.name == "tiktok" else "client_id"

    @property
    def sep(self) -> str:
        return " " if self.name in ("youtube", "gmail") else ","

    def consent(self, scopes: list[str] | None = None, **overrides: str | None) -> httpx.Response:
        """The browser opening the consent page (query as each provider spells it)."""
        query: dict[str, str | None] = {
            self.client_param: self.fake.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": self.sep.join(scopes or SYNC_SCOPES[self.name]),
            "state": "state-123",
        }
        if self.name in ("youtube", "gmail"):
            query |= {"access_type": "offline", "prompt": "consent"}
            query |= {"include_granted_scopes": "true"}
        if self.name != "instagram":
            hex_digest = self.name == "tiktok"
            query["code_challenge"] = pkce_challenge(self.verifier, hex_digest=hex_digest)
            query["code_challenge_method"] = "S256"
        query |= overrides
        params = {key: value for key, value in query.items() if value is not None}
        return self.client.get(str(self.config.auth_url), params=params)

    def code(self, **overrides: str | None) -> str:
        """Consent and return the callback's code."""
        return callback(self.consent(**overrides))["code"]

    def exchange(self, code: str, **overrides: str | None) -> httpx.Response:
        """The application's server exchanging ``code``."""
        form: dict[str, str | None] = {
            self.client_param: self.fake.client_id,
            "client_secret": self.fake.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": CALLBACK,
            "code": code,
        }
        if self.name != "instagram":
            form["code_verifier"] = self.verifier
        form |= overrides
        url = self.config.exchange_url or self.config.token_url
        data = {key: value for key, value in form.items() if value is not None}
        return self.client.post(str(url), data=data)

    def long_lived(self, short: str, secret: str | None = None) -> httpx.Response:
        """Instagram's short-lived -> long-lived exchange (``token_url``'s sibling)."""
        url = str(self.config.token_url).rsplit("/", 1)[0] + "/access_token"
        params = {
            "grant_type": "ig_exchange_token",
            "client_secret": secret or self.fake.client_secret,
            "access_token": short,
        }
        return self.client.get(url, params=params)

    def tokens(self) -> TokenSet:
        """The whole connect: consent, exchange (and Instagram's long-lived step)."""
        answer = self.exchange(self.code())
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if self.name == "instagram":
            answer = self.long_lived(body["data"][0]["access_token"])
            assert answer.status_code == 200, answer.text
            body = answer.json()
        now = datetime.now(UTC)
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=now + timedelta(seconds=body["expires_in"]),
            issued_at=now,
            scope=body.get("scope"),
        )


@contextmanager
def session(name: str, fake: FakeProvider | None = None) -> Iterator[Session]:
    """Serve a fresh fake (clock held still, moved by tests) and open a client."""
    fake = fake or FAKES[name](items=12, seed=3)
    now = [datetime.now(UTC).timestamp()]
    fake.clock = lambda: now[0]
    verifier = secrets.token_urlsafe(48)
    with serve(fake) as root, httpx.Client(follow_redirects=False, timeout=10) as client:
        yield Session(name, fake, fake.config(root), client, verifier, now)


def callback(response: httpx.Response) -> dict[str, str]:
    """The callback's query parameters from a consent redirect."""
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def granted_in_exchange(name: str, body: dict[str, Any]) -> list[str]:
    """The scopes the token endpoint says were granted."""
    if name == "instagram":
        return str(body["data"][0]["permissions"]).split(",")
    return str(body["scope"]).split(" " if name in ("youtube", "gmail") else ",")


def assert_invalid_grant(name: str, response: httpx.Response) -> None:
    """The provider's spent/unknown/expired code answer."""
    assert response.status_code == 400
    body = response.json()
    if name == "instagram":
        assert body == {
            "error_type": "OAuthException",
            "code": 400,
            "error_message": "Invalid authorization code",
        }
    elif name == "tiktok":
        assert body["error"] == "invalid_grant"
        assert body["error_description"] == "Authorization code is expired."
        assert body["log_id"]
    else:
        assert body == {"error": "invalid_grant", "error_description": "Bad Request"}


# --------------------------------------------------------------------------- consent


@pytest.mark.parametrize("name", PROVIDERS)
def test_consent_redirects_with_code_state_and_granted_scopes(name: str) -> None:
    with session(name) as s:
        answer = s.consent()
        location = answer.headers["location"]
        assert location.startswith(CALLBACK + "?")
        query = callback(answer)
        assert query["code"] and query["state"] == "state-123"
        wanted = list(SYNC_SCOPES[name])
        if name in ("youtube", "gmail"):
            assert query["scope"].split(" ") == wanted
        elif name == "tiktok":
            assert query["scopes"].split(",") == wanted
        else:
            assert location.endswith("#_")
            assert "scope" not in query and "scopes" not in query
        assert s.fake.calls["authorize"] == 1
        assert s.fake.quota_units == 0 and len(s.fake.codes) == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_denied_consent_redirects_with_access_denied_and_no_code(name: str) -> None:
    with session(name) as s:
        s.fake.consent = "denied"
        query = callback(s.consent())
        assert query["error"] == "access_denied" and query["state"] == "state-123"
        assert "code" not in query and len(s.fake.codes) == 0
        if name == "instagram":
            assert query["error_reason"] == "user_denied"
            assert query["error_description"] == "The user denied your request."
        if name == "tiktok":
            assert query["error_description"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_unticked_scopes_are_left_out_of_the_grant(name: str) -> None:
    kept = SYNC_SCOPES[name][0]
    with session(name) as s:
        s.fake.granted_scopes = [kept]
        query = callback(s.consent())
        if name in ("youtube", "gmail"):
            assert query["scope"] == kept
        elif name == "tiktok":
            assert query["scopes"] == kept
        answer = s.exchange(query["code"])
        assert answer.status_code == 200, answer.text
        assert granted_in_exchange(name, answer.json()) == [kept]


@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_scope_redirects_with_invalid_scope(name: str) -> None:
    with session(name) as s:
        query = callback(s.consent(scopes=[*SYNC_SCOPES[name], "not.a.scope"]))
        assert query["error"] == "invalid_scope" and query["state"] == "state-123"
        assert "not.a.scope" in query["error_description"] and "code" not in query


@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_client_gets_an_error_page_not_a_redirect(name: str) -> None:
    with session(name) as s:
        answer = s.consent(**{s.client_param: "someone-else"})
        assert answer.status_code in (400, 401) and "location" not in answer.headers
        body = answer.json()
        if name == "instagram":
            assert body["error_type"] == "OAuthException"
            assert body["error_message"] == "Invalid platform app"
        else:
            assert body["error"] == "invalid_client"
        # The code exchange refuses an unknown client too, without spending the code.
        code = s.code()
        refused = s.exchange(code, **{s.client_param: "someone-else"})
        assert refused.status_code in (400, 401)
        assert s.exchange(code).status_code == 200


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": None},
        {"redirect_uri": "/oauth/callback"},
        {"redirect_uri": "ftp://app.example/cb"},
        {"redirect_uri": "http://[::1/cb"},
        {"redirect_uri": CALLBACK + "#frag"},
        {"response_type": "token"},
    ],
    ids=["no-redirect", "relative-redirect", "not-http", "unparsable", "fragment", "response-type"],
)
def test_bad_consent_queries_get_a_400_and_issue_nothing(
    name: str, overrides: dict[str, str | None]
) -> None:
    with session(name) as s:
        answer = s.consent(**overrides)
        assert answer.status_code == 400 and "location" not in answer.headers
        assert answer.json() and len(s.fake.codes) == 0


@pytest.mark.parametrize("name", PROVIDERS)
def test_registered_redirect_uris_are_enforced(name: str) -> None:
    with session(name) as s:
        s.fake.redirect_uris = ["https://app.example/other"]
        assert s.consent().status_code == 400
        s.fake.redirect_uris = [CALLBACK]
        assert s.consent().status_code == 302


def test_tiktok_consent_needs_a_code_challenge() -> None:
    with session("tiktok") as s:
        answer = s.consent(code_challenge=None, code_challenge_method=None)
        assert answer.status_code == 400
        assert answer.json()["error_description"] == "Code verifier or code challenge is invalid."


def test_consent_works_behind_combined_fakes() -> None:
    combined = CombinedFakes(items_per_provider=5, seed=1)
    with serve(combined) as root, httpx.Client(follow_redirects=False) as client:
        for name in PROVIDERS:
            config = combined.config(name, root)
            assert str(config.auth_url).startswith(f"{root}/{name}/")
            client_param = "client_key" if name == "tiktok" else "client_id"
            params = {
                client_param: combined[name].client_id,
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "scope": (" " if name in ("youtube", "gmail") else ",").join(SYNC_SCOPES[name]),
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            }
            if name == "instagram":
                del params["code_challenge"], params["code_challenge_method"]
            answer = client.get(str(config.auth_url), params=params)
            assert answer.status_code == 302, (name, answer.text)
            assert combined[name].calls["authorize"] == 1


# --------------------------------------------------------------------------- exchange


@pytest.mark.parametrize("name", PROVIDERS)
def test_exchanged_tokens_let_the_real_adapter_sync(name: str) -> None:
    with session(name) as s:
        tokens = s.tokens()
        saved: list[TokenSet] = []
        provider = get_provider(name)(
            tokens=tokens, save_tokens=saved.append, config=s.config, page_size=5
        )
        try:
            pages = provider.sync(None, full=False, known=lambda ids: set())
            page = next(iter(pages))
        finally:
            provider.close()
        dataset = s.fake.dataset()
        assert page.items and {item.external_id for item in page.items} <= set(dataset)
        assert s.fake.refreshes == 0 and not saved
        assert s.fake.calls["token"] + s.fake.calls["exchange"] == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_exchanged_tokens_identify_the_account(name: str) -> None:
    with session(name) as s:
        tokens = s.tokens()
        base = str(s.config.base_url)
        bearer = {"Authorization": f"Bearer {tokens.access_token}"}
        if isinstance(s.fake, FakeYouTube):
            params = {"part": "id,snippet", "mine": "true"}
            item = s.client.get(f"{base}/channels", params=params, headers=bearer).json()
            assert item["items"][0]["id"] == s.fake.channel.id
            assert item["items"][0]["snippet"]["title"] == s.fake.channel.title
        elif isinstance(s.fake, FakeGmail):
            profile = s.client.get(f"{base}/profile", headers=bearer).json()
            assert "@" in profile["emailAddress"]
        elif isinstance(s.fake, FakeInstagram):
            params = {"fields": "user_id,username", "access_token": tokens.access_token}
            me = s.client.get(f"{base}/me", params=params).json()
            assert me["user_id"] == s.fake.user_id and me["username"] == s.fake.username
        else:
            assert isinstance(s.fake, FakeTikTok)
            params = {"fields": "open_id,display_name"}
            info = s.client.get(f"{base}/v2/user/info/", params=params, headers=bearer).json()
            user = info["data"]["user"]
            assert user["open_id"] == s.fake.open_id and user["display_name"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_code_is_single_use(name: str) -> None:
    with session(name) as s:
        code = s.code()
        assert s.exchange(code).status_code == 200
        assert_invalid_grant(name, s.exchange(code))
        assert_invalid_grant(name, s.exchange("never-issued"))


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_code_expires_ten_minutes_after_issue(name: str) -> None:
    with session(name) as s:
        fresh, stale = s.code(), s.code()
        s.now[0] += CODE_TTL - 1
        assert s.exchange(fresh).status_code == 200
        s.now[0] += 1
        assert_invalid_grant(name, s.exchange(stale))


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_different_redirect_uri_is_refused_and_spends_the_code(name: str) -> None:
    with session(name) as s:
        code = s.code()
        answer = s.exchange(code, redirect_uri="https://evil.example/cb")
        assert answer.status_code == 400
        body = answer.json()
        if name in ("youtube", "gmail"):
            assert body["error"] == "redirect_uri_mismatch"
        elif name == "tiktok":
            assert body["error"] == "invalid_request"
        else:
            assert "redirect_uri" in body["error_message"]
        assert_invalid_grant(name, s.exchange(code))


@pytest.mark.parametrize("name", PKCE_PROVIDERS)
def test_a_wrong_or_missing_code_verifier_is_refused(name: str) -> None:
    with session(name) as s:
        wrong = s.exchange(s.code(), code_verifier=secrets.token_urlsafe(48))
        missing = s.exchange(s.code(), code_verifier=None)
        for answer in (wrong, missing):
            assert answer.status_code == 400
            if name == "tiktok":
                assert answer.json()["error"] == "invalid_request"
                assert "Code verifier" in answer.json()["error_description"]
            else:
                assert answer.json()["error"] == "invalid_grant"
        if name != "tiktok":
            assert wrong.json()["error_description"] == "Invalid code verifier."
            assert missing.json()["error_description"] == "Missing code verifier."


def test_tiktok_challenges_are_hex_not_base64url() -> None:
    with session("tiktok") as s:
        base64url = pkce_challenge(s.verifier)
        answer = s.exchange(s.code(code_challenge=base64url))
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
        assert s.exchange(s.code()).status_code == 200


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_wrong_client_secret_is_refused(name: str) -> None:
    with session(name) as s:
        answer = s.exchange(s.code(), client_secret="not-the-secret")
        assert answer.status_code in (400, 401)
        body = answer.json()
        if name == "instagram":
            assert body["error_message"] == "Error validating client secret."
        else:
            assert body["error"] == "invalid_client"


@pytest.mark.parametrize("name", ["youtube", "gmail"])
def test_google_issues_a_refresh_token_only_for_offline_access(name: str) -> None:
    with session(name) as s:
        offline = s.exchange(s.code()).json()
        online = s.exchange(s.code(access_type=None)).json()
        assert offline["refresh_token"] and offline["token_type"] == "Bearer"
        assert offline["expires_in"] > 0 and "refresh_token" not in online
        refreshed = s.client.post(
            str(s.config.token_url),
            data={
                "grant_type": "refresh_token",
                "refresh_token": offline["refresh_token"],
                "client_id": s.fake.client_id,
                "client_secret": s.fake.client_secret,
            },
        )
        assert refreshed.status_code == 200 and refreshed.json()["access_token"]


def test_tiktok_exchange_answers_open_id_and_both_lifetimes() -> None:
    with session("tiktok") as s:
        body = s.exchange(s.code()).json()
        assert body["open_id"] == s.fake.open_id and body["token_type"] == "Bearer"
        assert body["expires_in"] == 86400 and body["refresh_expires_in"] == 365 * 86400
        assert body["refresh_token"] and body["scope"] == ",".join(SYNC_SCOPES["tiktok"])


def test_instagram_short_lived_token_becomes_a_sixty_day_one() -> None:
    with session("instagram") as s:
        body = s.exchange(s.code()).json()
        short = body["data"][0]
        assert short["user_id"] == s.fake.user_id
        assert short["permissions"] == ",".join(SYNC_SCOPES["instagram"])
        answer = s.long_lived(short["access_token"])
        assert answer.status_code == 200
        long_lived = answer.json()
        assert long_lived["token_type"] == "bearer"
        assert long_lived["expires_in"] == 5183944
        assert timedelta(seconds=long_lived["expires_in"]) > timedelta(days=59)
        # The long-lived token outlives the short one: two hours on, only it still works.
        s.now[0] += 2 * 3600
        me = f"{s.config.base_url}/me"
        assert s.client.get(me, params={"access_token": short["access_token"]}).status_code == 400
        assert s.client.get(me, params={"access_token": long_lived["access_token"]}).is_success
        assert s.fake.calls["exchange"] == 1 and s.fake.calls["long_lived"] == 1


def test_instagram_long_lived_exchange_checks_secret_and_token() -> None:
    with session("instagram") as s:
        short = s.exchange(s.code()).json()["data"][0]["access_token"]
        wrong_secret = s.long_lived(short, secret="nope").json()["error"]
        assert wrong_secret["code"] == 101
        assert s.long_lived("IGAATunknown").json()["error"]["code"] == 190
        long_lived = s.long_lived(short).json()["access_token"]
        again = s.long_lived(long_lived)
        assert again.status_code == 400 and again.json()["error"]["code"] == 100


@pytest.mark.parametrize("name", PROVIDERS)
def test_injected_token_faults_spare_the_consent_page(name: str) -> None:
    with session(name) as s:
        s.fake.inject("server_error", endpoint="token")
        s.fake.inject("timeout", seconds=30)
        code = s.code()
        assert s.exchange(code).status_code == 500
        assert s.fake.injected_remaining("timeout") == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_config_points_at_the_consent_page(name: str) -> None:
    fake = FAKES[name](items=1)
    config = fake.config("http://fake.test/")
    paths = {
        "youtube": "/o/oauth2/v2/auth",
        "gmail": "/o/oauth2/v2/auth",
        "instagram": "/oauth/authorize",
        "tiktok": "/v2/auth/authorize/",
    }
    assert config.auth_url == "http://fake.test" + paths[name]
    expected_exchange = "http://fake.test/oauth/access_token" if name == "instagram" else None
    assert config.exchange_url == expected_exchange


@pytest.mark.parametrize("name", PROVIDERS)
def test_non_ascii_secrets_and_verifiers_are_refused_cleanly(name: str) -> None:
    with session(name) as s:
        secret = s.exchange(s.code(), client_secret="sécret-✓")
        assert secret.status_code in (400, 401) and secret.json()
        if name != "instagram":
            verifier = s.exchange(s.code(), code_verifier="vérifier-✓")
            assert verifier.status_code == 400 and verifier.json()
        else:
            short = s.exchange(s.code()).json()["data"][0]["access_token"]
            assert s.long_lived(short, secret="sécret-✓").json()["error"]["code"] == 101


def test_owner_controls_refuse_values_they_cannot_mean() -> None:
    fake = FakeYouTube(items=1)
    with pytest.raises(ValueError, match="consent must be 'granted' or 'denied'"):
        fake.consent = "maybe"
    with pytest.raises(ValueError, match="granted_scopes takes a list"):
        fake.granted_scopes = "openid email"
    with pytest.raises(ValueError, match="redirect_uris takes a list"):
        fake.redirect_uris = [CALLBACK, 3]  # type: ignore[list-item]
    fake.consent, fake.granted_scopes, fake.redirect_uris = "denied", ("openid",), [CALLBACK]
    assert (fake.consent, fake.granted_scopes, fake.redirect_uris) == (
        "denied",
        ["openid"],
        [CALLBACK],
    )
