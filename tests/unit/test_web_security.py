"""The dashboard is safe by default: every request passes ``authorize``, every action needs
its CSRF field and this origin, and the standalone app opens only with its token."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from syncjobs.app import SyncJobs
from syncjobs.core.models import JobStatus
from syncjobs.errors import ConfigurationError
from syncjobs.web import dashboard
from syncjobs.web.security import FLASH_COOKIE, sign
from syncjobs.web.standalone import TOKEN_COOKIE, is_loopback, standalone_app

from .web_support import Seeded, app, client, csrf_of, http, seeded

PAGES = ["/", "/jobs", "/dead-letters", "/schedules", "/accounts", "/static/dashboard.css"]


__all__ = ["app", "http", "seeded"]  # the fixtures, imported for these tests


def test_dashboard_needs_authorize() -> None:
    with pytest.raises(TypeError, match="authorize"):
        dashboard()  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="authorize"):
        dashboard(authorize=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="page_size"):
        dashboard(authorize=lambda request: True, page_size=0)
    with pytest.raises(ConfigurationError, match="keepalive"):
        dashboard(authorize=lambda request: True, keepalive=0)
    with pytest.raises(ConfigurationError, match="SyncJobs app"):
        dashboard(object(), authorize=lambda request: True)  # type: ignore[arg-type]


def test_processes_sharing_a_secret_accept_each_others_forms(app: SyncJobs, seeded: Seeded) -> None:
    one = TestClient(dashboard(app, authorize=lambda r: True, secret="shared key"))
    two = TestClient(dashboard(app, authorize=lambda r: True, secret="shared key"))
    token = csrf_of(one, f"/jobs/{seeded.pending.id}")
    two.cookies = one.cookies

    done = two.post(
        f"/jobs/{seeded.pending.id}/actions",
        data={"csrf": token, "action": "cancel"},
        follow_redirects=False,
    )

    assert done.status_code == 303
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.CANCELLED  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", [False, None, 1, "yes"])
def test_refused_requests_get_403_and_change_nothing(
    app: SyncJobs, seeded: Seeded, answer: object
) -> None:
    with client(app, authorize=lambda request: answer) as http:
        for path in [*PAGES, f"/jobs/{seeded.running.id}", f"/jobs/{seeded.running.id}/events"]:
            page = http.get(path)
            assert page.status_code == 403, path
            assert "You are not allowed" in page.text
            assert 'id="nav-jobs"' not in page.text
        posted = http.post(f"/jobs/{seeded.pending.id}/actions", data={"action": "cancel"})
    assert posted.status_code == 403
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.PENDING  # type: ignore[union-attr]


def test_authorize_sees_the_request_and_may_be_async(app: SyncJobs) -> None:
    async def staff_only(request: Request) -> bool:
        return request.headers.get("x-staff") == "yes"

    with client(app, authorize=staff_only) as http:
        assert http.get("/").status_code == 403
        assert http.get("/", headers={"x-staff": "yes"}).status_code == 200


def _cancel(http: TestClient, job_id: str, **data: str) -> int:
    return http.post(f"/jobs/{job_id}/actions", data={"action": "cancel", **data}).status_code


def test_a_post_without_or_with_a_wrong_csrf_field_is_403(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    good = csrf_of(http, f"/jobs/{seeded.pending.id}")
    other = TestClient(dashboard(app, authorize=lambda r: True))
    foreign = csrf_of(other, f"/jobs/{seeded.pending.id}")

    assert _cancel(http, seeded.pending.id) == 403
    assert _cancel(http, seeded.pending.id, csrf="0" * 64) == 403
    assert _cancel(http, seeded.pending.id, csrf=foreign) == 403  # another secret
    http.cookies.clear()
    assert _cancel(http, seeded.pending.id, csrf=good) == 403  # without its cookie
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.PENDING  # type: ignore[union-attr]


def test_a_post_from_another_origin_is_403_even_with_the_token(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    token = csrf_of(http, f"/jobs/{seeded.pending.id}")
    url = f"/jobs/{seeded.pending.id}/actions"
    data = {"action": "cancel", "csrf": token}

    evil = http.post(url, data=data, headers={"origin": "https://evil.example"})
    null = http.post(url, data=data, headers={"origin": "null"})
    cross = http.post(url, data=data, headers={"sec-fetch-site": "cross-site"})
    sibling = http.post(
        url, data=data, headers={"sec-fetch-site": "same-site", "origin": "http://testserver"}
    )

    assert [r.status_code for r in (evil, null, cross, sibling)] == [403, 403, 403, 403]
    assert "refused" in evil.text
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.PENDING  # type: ignore[union-attr]
    # Behind a proxy the Host header may differ from the address the browser shows; a browser
    # that says "same-origin" is believed.
    same = http.post(
        url,
        data=data,
        headers={"origin": "https://ops.example.com", "sec-fetch-site": "same-origin"},
    )
    assert same.status_code == 303
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.CANCELLED  # type: ignore[union-attr]


def test_pages_set_a_strict_httponly_csrf_cookie_and_security_headers(http: TestClient) -> None:
    page = http.get("/")

    cookie = page.headers["set-cookie"].lower()
    assert "syncjobs_csrf=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_a_forged_flash_cookie_is_ignored(http: TestClient) -> None:
    http.cookies.set(FLASH_COOKIE, sign(b"another key", ["ok", "forged message"]))

    assert "forged message" not in http.get("/").text


def test_gets_never_change_the_ledger(app: SyncJobs, http: TestClient, seeded: Seeded) -> None:
    for path in (f"/jobs/{seeded.pending.id}/actions", "/schedules/maintain_jobs"):
        assert http.get(path, params={"action": "cancel"}).status_code in (404, 405)
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.PENDING  # type: ignore[union-attr]


def test_standalone_app_opens_with_its_token_only(app: SyncJobs) -> None:
    with TestClient(standalone_app(app, token="s3cret-token"), follow_redirects=False) as http:
        assert http.get("/").status_code == 401
        wrong = http.get("/jobs", params={"token": "nope"})
        assert wrong.status_code == 401 and "www-authenticate" in wrong.headers
        assert http.get("/", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        assert http.get("/", headers={"authorization": "Bearer nope"}).status_code == 401

        enter = http.get("/jobs", params={"token": "s3cret-token", "status": "failed"})

        assert enter.status_code == 303
        assert enter.headers["location"] == "/jobs?status=failed"
        cookie = enter.headers["set-cookie"].lower()
        assert f"{TOKEN_COOKIE}=s3cret-token" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert http.get("/jobs?status=failed").status_code == 200
        assert http.get("/static/dashboard.css").status_code == 200


def test_standalone_app_without_a_token_is_open(app: SyncJobs) -> None:
    with TestClient(standalone_app(app, token=None)) as http:
        assert http.get("/").status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_an_unexpected_error_gets_the_500_page(app: SyncJobs) -> None:
    def broken(request: Request) -> bool:
        raise RuntimeError("authorize broke")

    web = dashboard(app, authorize=broken)
    with TestClient(web, raise_server_exceptions=False) as http:
        page = http.get("/")

    assert page.status_code == 500
    assert "the server&#39;s log has the details" in page.text
