"""The fake providers behave like the real APIs (docs/providers.md), driven with plain httpx."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from syncjobs.providers.types import TokenSet
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

ROOT = "http://fake.test"
GMAIL_HEADERS = ["Subject", "From", "Date"]
TIKTOK_FIELDS = "id,title,create_time,like_count,view_count"


# --------------------------------------------------------------------------- helpers


@contextmanager
def api(fake: FakeProvider, root: str = ROOT, *, loopback: bool = False) -> Iterator[httpx.Client]:
    """An httpx client on the fake's base_url, in-process unless ``loopback``."""
    transport = None if loopback else fake.transport()
    base_url = fake.config(root).base_url or root
    with httpx.Client(transport=transport, base_url=base_url, timeout=10) as client:
        yield client


def auth(tokens: TokenSet) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.access_token}"}


def probe(name: str, client: httpx.Client, fake: FakeProvider, tokens: TokenSet) -> httpx.Response:
    """One representative list call per provider."""
    if name == "youtube":
        assert isinstance(fake, FakeYouTube)
        params = {"part": "snippet,contentDetails", "playlistId": fake.uploads_playlist_id}
        return client.get("/playlistItems", params=params, headers=auth(tokens))
    if name == "gmail":
        return client.get("/messages", params={"maxResults": 5}, headers=auth(tokens))
    if name == "instagram":
        query = {"fields": "id,timestamp", "limit": "5", "access_token": tokens.access_token}
        return client.get("/me/media", params=query)
    return client.post(
        "/v2/video/list/", params={"fields": "id"}, json={"max_count": 5}, headers=auth(tokens)
    )


def refresh(
    name: str, client: httpx.Client, fake: FakeProvider, tokens: TokenSet
) -> httpx.Response:
    """Refresh through the provider's token endpoint."""
    token_url = fake.config(_root_of(client, name)).token_url
    if name == "instagram":
        params = {"grant_type": "ig_refresh_token", "access_token": tokens.access_token}
        return client.get(str(token_url), params=params)
    form = {"grant_type": "refresh_token", "refresh_token": str(tokens.refresh_token)}
    if name == "tiktok":
        form |= {"client_key": fake.client_id, "client_secret": fake.client_secret}
    else:
        form |= {"client_id": fake.client_id, "client_secret": fake.client_secret}
    return client.post(str(token_url), data=form)


def _root_of(client: httpx.Client, name: str) -> str:
    suffix = {"youtube": "/youtube/v3", "gmail": "/gmail/v1/users/me", "instagram": "/v21.0"}
    return str(client.base_url).rstrip("/").removesuffix(suffix.get(name, ""))


def error_of(name: str, response: httpx.Response) -> Any:
    """The provider's machine-readable error: Google reason, Graph code, TikTok code."""
    error = response.json()["error"]
    if name in ("youtube", "gmail"):
        return error["errors"][0]["reason"]
    return error["code"]


def refreshable_tokens(name: str, fake: FakeProvider) -> TokenSet:
    """Tokens the token endpoint will refresh (Instagram: at least 24 h old)."""
    return fake.issue_tokens(age=2 * 86400 if name == "instagram" else 0)


@dataclass
class Expected:
    status: int
    error: Any


RATE_LIMIT = {
    "youtube": Expected(403, "rateLimitExceeded"),
    "gmail": Expected(429, "rateLimitExceeded"),
    "instagram": Expected(403, 4),
    "tiktok": Expected(429, "rate_limit_exceeded"),
}
SERVER_ERROR = {
    "youtube": Expected(500, "backendError"),
    "gmail": Expected(500, "backendError"),
    "instagram": Expected(500, 2),
    "tiktok": Expected(500, "internal_error"),
}
UNAUTHORIZED = {
    "youtube": Expected(401, "authError"),
    "gmail": Expected(401, "authError"),
    "instagram": Expected(400, 190),
    "tiktok": Expected(401, "access_token_invalid"),
}
NAMES = sorted(FAKES)


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(name: str) -> FakeProvider:
    return FAKES[name](items=30, seed=3)


# --------------------------------------------------------------------------- common


def test_every_fake_answers_a_valid_token_and_counts_it(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    with api(fake) as client:
        response = probe(name, client, fake, tokens)
    assert response.status_code == 200
    assert fake.requests == 1
    assert sum(fake.calls.values()) == 1
    assert fake.quota_units == (5 if name == "gmail" else 1)
    fake.reset_counters()
    assert (fake.requests, fake.quota_units, fake.refreshes, dict(fake.calls)) == (0, 0, 0, {})


def test_issued_tokens_carry_lifetimes(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens(expires_in=600, age=100)
    assert tokens.issued_at is not None and tokens.expires_at is not None
    assert (tokens.expires_at - tokens.issued_at).total_seconds() == pytest.approx(600, abs=1)
    age = (datetime.now(UTC) - tokens.issued_at).total_seconds()
    assert age == pytest.approx(100, abs=5)
    assert (tokens.refresh_token is None) == (name == "instagram")
    if name == "tiktok":
        assert tokens.access_token.startswith("act.") and tokens.refresh_expires_at is not None


def test_unknown_and_expired_tokens_get_the_real_auth_error(name: str, fake: FakeProvider) -> None:
    expected = UNAUTHORIZED[name]
    stale = fake.issue_tokens(expires_in=10, age=20)
    bogus = TokenSet(access_token="not-a-token")
    with api(fake) as client:
        for tokens in (stale, bogus):
            response = probe(name, client, fake, tokens)
            assert response.status_code == expected.status
            assert error_of(name, response) == expected.error
    assert fake.quota_units == 0


def test_rate_limit_carries_retry_after_only_when_asked(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    fake.inject("rate_limit", 2, retry_after=7)
    fake.inject("rate_limit", retry_after=None)
    assert fake.injected_remaining("rate_limit") == 3
    with api(fake) as client:
        responses = [probe(name, client, fake, tokens) for _ in range(4)]
    expected = RATE_LIMIT[name]
    for response in responses[:3]:
        assert response.status_code == expected.status
        assert error_of(name, response) == expected.error
    assert [r.headers.get("Retry-After") for r in responses[:3]] == ["7", "7", None]
    assert responses[3].status_code == 200
    assert fake.injected_remaining("rate_limit") == 0


def test_rate_limit_defaults_to_two_seconds(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    fake.inject("rate_limit")
    with api(fake) as client:
        assert probe(name, client, fake, tokens).headers["Retry-After"] == "2"


def test_server_error_burst_then_recovery(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    fake.inject("server_error", 3)
    with api(fake) as client:
        statuses = []
        for _ in range(4):
            response = probe(name, client, fake, tokens)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                assert error_of(name, response) == SERVER_ERROR[name].error
    assert statuses == [500, 500, 500, 200]
    fake.inject("server_error", status=503)
    with api(fake) as client:
        assert probe(name, client, fake, tokens).status_code == 503


def test_unauthorized_then_refresh_works(name: str, fake: FakeProvider) -> None:
    tokens = refreshable_tokens(name, fake)
    fake.inject("unauthorized")
    with api(fake) as client:
        first = probe(name, client, fake, tokens)
        again = probe(name, client, fake, tokens)
        refreshed = refresh(name, client, fake, tokens)
        assert refreshed.status_code == 200, refreshed.text
        new = TokenSet(access_token=refreshed.json()["access_token"])
        after = probe(name, client, fake, new)
    expected = UNAUTHORIZED[name]
    assert (first.status_code, error_of(name, first)) == (expected.status, expected.error)
    assert again.status_code == expected.status, "the invalidated token stays invalid"
    assert after.status_code == 200
    assert fake.refreshes == 1
    assert fake.calls["token"] == 1


def test_invalid_grant_revokes_the_refresh_credential(name: str, fake: FakeProvider) -> None:
    tokens = refreshable_tokens(name, fake)
    fake.inject("unauthorized")
    fake.inject("invalid_grant")
    with api(fake) as client:
        assert probe(name, client, fake, tokens).status_code == UNAUTHORIZED[name].status
        first = refresh(name, client, fake, tokens)
        second = refresh(name, client, fake, tokens)
    for response in (first, second):
        if name == "instagram":
            assert response.json()["error"]["code"] == 190
        else:
            assert response.status_code == 400
            assert response.json()["error"] == "invalid_grant"
    if name in ("youtube", "gmail"):
        assert first.json()["error_description"] == "Token has been expired or revoked."
    if name == "tiktok":
        assert first.json()["log_id"]
    assert fake.refreshes == 0
    assert fake.injected_remaining("invalid_grant") == 0


def test_timeout_delays_the_answer(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    fake.inject("timeout", seconds=0.3)
    with api(fake) as client:
        started = time.perf_counter()
        slow = probe(name, client, fake, tokens)
        elapsed = time.perf_counter() - started
        assert fake.injected_remaining("timeout") == 0  # the next call is not delayed
        again = probe(name, client, fake, tokens)
    assert slow.status_code == again.status_code == 200
    assert elapsed >= 0.3


@pytest.mark.parametrize("variant", ["wrong_type", "missing_ids", "not_json", "truncated"])
def test_malformed_payloads_break_the_schema(name: str, fake: FakeProvider, variant: str) -> None:
    tokens = fake.issue_tokens()
    fake.inject("malformed", variant=variant)
    with api(fake) as client:
        broken = probe(name, client, fake, tokens)
        fine = probe(name, client, fake, tokens)
    assert broken.status_code == 200
    if variant in ("not_json", "truncated"):
        with pytest.raises(ValueError):
            broken.json()
        assert fine.json()
        return
    container = _page_items(name, broken.json())
    if variant == "wrong_type":
        assert not isinstance(container, list)
    else:
        assert container and all("id" not in item for item in container)
        assert all(
            "id" in item or "contentDetails" in item for item in _page_items(name, fine.json())
        )


def _page_items(name: str, body: dict[str, Any]) -> Any:
    key = {"youtube": "items", "gmail": "messages", "instagram": "data"}.get(name)
    return body[key] if key else body["data"]["videos"]


def test_faults_can_target_one_endpoint_and_be_cleared(name: str, fake: FakeProvider) -> None:
    tokens = fake.issue_tokens()
    fake.inject("server_error", endpoint="token")
    fake.inject("server_error", 5)
    fake.clear_faults()
    assert fake.injected_remaining("server_error") == 0
    fake.inject("server_error", endpoint="token")
    with api(fake) as client:
        assert probe(name, client, fake, tokens).status_code == 200
        assert refresh(name, client, fake, refreshable_tokens(name, fake)).status_code >= 500
    with pytest.raises(ValueError):
        fake.inject("no_such_fault")


def test_quota_and_stale_history_are_only_for_google(name: str, fake: FakeProvider) -> None:
    if name in ("instagram", "tiktok"):
        with pytest.raises(ValueError):
            fake.inject("quota_exceeded")
    if name != "gmail":
        with pytest.raises(ValueError):
            fake.inject("stale_history")


def test_latency_is_added_to_every_request(name: str, fake: FakeProvider) -> None:
    fake.latency = 0.05
    with api(fake) as client:
        started = time.perf_counter()
        probe(name, client, fake, fake.issue_tokens())
    assert time.perf_counter() - started >= 0.05


def test_same_seed_same_dataset(name: str) -> None:
    first, second, other = (
        FAKES[name](items=20, seed=1),
        FAKES[name](items=20, seed=1),
        FAKES[name](items=20, seed=2),
    )
    assert list(first.dataset()) == list(second.dataset())
    assert set(first.dataset()).isdisjoint(other.dataset())
    assert len(first.dataset()) == 20


def test_mutations_change_the_dataset(name: str, fake: FakeProvider) -> None:
    before = fake.dataset()
    added = fake.add_items(3)
    changed = fake.change_items(2)
    deleted = fake.delete_items([added[-1]])
    after = fake.dataset()
    assert len(after) == len(before) + 2
    assert set(added[:2]) <= set(after) and deleted[0] not in after
    assert list(after)[:2] == added[:2], "new items are the newest"
    assert all(after[item] != before[item] for item in changed if item in before)
    with pytest.raises(KeyError):
        fake.delete_items(["no-such-id"])


# --------------------------------------------------------------------------- YouTube


def _uploads(client: httpx.Client, tokens: TokenSet, per_page: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    channel = client.get(
        "/channels", params={"part": "contentDetails", "mine": "true"}, headers=auth(tokens)
    )
    uploads = channel.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    params: dict[str, Any] = {
        "part": "snippet,contentDetails",
        "playlistId": uploads,
        "maxResults": per_page,
    }
    while True:
        page = client.get("/playlistItems", params=params, headers=auth(tokens)).json()
        items += page["items"]
        if "nextPageToken" not in page:
            return items
        params["pageToken"] = page["nextPageToken"]


def test_youtube_pages_the_uploads_playlist_newest_first() -> None:
    fake = FakeYouTube(items=50)
    tokens = fake.issue_tokens()
    with api(fake) as client:
        items = _uploads(client, tokens, per_page=7)
    video_ids = [item["contentDetails"]["videoId"] for item in items]
    published = [item["contentDetails"]["videoPublishedAt"] for item in items]
    assert video_ids == list(fake.dataset())
    assert published == sorted(published, reverse=True)
    assert [item["snippet"]["position"] for item in items] == list(range(50))
    assert fake.uploads_playlist_id.startswith("UU") and video_ids[0] == fake.latest_cursor_value()
    assert fake.calls == {"channels.list": 1, "playlistItems.list": 8}
    assert fake.quota_units == 9 and fake.requests == 9


def test_youtube_page_tokens_go_back_and_reject_garbage() -> None:
    fake = FakeYouTube(items=12)
    tokens = fake.issue_tokens()
    params: dict[str, Any] = {"part": "id", "playlistId": fake.uploads_playlist_id, "maxResults": 5}
    with api(fake) as client:
        first = client.get("/playlistItems", params=params, headers=auth(tokens)).json()
        second = client.get(
            "/playlistItems",
            params={**params, "pageToken": first["nextPageToken"]},
            headers=auth(tokens),
        ).json()
        back = client.get(
            "/playlistItems",
            params={**params, "pageToken": second["prevPageToken"]},
            headers=auth(tokens),
        ).json()
        bad = client.get(
            "/playlistItems", params={**params, "pageToken": "nope"}, headers=auth(tokens)
        )
        missing = client.get(
            "/playlistItems", params={**params, "playlistId": "UUnope"}, headers=auth(tokens)
        )
    assert "prevPageToken" not in first
    assert back["items"] == first["items"]
    assert first["pageInfo"] == {"totalResults": 12, "resultsPerPage": 5}
    assert bad.status_code == 400 and error_of("youtube", bad) == "invalidPageToken"
    assert missing.status_code == 404 and error_of("youtube", missing) == "playlistNotFound"


def test_youtube_videos_list_has_string_counts_and_caps_ids_at_50() -> None:
    fake = FakeYouTube(items=60)
    tokens = fake.issue_tokens()
    ids = list(fake.dataset())
    with api(fake) as client:
        ok = client.get(
            "/videos",
            params={"part": "snippet,contentDetails,statistics", "id": ",".join(ids[:50])},
            headers=auth(tokens),
        )
        too_many = client.get(
            "/videos", params={"part": "id", "id": ",".join(ids[:51])}, headers=auth(tokens)
        )
        unknown = client.get(
            "/videos", params={"part": "id", "id": ids[0], "bogus": 1}, headers=auth(tokens)
        )
    body = ok.json()
    assert body["kind"] == "youtube#videoListResponse" and len(body["items"]) == 50
    video = body["items"][0]
    assert video == fake.dataset()[ids[0]]
    assert all(isinstance(value, str) and value.isdigit() for value in video["statistics"].values())
    assert re.fullmatch(r"PT(\d+H)?(\d+M)?(\d+S)?", video["contentDetails"]["duration"])
    assert too_many.status_code == 400
    assert unknown.status_code == 400 and "bogus" in unknown.json()["error"]["message"]
    assert fake.quota_units == 3, "even invalid calls cost a unit"


def test_youtube_quota_exceeded_body_is_verbatim() -> None:
    fake = FakeYouTube(items=5)
    fake.inject("quota_exceeded")
    with api(fake) as client:
        response = probe("youtube", client, fake, fake.issue_tokens())
    error = response.json()["error"]
    assert response.status_code == 403 and error["code"] == 403
    assert error["errors"][0]["domain"] == "youtube.quota"
    assert error["errors"][0]["reason"] == "quotaExceeded"
    assert "exceeded your <a href=" in error["message"]
    assert "Retry-After" not in response.headers


def test_youtube_search_costs_100_units_and_filters_by_date() -> None:
    fake = FakeYouTube(items=40)
    tokens = fake.issue_tokens()
    newest = fake.dataset()
    cutoff = list(newest.values())[9]["snippet"]["publishedAt"]
    params: dict[str, Any] = {
        "part": "snippet",
        "forMine": "true",
        "type": "video",
        "order": "date",
        "maxResults": 50,
    }
    with api(fake) as client:
        response = client.get(
            "/search", params={**params, "publishedAfter": cutoff}, headers=auth(tokens)
        )
        wrong = client.get("/search", params={**params, "type": "channel"}, headers=auth(tokens))
    found = [item["id"]["videoId"] for item in response.json()["items"]]
    assert found == list(newest)[:10]
    assert wrong.status_code == 400
    assert fake.quota_units == 200


def test_youtube_changes_show_in_videos_list() -> None:
    fake = FakeYouTube(items=10)
    tokens = fake.issue_tokens()
    target = list(fake.dataset())[4]
    before = fake.dataset()[target]["statistics"]
    fake.change_items([target])
    new = fake.add_items(1)[0]
    with api(fake) as client:
        video = client.get(
            "/videos", params={"part": "statistics", "id": target}, headers=auth(tokens)
        ).json()["items"][0]
        first = _uploads(client, tokens, per_page=1)[0]
    assert int(video["statistics"]["viewCount"]) > int(before["viewCount"])
    assert first["contentDetails"]["videoId"] == new == fake.latest_cursor_value()


def test_google_token_endpoint_checks_the_client() -> None:
    fake = FakeYouTube(items=1)
    tokens = fake.issue_tokens()
    with api(fake) as client:
        good = refresh("youtube", client, fake, tokens)
        wrong = client.post(
            f"{ROOT}/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "x",
                "client_secret": "y",
                "refresh_token": str(tokens.refresh_token),
            },
        )
    assert good.json()["token_type"] == "Bearer" and good.json()["expires_in"] > 3000
    assert good.json()["scope"] == fake.scope
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


# --------------------------------------------------------------------------- Gmail


def _all_messages(client: httpx.Client, tokens: TokenSet, **params: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    while True:
        page = client.get("/messages", params=params, headers=auth(tokens)).json()
        found += page.get("messages", [])
        if "nextPageToken" not in page:
            return found
        params["pageToken"] = page["nextPageToken"]


def test_gmail_lists_every_message_newest_first() -> None:
    fake = FakeGmail(items=100)
    tokens = fake.issue_tokens()
    with api(fake) as client:
        first = client.get("/messages", params={"maxResults": 40}, headers=auth(tokens)).json()
        listed = _all_messages(client, tokens, maxResults=40)
        message = client.get(
            f"/messages/{listed[0]['id']}",
            params={"format": "metadata", "metadataHeaders": GMAIL_HEADERS},
            headers=auth(tokens),
        ).json()
        profile = client.get("/profile", headers=auth(tokens)).json()
    assert first["resultSizeEstimate"] == 100
    assert [m["id"] for m in listed] == list(fake.dataset())
    assert {"id", "threadId"} == set(listed[0])
    assert isinstance(message["historyId"], str) and isinstance(message["internalDate"], str)
    assert [h["name"] for h in message["payload"]["headers"]] == ["From", "Subject", "Date"]
    assert profile["messagesTotal"] == 100 and profile["historyId"] == fake.latest_cursor_value()
    assert fake.calls["messages.list"] == 4 and fake.quota_units == 4 * 5 + 5 + 1


def test_gmail_filters_by_label_and_query() -> None:
    fake = FakeGmail(items=200, seed=5)
    tokens = fake.issue_tokens()
    data = fake.dataset()
    sent = [mid for mid, m in data.items() if "SENT" in m["labelIds"]]
    with api(fake) as client:
        by_label = _all_messages(client, tokens, labelIds="SENT", maxResults=7)
        by_query = _all_messages(client, tokens, q="in:sent", maxResults=500)
        bad = client.get("/messages", params={"pageToken": "zzz"}, headers=auth(tokens))
    assert [m["id"] for m in by_label] == sent == [m["id"] for m in by_query]
    assert bad.status_code == 400


def test_gmail_history_reports_adds_label_changes_and_deletes() -> None:
    fake = FakeGmail(items=20)
    tokens = fake.issue_tokens()
    start = fake.latest_cursor_value()
    added = fake.add_items(2)
    changed = fake.change_items(1)
    deleted = fake.delete_items(1)
    with api(fake) as client:
        pages = []
        params: dict[str, Any] = {"startHistoryId": start, "maxResults": 2}
        while True:
            page = client.get("/history", params=params, headers=auth(tokens)).json()
            pages.append(page)
            if "nextPageToken" not in page:
                break
            params["pageToken"] = page["nextPageToken"]
        only_deletes = client.get(
            "/history",
            params={"startHistoryId": start, "historyTypes": "messageDeleted"},
            headers=auth(tokens),
        ).json()
    records = [record for page in pages for record in page.get("history", [])]
    assert len(pages) == 2 and [int(r["id"]) for r in records] == sorted(
        int(r["id"]) for r in records
    )
    assert [r["messagesAdded"][0]["message"]["id"] for r in records[:2]] == added[::-1]
    assert records[2]["labelsAdded"][0]["message"]["id"] == changed[0]
    assert records[2]["labelsAdded"][0]["labelIds"] == ["STARRED"]
    assert records[3]["messagesDeleted"][0]["message"]["id"] == deleted[0]
    assert pages[-1]["historyId"] == fake.latest_cursor_value() != start
    assert [r["messagesDeleted"][0]["message"]["id"] for r in only_deletes["history"]] == deleted
    assert fake.calls["history.list"] == 3 and fake.quota_units == 6


def test_gmail_stale_history_is_a_404() -> None:
    fake = FakeGmail(items=10)
    tokens = fake.issue_tokens()
    start = fake.latest_cursor_value()
    fake.inject("stale_history")
    with api(fake) as client:
        injected = client.get("/history", params={"startHistoryId": start}, headers=auth(tokens))
        listing = client.get("/messages", headers=auth(tokens))
        fine = client.get("/history", params={"startHistoryId": start}, headers=auth(tokens))
        fake.history_retention = 3
        fake.add_items(5)
        expired = client.get("/history", params={"startHistoryId": start}, headers=auth(tokens))
        recent = client.get(
            "/history",
            params={"startHistoryId": str(int(fake.latest_cursor_value()) - 1)},
            headers=auth(tokens),
        )
    assert injected.status_code == 404 and error_of("gmail", injected) == "notFound"
    assert listing.status_code == 200, "stale_history only hits history.list"
    assert fine.status_code == 200 and "history" not in fine.json()
    assert expired.status_code == 404
    assert recent.status_code == 200 and len(recent.json()["history"]) == 1


def test_gmail_quota_errors_use_usage_limits() -> None:
    fake = FakeGmail(items=3)
    fake.inject("quota_exceeded")
    fake.inject("rate_limit", status=403, reason="userRateLimitExceeded")
    with api(fake) as client:
        daily = probe("gmail", client, fake, fake.issue_tokens())
        user = probe("gmail", client, fake, fake.issue_tokens())
    assert (daily.status_code, error_of("gmail", daily)) == (403, "dailyLimitExceeded")
    assert daily.json()["error"]["errors"][0]["domain"] == "usageLimits"
    assert (user.status_code, error_of("gmail", user)) == (403, "userRateLimitExceeded")


def batch_body(paths: list[str], boundary: str, token: str | None = None) -> str:
    """A batch request as googleapiclient writes it."""
    parts = []
    for n, path in enumerate(paths):
        inner_auth = f"authorization: Bearer {token}\r\n" if token else ""
        parts.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-Transfer-Encoding: binary\r\nMIME-Version: 1.0\r\n"
            f"Content-ID: <a1b2+{n}>\r\n\r\n"
            f"GET {path} HTTP/1.1\r\nContent-Type: application/json\r\nMIME-Version: 1.0\r\n"
            f"accept: application/json\r\n{inner_auth}\r\n"
        )
    return "".join(parts) + f"--{boundary}--"


def parse_batch(response: httpx.Response) -> list[tuple[str, int, Any]]:
    """(Content-ID, status, JSON body) per part of a multipart/mixed batch answer."""
    boundary = response.headers["Content-Type"].split("boundary=")[1]
    answers = []
    for part in response.text.split(f"--{boundary}")[1:-1]:
        head, _, inner = part.strip("\r\n").partition("\r\n\r\n")
        content_id = re.search(r"Content-ID: <(.+)>", head)
        status_line, _, rest = inner.partition("\r\n")
        body = rest.partition("\r\n\r\n")[2].strip()
        answers.append(
            (content_id.group(1) if content_id else "", int(status_line.split()[1]), body)
        )
    return answers


def test_gmail_batch_answers_each_part_and_counts_one_request() -> None:
    fake = FakeGmail(items=10)
    tokens = fake.issue_tokens()
    ids = list(fake.dataset())[:3]
    gone = fake.delete_items([ids[2]])[0]
    paths = [
        f"/gmail/v1/users/me/messages/{i}?format=metadata&metadataHeaders=Subject" for i in ids
    ]
    boundary = "===============7330845974216740156=="
    with api(fake) as client:
        response = client.post(
            FakeGmail.batch_url(ROOT),
            content=batch_body(paths, boundary, tokens.access_token),
            headers={"Content-Type": f'multipart/mixed; boundary="{boundary}"'},
        )
        too_big = client.post(
            FakeGmail.batch_url(ROOT),
            content=batch_body(paths[:1] * 101, boundary),
            headers={**auth(tokens), "Content-Type": f"multipart/mixed; boundary={boundary}"},
        )
    answers = parse_batch(response)
    assert response.status_code == 200
    assert [a[0] for a in answers] == ["response-a1b2+0", "response-a1b2+1", "response-a1b2+2"]
    assert [a[1] for a in answers] == [200, 200, 404]
    assert '"id":"' + ids[0] + '"' in answers[0][2] and gone == ids[2]
    assert too_big.status_code == 400
    assert fake.requests == 2 and fake.calls["batch"] == 2
    assert fake.calls["messages.get"] == 3 and fake.quota_units == 15


def test_gmail_batch_parts_can_be_rate_limited_alone() -> None:
    fake = FakeGmail(items=5)
    tokens = fake.issue_tokens()
    ids = list(fake.dataset())[:3]
    fake.inject("rate_limit", endpoint="messages.get")
    paths = [f"/gmail/v1/users/me/messages/{i}?format=minimal" for i in ids]
    with api(fake) as client:
        response = client.post(
            FakeGmail.batch_url(ROOT),
            content=batch_body(paths, "b0undary"),
            headers={**auth(tokens), "Content-Type": "multipart/mixed; boundary=b0undary"},
        )
    assert [a[1] for a in parse_batch(response)] == [429, 200, 200]


def test_gmail_seeds_and_pages_100k_messages() -> None:
    fake = FakeGmail(items=100_000)
    tokens = fake.issue_tokens()
    with api(fake) as client:
        page = client.get("/messages", params={"maxResults": 500}, headers=auth(tokens)).json()
        token = page["nextPageToken"]
        seen = {m["id"] for m in page["messages"]}
        for _ in range(20):
            deep = client.get(
                "/messages", params={"maxResults": 500, "pageToken": token}, headers=auth(tokens)
            ).json()
            seen.update(m["id"] for m in deep["messages"])
            token = deep["nextPageToken"]
        history = client.get(
            "/history",
            params={"startHistoryId": str(int(fake.latest_cursor_value()) - 30)},
            headers=auth(tokens),
        )
    assert len(deep["messages"]) == 500 and len(seen) == 21 * 500  # pages never repeat
    assert 1 <= len(history.json()["history"]) <= 30


# --------------------------------------------------------------------------- Instagram


def test_instagram_follows_next_links_to_the_end() -> None:
    fake = FakeInstagram(items=40)
    tokens = fake.issue_tokens()
    fields = "id,caption,media_type,timestamp,like_count,comments_count,permalink"
    with api(fake) as client:
        url: str | None = "/me/media"
        params: dict[str, Any] | None = {
            "fields": fields,
            "limit": 15,
            "access_token": tokens.access_token,
        }
        pages = []
        while url:
            page = client.get(url, params=params).json()
            pages.append(page)
            url, params = page["paging"].get("next"), None
        previous = client.get(pages[1]["paging"]["previous"]).json()
    media = [item for page in pages for item in page["data"]]
    assert [len(page["data"]) for page in pages] == [15, 15, 10]
    assert [m["id"] for m in media] == list(fake.dataset())
    assert pages[0]["paging"]["next"].startswith(f"{ROOT}/v21.0/{fake.user_id}/media?")
    assert "previous" not in pages[0]["paging"] and previous["data"] == pages[0]["data"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", media[0]["timestamp"])
    assert media[0]["timestamp"] == fake.latest_cursor_value()
    assert isinstance(media[0]["like_count"], int) and isinstance(media[0]["comments_count"], int)
    assert fake.calls["media"] == 4


def test_instagram_refresh_needs_a_day_old_token() -> None:
    fake = FakeInstagram(items=2)
    young, old = fake.issue_tokens(), fake.issue_tokens(age=3 * 86400)
    with api(fake) as client:
        refused = refresh("instagram", client, fake, young)
        granted = refresh("instagram", client, fake, old)
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "OAuthException"
    body = granted.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 5184000
    assert fake.refreshes == 1


def test_instagram_errors_use_graph_codes() -> None:
    fake = FakeInstagram(items=2)
    tokens = fake.issue_tokens()
    fake.inject("rate_limit", code=17)
    with api(fake) as client:
        throttled = probe("instagram", client, fake, tokens)
        bad_field = client.get(
            "/me", params={"fields": "nope", "access_token": tokens.access_token}
        )
        me = client.get(
            "/me", params={"fields": "user_id,username,media_count"}, headers=auth(tokens)
        )
    error = throttled.json()["error"]
    assert error["code"] == 17 and error["type"] == "OAuthException" and error["fbtrace_id"]
    assert bad_field.json()["error"]["code"] == 100
    assert me.json() == {
        "id": fake.app_user_id,
        "user_id": fake.user_id,
        "username": f"syncjobs.tester{fake.seed}",
        "media_count": 2,
    }


# --------------------------------------------------------------------------- TikTok


def test_tiktok_pages_by_millisecond_cursor_with_short_pages() -> None:
    fake = FakeTikTok(items=50)
    tokens = fake.issue_tokens()
    pages = []
    body: dict[str, Any] = {"max_count": 6}
    with api(fake) as client:
        while True:
            page = client.post(
                "/v2/video/list/", params={"fields": TIKTOK_FIELDS}, json=body, headers=auth(tokens)
            ).json()
            assert page["error"] == {"code": "ok", "message": "", "log_id": page["error"]["log_id"]}
            pages.append(page["data"])
            if not page["data"]["has_more"]:
                break
            body["cursor"] = page["data"]["cursor"]
    videos = [video for page in pages for video in page["videos"]]
    created = [video["create_time"] for video in videos]
    assert [video["id"] for video in videos] == list(fake.dataset())
    assert created == sorted(created, reverse=True) and created[0] == fake.latest_cursor_value()
    assert all(page["cursor"] == page["videos"][-1]["create_time"] * 1000 for page in pages)
    assert any(len(page["videos"]) < 6 and page["has_more"] for page in pages)
    assert set(videos[0]) == set(TIKTOK_FIELDS.split(","))


def test_tiktok_query_caps_ids_and_skips_deleted() -> None:
    fake = FakeTikTok(items=30)
    tokens = fake.issue_tokens()
    ids = list(fake.dataset())
    fake.delete_items([ids[1]])
    with api(fake) as client:
        found = client.post(
            "/v2/video/query/",
            params={"fields": "id,like_count"},
            json={"filters": {"video_ids": ids[:3]}},
            headers=auth(tokens),
        )
        too_many = client.post(
            "/v2/video/query/",
            params={"fields": "id"},
            json={"filters": {"video_ids": ids[:21]}},
            headers=auth(tokens),
        )
        no_fields = client.post("/v2/video/list/", json={}, headers=auth(tokens))
        big_page = client.post(
            "/v2/video/list/", params={"fields": "id"}, json={"max_count": 21}, headers=auth(tokens)
        )
    assert [v["id"] for v in found.json()["data"]["videos"]] == [ids[0], ids[2]]
    for response in (too_many, no_fields, big_page):
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_params"


def test_tiktok_refresh_tokens_rotate() -> None:
    fake = FakeTikTok(items=1)
    tokens = fake.issue_tokens()
    with api(fake) as client:
        first = refresh("tiktok", client, fake, tokens)
        reuse = refresh("tiktok", client, fake, tokens)
        rotated = TokenSet(access_token="", refresh_token=first.json()["refresh_token"])
        second = refresh("tiktok", client, fake, rotated)
        user = client.get(
            "/v2/user/info/",
            params={"fields": "open_id,display_name"},
            headers={"Authorization": f"Bearer {second.json()['access_token']}"},
        )
    body = first.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "open_id",
        "scope",
        "token_type",
    }
    assert body["refresh_token"] != tokens.refresh_token and body["open_id"] == fake.open_id
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert second.status_code == 200
    assert user.json()["data"]["user"]["open_id"] == fake.open_id
    assert fake.refreshes == 2 and fake.calls["token"] == 3


# --------------------------------------------------------------------------- loopback


def test_combined_fakes_over_loopback() -> None:
    combined = CombinedFakes(items_per_provider=12, seed=4)
    with serve(combined) as root:
        for name in NAMES:
            fake = combined[name]
            config = combined.config(name, root)
            assert config.base_url == fake.config(f"{root}/{name}").base_url
            assert config.client_id == fake.client_id
            tokens = refreshable_tokens(name, fake)
            with httpx.Client(base_url=config.base_url or "", timeout=10) as client:
                assert probe(name, client, fake, tokens).status_code == 200
                assert refresh(name, client, fake, tokens).status_code == 200, name
            assert fake.requests == 2 and fake.refreshes == 1
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{root}/nowhere/x").status_code == 404
            media = client.get(
                f"{root}/instagram/v21.0/me/media",
                params={"limit": 5, "access_token": combined.instagram.issue_tokens().access_token},
            )
            assert media.json()["paging"]["next"].startswith(f"{root}/instagram/v21.0/")
            gmail = combined.gmail
            ids = list(gmail.dataset())[:2]
            batch = client.post(
                FakeGmail.batch_url(f"{root}/gmail"),
                content=batch_body([f"/gmail/gmail/v1/users/me/messages/{i}" for i in ids], "xyz"),
                headers={
                    **auth(gmail.issue_tokens()),
                    "Content-Type": "multipart/mixed; boundary=xyz",
                },
            )
            assert [a[1] for a in parse_batch(batch)] == [200, 200]
    combined.reset_counters()
    assert combined.gmail.requests == 0


def test_loopback_counts_concurrent_requests_exactly() -> None:
    fake = FakeGmail(items=50)
    tokens = fake.issue_tokens()
    errors: list[BaseException] = []

    def worker(client: httpx.Client) -> None:
        try:
            for _ in range(10):
                assert probe("gmail", client, fake, tokens).status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with serve(fake) as root, api(fake, root, loopback=True) as client:
        threads = [threading.Thread(target=worker, args=(client,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert fake.requests == 80 and fake.calls["messages.list"] == 80 and fake.quota_units == 400


def test_loopback_timeout_fault_trips_a_client_timeout() -> None:
    fake = FakeTikTok(items=5)
    tokens = fake.issue_tokens()
    fake.inject("timeout", seconds=0.5)
    with (
        serve(fake) as root,
        httpx.Client(base_url=root, timeout=0.1) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        probe("tiktok", client, fake, tokens)


def test_public_names_are_exported() -> None:
    import syncjobs.testing.fakes as fakes

    assert sorted(fakes.__all__) == sorted(set(fakes.__all__))
    for exported in fakes.__all__:
        assert getattr(fakes, exported) is not None
    assert set(fakes.FAKES) == {"youtube", "gmail", "instagram", "tiktok"}
    assert {cls.name for cls in fakes.FAKES.values()} == set(fakes.FAKES)
