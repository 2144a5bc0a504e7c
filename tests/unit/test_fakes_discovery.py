"""The YouTube and Gmail fakes conform to Google's own discovery documents.

The documents ship with google-api-python-client. Their schema format is not JSON Schema:
``$ref`` names a schema id, and ``format: int64/uint64`` means the JSON value is a string.
The checker below fails on unknown properties and wrong types. The last tests drive the
fakes with googleapiclient and google-auth themselves, over loopback.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import httpx
import pytest

from syncjobs.testing.fakes import FakeGmail, FakeProvider, FakeYouTube, serve
from syncjobs.testing.fakes.messages import Request

Schema = dict[str, Any]
ROOT = "http://fake.test"


@cache
def discovery(name: str) -> dict[str, Any]:
    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / f"{name}.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


# --------------------------------------------------------------------------- the checker


class SchemaMismatch(AssertionError):
    pass


_INTEGER_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


def check(value: Any, schema: Schema, schemas: dict[str, Schema], where: str = "$") -> None:
    """Raise SchemaMismatch unless ``value`` conforms to a discovery ``schema``."""
    if "$ref" in schema:
        check(value, schemas[schema["$ref"]], schemas, where)
        return
    kind = schema.get("type")
    checker = _CHECKERS.get(str(kind))
    if checker is None:
        raise SchemaMismatch(f"{where}: unsupported schema type {kind!r}")
    checker(value, schema, schemas, where)


def _check_object(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(isinstance(value, dict), where, "an object", value)
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, child in value.items():
        if key in properties:
            check(child, properties[key], schemas, f"{where}.{key}")
        elif extra is not None:
            check(child, extra, schemas, f"{where}.{key}")
        else:
            raise SchemaMismatch(f"{where}: unknown property {key!r}")


def _check_array(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(isinstance(value, list), where, "an array", value)
    for index, child in enumerate(value):
        check(child, schema["items"], schemas, f"{where}[{index}]")


def _check_string(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(isinstance(value, str), where, "a string", value)
    fmt = schema.get("format")
    if fmt in ("int64", "uint64"):
        _expect(
            re.fullmatch(r"-?\d+" if fmt == "int64" else r"\d+", value) is not None,
            where,
            f"a {fmt} string",
            value,
        )
    elif fmt in ("date-time", "google-datetime"):
        _expect(_is_datetime(value), where, "an RFC 3339 date-time", value)
    elif fmt == "byte":
        _expect(_is_base64(value), where, "base64", value)
    if "enum" in schema:
        _expect(value in schema["enum"], where, f"one of {schema['enum']}", value)


def _check_integer(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(isinstance(value, int) and not isinstance(value, bool), where, "an integer", value)
    low, high = _INTEGER_RANGES.get(schema.get("format", ""), (-(2**63), 2**63 - 1))
    _expect(low <= value <= high, where, f"in [{low}, {high}]", value)


def _check_boolean(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(isinstance(value, bool), where, "a boolean", value)


def _check_number(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    _expect(
        isinstance(value, int | float) and not isinstance(value, bool), where, "a number", value
    )


def _check_any(value: Any, schema: Schema, schemas: dict[str, Schema], where: str) -> None:
    return None


_CHECKERS = {
    "object": _check_object,
    "array": _check_array,
    "string": _check_string,
    "integer": _check_integer,
    "boolean": _check_boolean,
    "number": _check_number,
    "any": _check_any,
}


def _expect(ok: bool, where: str, what: str, value: Any) -> None:
    if not ok:
        raise SchemaMismatch(f"{where}: expected {what}, got {value!r}")


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _is_base64(value: str) -> bool:
    try:
        base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return False
    return True


def conforms(document: str, schema_id: str, value: Any) -> None:
    schemas = discovery(document)["schemas"]
    check(value, schemas[schema_id], schemas, schema_id)


# --------------------------------------------------------------------------- the checker itself


def test_checker_rejects_unknown_properties_and_wrong_types() -> None:
    good = {"historyId": "12", "messagesTotal": 3, "emailAddress": "a@b.c", "threadsTotal": 2}
    conforms("gmail.v1", "Profile", good)
    for bad in (
        {**good, "historyId": 12},
        {**good, "messagesTotal": "3"},
        {**good, "surprise": True},
        {**good, "historyId": "twelve"},
    ):
        with pytest.raises(SchemaMismatch):
            conforms("gmail.v1", "Profile", bad)
    with pytest.raises(SchemaMismatch):
        conforms("youtube.v3", "VideoListResponse", {"items": {"not": "a list"}})
    with pytest.raises(SchemaMismatch):
        conforms("youtube.v3", "Video", {"statistics": {"viewCount": 5}})


# --------------------------------------------------------------------------- YouTube


@pytest.fixture
def youtube() -> Iterator[tuple[FakeYouTube, httpx.Client]]:
    fake = FakeYouTube(items=30, seed=9)
    tokens = fake.issue_tokens()
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    base_url = fake.config(ROOT).base_url or ""
    with httpx.Client(transport=fake.transport(), base_url=base_url, headers=headers) as client:
        yield fake, client


def test_youtube_channels_conform(youtube: tuple[FakeYouTube, httpx.Client]) -> None:
    _, client = youtube
    params = {"part": "id,snippet,contentDetails,statistics,status", "mine": "true"}
    conforms("youtube.v3", "ChannelListResponse", client.get("/channels", params=params).json())


def test_youtube_playlist_items_conform(youtube: tuple[FakeYouTube, httpx.Client]) -> None:
    fake, client = youtube
    params = {"part": "id,snippet,contentDetails,status", "playlistId": fake.uploads_playlist_id}
    first = client.get("/playlistItems", params={**params, "maxResults": 10}).json()
    second = client.get(
        "/playlistItems", params={**params, "maxResults": 10, "pageToken": first["nextPageToken"]}
    ).json()
    default = client.get("/playlistItems", params=params).json()
    for page in (first, second):
        conforms("youtube.v3", "PlaylistItemListResponse", page)
    assert "prevPageToken" in second
    method = discovery("youtube.v3")["resources"]["playlistItems"]["methods"]["list"]
    assert len(default["items"]) == int(method["parameters"]["maxResults"]["default"])
    too_big = client.get("/playlistItems", params={**params, "maxResults": 51})
    assert int(method["parameters"]["maxResults"]["maximum"]) == 50 and too_big.status_code == 400


def test_youtube_videos_and_search_conform(youtube: tuple[FakeYouTube, httpx.Client]) -> None:
    fake, client = youtube
    ids = ",".join(list(fake.dataset())[:50])
    videos = client.get(
        "/videos", params={"part": "id,snippet,contentDetails,statistics,status", "id": ids}
    ).json()
    conforms("youtube.v3", "VideoListResponse", videos)
    for value in fake.dataset().values():
        conforms("youtube.v3", "Video", value)
    search = client.get(
        "/search", params={"part": "snippet", "forMine": "true", "type": "video", "order": "date"}
    ).json()
    conforms("youtube.v3", "SearchListResponse", search)


def test_youtube_malformed_payloads_fail_the_schema(
    youtube: tuple[FakeYouTube, httpx.Client],
) -> None:
    fake, client = youtube
    fake.inject("malformed")
    broken = client.get("/videos", params={"part": "statistics", "id": fake.latest_cursor_value()})
    with pytest.raises(SchemaMismatch):
        conforms("youtube.v3", "VideoListResponse", broken.json())


# --------------------------------------------------------------------------- Gmail


@pytest.fixture
def gmail() -> Iterator[tuple[FakeGmail, httpx.Client]]:
    fake = FakeGmail(items=40, seed=9)
    tokens = fake.issue_tokens()
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    base_url = fake.config(ROOT).base_url or ""
    with httpx.Client(transport=fake.transport(), base_url=base_url, headers=headers) as client:
        yield fake, client


def test_gmail_list_profile_and_messages_conform(gmail: tuple[FakeGmail, httpx.Client]) -> None:
    fake, client = gmail
    listing = client.get("/messages", params={"maxResults": 15}).json()
    conforms("gmail.v1", "ListMessagesResponse", listing)
    conforms("gmail.v1", "Profile", client.get("/profile").json())
    message_id = listing["messages"][0]["id"]
    for fmt in ("metadata", "full", "minimal", "raw"):
        params = {"format": fmt, "metadataHeaders": ["Subject", "Date"]}
        conforms("gmail.v1", "Message", client.get(f"/messages/{message_id}", params=params).json())
    for value in fake.dataset().values():
        conforms("gmail.v1", "Message", value)


def test_gmail_history_conforms(gmail: tuple[FakeGmail, httpx.Client]) -> None:
    fake, client = gmail
    start = fake.latest_cursor_value()
    fake.add_items(2)
    fake.change_items(3)
    fake.change_items(fake.change_items(1) * 3)  # STARRED, IMPORTANT, Label_7, then removal
    fake.delete_items(2)
    history = client.get("/history", params={"startHistoryId": start}).json()
    conforms("gmail.v1", "ListHistoryResponse", history)
    kinds = {
        key for record in history["history"] for key in record if key not in ("id", "messages")
    }
    assert kinds == {"messagesAdded", "labelsAdded", "labelsRemoved", "messagesDeleted"}


def test_gmail_malformed_payloads_fail_the_schema(gmail: tuple[FakeGmail, httpx.Client]) -> None:
    fake, client = gmail
    fake.inject("malformed", variant="wrong_type")
    with pytest.raises(SchemaMismatch):
        conforms("gmail.v1", "ListMessagesResponse", client.get("/messages").json())


# --------------------------------------------------------------------------- parameters and paths


YOUTUBE_METHODS = {
    "channels.list": ("channels", "list"),
    "playlistItems.list": ("playlistItems", "list"),
    "videos.list": ("videos", "list"),
    "search.list": ("search", "list"),
}
GMAIL_METHODS = {
    "profile": ("users", "getProfile"),
    "messages.list": ("users.messages", "list"),
    "messages.get": ("users.messages", "get"),
    "history.list": ("users.history", "list"),
}


def _method(document: dict[str, Any], resource: str, method: str) -> dict[str, Any]:
    node = document
    for name in resource.split("."):
        node = node["resources"][name]
    found: dict[str, Any] = node["methods"][method]
    return found


@pytest.mark.parametrize(
    ("fake_class", "document", "methods"),
    [(FakeYouTube, "youtube.v3", YOUTUBE_METHODS), (FakeGmail, "gmail.v1", GMAIL_METHODS)],
)
def test_accepted_parameters_and_paths_exist_in_discovery(
    fake_class: type[FakeProvider], document: str, methods: dict[str, tuple[str, str]]
) -> None:
    fake = fake_class(items=1)
    doc = discovery(document)
    for endpoint, (resource, method_name) in methods.items():
        method = _method(doc, resource, method_name)
        known = set(method.get("parameters", {})) | set(doc["parameters"])
        accepted = fake.accepted_params(endpoint)
        assert accepted, endpoint
        assert accepted <= known, (endpoint, sorted(accepted - known))
        path = "/" + method["path"].replace("{userId}", "me").replace("{id}", "abc123")
        found = fake.match(Request(method["httpMethod"], path, {}, {}))
        assert found is not None and found[0].name == endpoint, path


def test_gmail_batch_path_matches_discovery() -> None:
    fake = FakeGmail(items=1)
    batch_path = discovery("gmail.v1")["batchPath"]
    for path in (f"/{batch_path}", "/batch/gmail/v1"):
        found = fake.match(Request("POST", path, {}, {}))
        assert found is not None and found[0].name == "batch"


def test_discovery_documents_confirm_string_typed_counts() -> None:
    youtube = discovery("youtube.v3")["schemas"]
    gmail = discovery("gmail.v1")["schemas"]
    assert youtube["VideoStatistics"]["properties"]["viewCount"] == {
        "format": "uint64",
        "type": "string",
        "description": youtube["VideoStatistics"]["properties"]["viewCount"]["description"],
    }
    assert gmail["Message"]["properties"]["internalDate"]["format"] == "int64"
    assert gmail["Message"]["properties"]["historyId"]["type"] == "string"


# --------------------------------------------------------------------------- the real client


def _service(document: str, root: str, credentials: Any) -> Any:
    import googleapiclient.discovery as discovery_module  # dev dependency: missing = failure

    doc = copy.deepcopy(discovery(document))
    doc["rootUrl"] = root.rstrip("/") + "/"
    doc["mtlsRootUrl"] = doc["rootUrl"]
    return discovery_module.build_from_document(doc, credentials=credentials)


def _credentials(fake: FakeProvider, token_url: str, access: bool) -> Any:
    import google.oauth2.credentials as google_credentials

    tokens = fake.issue_tokens()
    return google_credentials.Credentials(
        token=tokens.access_token if access else None,
        refresh_token=tokens.refresh_token,
        token_uri=token_url,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
    )


def test_googleapiclient_pages_youtube_after_refreshing_through_the_fake() -> None:
    fake = FakeYouTube(items=23, seed=2)
    with serve(fake) as root:
        credentials = _credentials(fake, fake.config(root).token_url or "", access=False)
        service = _service("youtube.v3", root, credentials)
        try:
            channels = service.channels().list(part="contentDetails", mine=True).execute()
            uploads = channels["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
            request = service.playlistItems().list(
                part="snippet,contentDetails", playlistId=uploads, maxResults=10
            )
            seen: list[str] = []
            while request is not None:
                page = request.execute()
                seen += [item["contentDetails"]["videoId"] for item in page["items"]]
                request = service.playlistItems().list_next(request, page)
        finally:
            service.close()
    assert seen == list(fake.dataset())
    assert fake.refreshes == 1 and fake.calls["playlistItems.list"] == 3


def test_googleapiclient_batches_gmail_gets() -> None:
    fake = FakeGmail(items=12, seed=2)
    with serve(fake) as root:
        credentials = _credentials(fake, fake.config(root).token_url or "", access=True)
        service = _service("gmail.v1", root, credentials)
        try:
            listing = service.users().messages().list(userId="me", maxResults=5).execute()
            got: dict[str, dict[str, Any]] = {}

            def collect(request_id: str, response: Any, exception: Exception | None) -> None:
                assert exception is None, exception
                got[response["id"]] = response

            batch = service.new_batch_http_request(callback=collect)
            for message in listing["messages"]:
                batch.add(
                    service.users()
                    .messages()
                    .get(
                        userId="me",
                        id=message["id"],
                        format="metadata",
                        metadataHeaders=["Subject", "From"],
                    )
                )
            batch.execute()
            history = (
                service.users()
                .history()
                .list(userId="me", startHistoryId=fake.latest_cursor_value())
                .execute()
            )
        finally:
            service.close()
    assert list(got) == [message["id"] for message in listing["messages"]]
    for message in got.values():
        conforms("gmail.v1", "Message", message)
        assert {h["name"] for h in message["payload"]["headers"]} == {"Subject", "From"}
    assert history == {"historyId": fake.latest_cursor_value()}
    assert fake.calls["batch"] == 1 and fake.calls["messages.get"] == 5
    assert fake.quota_units == 5 + 5 * 5 + 2
