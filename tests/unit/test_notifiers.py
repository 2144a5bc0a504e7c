"""The in-app and webhook notifiers, webhook signatures, and the fake webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import syncjobs
from syncjobs.errors import (
    ConfigurationError,
    FatalError,
    ProviderUnavailableError,
    RateLimitedError,
    RetriableError,
)
from syncjobs.insights.models import Notification, Preferences
from syncjobs.insights.notifiers import (
    InAppNotifier,
    Notifier,
    WebhookNotifier,
    build_notifiers,
    notification_body,
    sign_webhook,
    verify_webhook,
)
from syncjobs.settings import Settings
from syncjobs.testing.fakes import FakeWebhookReceiver, serve

SECRET = "whsec-SECRET-0123456789"
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEFAULT_URL = "http://hooks.test/default"


def note(notification_id: int = 7, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "id": notification_id,
        "owner_id": "owner-1",
        "kind": "item_blocked",
        "title": "A video was blocked",
        "body": "“Gore night” was blocked.",
        "created_at": CREATED,
        "data": {"item_id": 3, "tags": ["mature:gore"]},
    }
    values.update(fields)
    return Notification(**values)


def prefs(url: str | None = None) -> Preferences:
    return Preferences(owner_id="owner-1", webhook_url=url)


@pytest.fixture
def receiver() -> FakeWebhookReceiver:
    return FakeWebhookReceiver(SECRET)


@contextmanager
def webhook(
    receiver: FakeWebhookReceiver, *, loopback: bool = False, secret: str = SECRET
) -> Iterator[tuple[WebhookNotifier, str]]:
    """A notifier whose default URL is the receiver's ``/default``; also yields the root."""
    if loopback:
        with serve(receiver) as root:
            made = WebhookNotifier(secret, root + "/default", timeout=5, allow_private=True)
            try:
                yield made, root
            finally:
                made.close()
    else:
        made = WebhookNotifier(secret, DEFAULT_URL, transport=receiver.transport())
        try:
            yield made, "http://hooks.test"
        finally:
            made.close()


@pytest.fixture(params=["in_process", "loopback"])
def notifier(
    request: pytest.FixtureRequest, receiver: FakeWebhookReceiver
) -> Iterator[WebhookNotifier]:
    with webhook(receiver, loopback=request.param == "loopback") as (made, _):
        yield made


# --------------------------------------------------------------------------- in-app


def test_in_app_notifier() -> None:
    in_app = InAppNotifier()
    assert isinstance(in_app, Notifier) and in_app.name == "in_app"
    assert in_app.deliver(note(), None) is True
    assert in_app.deliver(note(), prefs("http://x")) is True


# --------------------------------------------------------------------------- signatures


def test_sign_and_verify_roundtrip() -> None:
    body, now = b'{"id":1}', 1_700_000_000
    signature = sign_webhook(SECRET, body, now)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert sign_webhook(SECRET, body, str(now)) == signature
    assert verify_webhook(SECRET, body, timestamp=str(now), signature=signature, now=now)
    assert verify_webhook(SECRET, body, timestamp=str(now), signature=signature, now=now + 300)
    assert verify_webhook(
        SECRET,
        body,
        timestamp=str(now),
        signature=signature.upper().replace("SHA256", "sha256"),
        now=now,
    )


def test_verify_rejects_tampering_wrong_secret_and_stale() -> None:
    body, now = b'{"id":1}', 1_700_000_000
    signature = sign_webhook(SECRET, body, now)
    stamp = str(now)
    assert not verify_webhook(SECRET, b'{"id":2}', timestamp=stamp, signature=signature, now=now)
    assert not verify_webhook("other", body, timestamp=stamp, signature=signature, now=now)
    assert not verify_webhook(SECRET, body, timestamp=str(now + 1), signature=signature, now=now)
    assert not verify_webhook(SECRET, body, timestamp=stamp, signature=signature, now=now + 301)
    assert not verify_webhook(SECRET, body, timestamp=stamp, signature=signature, now=now - 301)
    assert not verify_webhook(
        SECRET, body, timestamp=stamp, signature=signature, now=now + 10, tolerance=5
    )
    assert not verify_webhook(SECRET, body, timestamp=stamp, signature=signature[7:], now=now)


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "signature"),
    [
        (SECRET, b"x", "", ""),
        (SECRET, b"x", "abc", "sha256=00"),
        (SECRET, b"x", "-5", "sha256=00"),
        (SECRET, b"x", "1e9", "sha256=00"),
        (SECRET, b"x", "9" * 400, "sha256=00"),
        (SECRET, b"x", "\uff11\uff12\uff13", "sha256=00"),  # full-width digits
        (SECRET, b"x", "1700000000", "sha256=ünïcode"),
        (SECRET, b"x", "1700000000", "md5=abc"),
        (SECRET, "not bytes", "1700000000", "sha256=00"),
        (SECRET, None, None, None),
        ("", b"x", "1700000000", "sha256=00"),
        (None, b"x", "1700000000", "sha256=00"),
        (SECRET, b"x", 1700000000, b"sha256=00"),
    ],
)
def test_verify_never_raises_on_garbage(
    secret: Any, body: Any, timestamp: Any, signature: Any
) -> None:
    assert (
        verify_webhook(secret, body, timestamp=timestamp, signature=signature, now=1_700_000_000)
        is False
    )


def test_notification_body_is_compact_sorted_json() -> None:
    body = notification_body(note())
    assert b", " not in body and b": " not in body
    parsed = json.loads(body)
    assert list(parsed) == sorted(parsed)
    assert parsed == {
        "id": 7,
        "owner_id": "owner-1",
        "kind": "item_blocked",
        "title": "A video was blocked",
        "body": "“Gore night” was blocked.",
        "data": {"item_id": 3, "tags": ["mature:gore"]},
        "created_at": "2024-05-01T12:00:00+00:00",
    }
    assert body == json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- webhook


def test_webhook_needs_a_secret() -> None:
    with pytest.raises(ConfigurationError, match="SYNCJOBS_WEBHOOK_SECRET"):
        WebhookNotifier("")


def test_webhook_delivers_a_verifiable_body(
    notifier: WebhookNotifier, receiver: FakeWebhookReceiver
) -> None:
    assert isinstance(notifier, Notifier) and notifier.name == "webhook"
    assert notifier.deliver(note(), None) is True
    assert receiver.received == [json.loads(notification_body(note()))]
    assert receiver.paths == ["/default"]
    headers = receiver.headers[0]
    assert headers["x-syncjobs-delivery"] == "7"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"syncjobs/{syncjobs.__version__}"
    assert abs(int(headers["x-syncjobs-timestamp"]) - time.time()) < 60
    assert verify_webhook(
        SECRET,
        notification_body(note()),
        timestamp=headers["x-syncjobs-timestamp"],
        signature=headers["x-syncjobs-signature"],
    )
    assert SECRET not in json.dumps(headers)
    assert receiver.rejected == 0


def test_webhook_deliveries_dedupe_on_the_notification_id(
    notifier: WebhookNotifier, receiver: FakeWebhookReceiver
) -> None:
    for notification_id in (1, 2, 1, 1):
        assert notifier.deliver(note(notification_id), None)
    assert receiver.by_delivery == {"1": 3, "2": 1}
    assert receiver.duplicates() == {"1": 3}
    assert [body["id"] for body in receiver.received] == [1, 2, 1, 1]


def test_receiver_rejects_wrong_secret_and_stale_timestamps(
    receiver: FakeWebhookReceiver,
) -> None:
    with webhook(receiver, secret="another-secret") as (wrong, _), pytest.raises(FatalError) as e:
        wrong.deliver(note(), None)
    assert e.value.status_code == 401
    assert receiver.rejected == 1 and receiver.received == []
    stale = WebhookNotifier(
        SECRET, DEFAULT_URL, transport=receiver.transport(), clock=lambda: time.time() - 3600
    )
    with pytest.raises(FatalError):
        stale.deliver(note(), None)
    assert receiver.rejected == 2 and receiver.received == []


def test_receiver_rejects_tampered_and_unsigned_bodies(receiver: FakeWebhookReceiver) -> None:
    body = notification_body(note())
    stamp = str(int(time.time()))
    signature = sign_webhook(SECRET, body, stamp)
    with httpx.Client(transport=receiver.transport(), base_url="http://hooks.test") as client:
        signed = {"X-Syncjobs-Timestamp": stamp, "X-Syncjobs-Signature": signature}
        tampered = client.post("/h", content=body.replace(b'"id":7', b'"id":8'), headers=signed)
        assert tampered.status_code == 401
        assert client.post("/h", content=body).status_code == 401
        assert client.post("/h", content=body, headers=signed).status_code == 200
        not_json = sign_webhook(SECRET, b"oops", stamp)
        headers = {"X-Syncjobs-Timestamp": stamp, "X-Syncjobs-Signature": not_json}
        assert client.post("/h", content=b"oops", headers=headers).status_code == 400
        assert client.get("/h").status_code == 405
    assert receiver.rejected == 3 and receiver.by_delivery == {"7": 1}


@pytest.mark.parametrize("status", [500, 502, 503, 408, 425])
def test_webhook_server_errors_are_retriable(
    notifier: WebhookNotifier, receiver: FakeWebhookReceiver, status: int
) -> None:
    receiver.fail_next(status)
    with pytest.raises(ProviderUnavailableError) as caught:
        notifier.deliver(note(), None)
    assert isinstance(caught.value, RetriableError) and caught.value.status_code == status
    assert SECRET not in str(caught.value)
    assert notifier.deliver(note(), None) is True
    assert receiver.by_delivery == {"7": 1}


def test_webhook_rate_limit(notifier: WebhookNotifier, receiver: FakeWebhookReceiver) -> None:
    receiver.fail_next(429, retry_after=12)
    with pytest.raises(RateLimitedError) as caught:
        notifier.deliver(note(), None)
    assert caught.value.retry_after == 12 and caught.value.status_code == 429
    receiver.fail_next(429)
    with pytest.raises(RateLimitedError) as default:
        notifier.deliver(note(), None)
    assert default.value.retry_after == 60


@pytest.mark.parametrize("status", [410, 400, 404, 413])
def test_webhook_other_4xx_are_fatal(
    notifier: WebhookNotifier, receiver: FakeWebhookReceiver, status: int
) -> None:
    receiver.fail_next(status, count=2)
    for _ in range(2):
        with pytest.raises(FatalError) as caught:
            notifier.deliver(note(), None)
        assert not isinstance(caught.value, RetriableError)
        assert caught.value.status_code == status and SECRET not in str(caught.value)
    assert notifier.deliver(note(), None) is True


def test_webhook_without_url_does_not_apply(receiver: FakeWebhookReceiver) -> None:
    made = WebhookNotifier(SECRET, transport=receiver.transport())
    assert made.deliver(note(), None) is False
    assert made.deliver(note(), prefs()) is False
    assert receiver.requests == 0


def test_prefs_url_overrides_the_default(receiver: FakeWebhookReceiver) -> None:
    with webhook(receiver, loopback=True) as (made, root):
        assert made.deliver(note(1), prefs(root + "/owner/hook?x=1")) is True
        assert made.deliver(note(2), prefs(None)) is True
        assert made.deliver(note(3), None) is True
    assert receiver.paths == ["/owner/hook", "/default", "/default"]
    only_prefs = WebhookNotifier(SECRET, transport=receiver.transport())
    assert only_prefs.deliver(note(4), prefs("http://hooks.test/mine")) is True
    assert receiver.paths[-1] == "/mine"


@pytest.mark.parametrize("url", ["ftp://hooks.test/x", "not a url", "http://", "/relative"])
def test_webhook_bad_urls_are_fatal(receiver: FakeWebhookReceiver, url: str) -> None:
    made = WebhookNotifier(SECRET, transport=receiver.transport())
    with pytest.raises(FatalError):
        made.deliver(note(), prefs(url))
    assert receiver.requests == 0


def test_webhook_transport_errors_are_retriable(receiver: FakeWebhookReceiver) -> None:
    with serve(receiver) as root:
        pass  # the port is closed now
    made = WebhookNotifier(SECRET, root + "/default", timeout=2, allow_private=True)
    with pytest.raises(ProviderUnavailableError) as refused:
        made.deliver(note(), None)
    assert refused.value.reason == "transport_error"
    receiver.latency = 0.5
    with serve(receiver) as root:
        slow = WebhookNotifier(SECRET, root + "/default", timeout=0.05, allow_private=True)
        with pytest.raises(ProviderUnavailableError) as timed_out:
            slow.deliver(note(), None)
        assert timed_out.value.reason == "timeout"
        slow.close()
    made.close()


def test_webhook_concurrent_deliveries(receiver: FakeWebhookReceiver) -> None:
    made = WebhookNotifier(SECRET, DEFAULT_URL, transport=receiver.transport())
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            assert made.deliver(note(n % 5), None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(receiver.received) == 20
    assert receiver.by_delivery == {str(n): 4 for n in range(5)}


def test_receiver_fail_next_validates(receiver: FakeWebhookReceiver) -> None:
    with pytest.raises(ValueError):
        receiver.fail_next(200)
    receiver.fail_next(503, count=2)
    receiver.reset()
    with httpx.Client(transport=receiver.transport()) as client:
        assert client.post("http://hooks.test/x", content=b"{}").status_code == 401


# --------------------------------------------------------------------------- factory


def test_build_notifiers(receiver: FakeWebhookReceiver) -> None:
    (only,) = build_notifiers(Settings())
    assert isinstance(only, InAppNotifier)
    with pytest.raises(ConfigurationError, match="SYNCJOBS_WEBHOOK_SECRET"):
        build_notifiers(Settings(notifiers=["in_app", "webhook"]))
    built = build_notifiers(
        Settings(
            notifiers=["webhook", "in_app", "webhook"],
            webhook_secret=SECRET,
            webhook_url=DEFAULT_URL,
        ),
        transport=receiver.transport(),
    )
    assert [n.name for n in built] == ["webhook", "in_app"]
    hook = built[0]
    assert isinstance(hook, WebhookNotifier) and hook.default_url == DEFAULT_URL
    assert hook.deliver(note(), None) is True
    assert receiver.by_delivery == {"7": 1}
    assert build_notifiers(Settings(notifiers=[])) == []
