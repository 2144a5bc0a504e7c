"""Webhooks only go where they should: internal destinations are refused when set and when sent."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from syncjobs import SyncJobs
from syncjobs.errors import ConfigurationError, FatalError, InvalidInputError
from syncjobs.insights.models import Notification, Preferences
from syncjobs.insights.notifiers import WebhookNotifier, build_notifiers
from syncjobs.insights.webhook_guard import check_webhook_url, refused_because
from syncjobs.settings import Settings
from syncjobs.testing.fakes import FakeWebhookReceiver, serve

from ..conftest import AppFactory

SECRET = "whsec-guard"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "not public"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_each_address_class_is_refused_and_public_ones_pass(address: str, why: str | None) -> None:
    assert refused_because(ipaddress.ip_address(address)) == why
    host = f"[{address}]" if ":" in address else address
    if why is None:
        check_webhook_url(f"https://{host}/hook", allow_private=False)
    else:
        with pytest.raises(InvalidInputError, match=why) as refused:
            check_webhook_url(f"http://{host}:8080/hook", allow_private=False)
        assert "SYNCJOBS_WEBHOOK_ALLOW_PRIVATE" in str(refused.value)
    check_webhook_url(f"http://{host}/hook", allow_private=True)


def test_a_name_resolving_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidInputError, match=r"localhost \(.*\) is a loopback address"):
        check_webhook_url("http://localhost:9999/hook", allow_private=False)
    check_webhook_url("http://localhost:9999/hook", allow_private=True)
    with pytest.raises(InvalidInputError, match="absolute http"):
        check_webhook_url("file:///etc/passwd", allow_private=True)


def test_an_owner_cannot_set_an_internal_webhook_url(make_app: AppFactory) -> None:
    app: SyncJobs = make_app()
    for url in ("http://169.254.169.254/latest/meta-data", "http://localhost:8080/x"):
        with pytest.raises(InvalidInputError, match="invalid webhook URL"):
            app.insights.set_preferences("o1", webhook_url=url)
    assert app.insights.preferences("o1").webhook_url is None
    app.insights.set_preferences("o1", webhook_url="https://8.8.8.8/hook")
    allowed: SyncJobs = make_app(webhook_allow_private=True)
    prefs = allowed.insights.set_preferences("o1", webhook_url="http://localhost:8080/x")
    assert prefs.webhook_url == "http://localhost:8080/x"


def note() -> Notification:
    return Notification(
        id=11,
        owner_id="o1",
        kind="test",
        title="hello",
        body="world",
        created_at=datetime.now(UTC),
    )


def test_sending_to_an_internal_address_is_refused_and_nothing_arrives() -> None:
    receiver = FakeWebhookReceiver(SECRET)
    with serve(receiver) as root:
        port = root.rsplit(":", 1)[1]
        made = WebhookNotifier(SECRET)
        for url in (
            f"{root}/in",
            f"http://localhost:{port}/in",
            f"http://[::ffff:127.0.0.1]:{port}/in",
        ):
            with pytest.raises(FatalError, match="refused destination") as refused:
                made.deliver(note(), Preferences(owner_id="o1", webhook_url=url))
            assert refused.value.reason == "forbidden_destination"
        made.close()
        assert receiver.received == []
        allowed = WebhookNotifier(SECRET, allow_private=True)
        url = f"http://localhost:{port}/in"
        assert allowed.deliver(note(), Preferences(owner_id="o1", webhook_url=url)) is True
        allowed.close()
    assert [body["id"] for body in receiver.received] == [11]
    assert receiver.headers[0]["host"] == f"localhost:{port}"  # pinned, Host kept


def test_dns_that_changes_after_the_check_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {"hooks.example": "93.184.216.34"}
    real = socket.getaddrinfo

    def lookup(host: str, port: Any, *args: Any, **kw: Any) -> Any:
        if host in answers:
            return real(answers[host], port, *args, **kw)
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    check_webhook_url("http://hooks.example/in", allow_private=False)  # public when set
    answers["hooks.example"] = "127.0.0.1"  # rebound to loopback before the delivery
    made = WebhookNotifier(SECRET)
    with pytest.raises(FatalError, match=r"hooks.example \(127.0.0.1\) is a loopback"):
        made.deliver(note(), Preferences(owner_id="o1", webhook_url="http://hooks.example/in"))
    made.close()


def test_a_default_url_on_an_internal_address_is_a_configuration_error() -> None:
    settings = Settings(
        notifiers=["webhook"], webhook_secret=SECRET, webhook_url="http://127.0.0.1:9/in"
    )
    with pytest.raises(ConfigurationError, match=r"SYNCJOBS_WEBHOOK_URL: .* loopback"):
        build_notifiers(settings)
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    (made,) = build_notifiers(allowed)
    assert isinstance(made, WebhookNotifier)
    made.close()
