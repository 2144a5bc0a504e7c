"""A stateful fake of the TikTok Display API v2 (open.tiktokapis.com).

Routes (relative to the fake's root): ``POST /v2/video/list/``, ``POST /v2/video/query/``,
``GET /v2/user/info/``, the consent page ``GET /v2/auth/authorize/`` (route ``authorize``) and
``POST /v2/oauth/token/`` (route ``token``: ``grant_type=authorization_code`` with a PKCE
verifier whose challenge is hex SHA-256, and ``refresh_token``). Every API answer is the envelope
``{"data":{…},"error":{"code","message","log_id"}}``. Refresh tokens rotate: a used refresh
token is dead. ``latest_cursor_value()`` is the newest video's ``create_time`` (int seconds).
Some ``video/list`` pages are deterministically shorter than ``max_count`` while
``has_more`` is true, as the real API's are.
"""

from __future__ import annotations

import random
import re
import zlib
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig, TokenSet
from syncjobs.testing.fakes.consent import AuthCode, OAuthStyle, answer_consent, take_code
from syncjobs.testing.fakes.corpus import pick_ids, spread_keys
from syncjobs.testing.fakes.messages import Request, Response, json_response
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.routing import Route, route
from syncjobs.testing.fakes.tiktok.creator import SPAN, USER_FIELDS, VIDEO_FIELDS, Creator

__all__ = ["FakeTikTok"]

_MESSAGES = {
    "access_token_invalid": "The access token is invalid or not found in the request.",
    "rate_limit_exceeded": "API rate limit was exceeded, please try again later.",
    "internal_error": "Something went wrong. Please try again later.",
}

_PKCE_INVALID = (400, "invalid_request", "Code verifier or code challenge is invalid.")
_OAUTH = OAuthStyle(
    client_param="client_key",
    scope_sep=",",
    scope_param="scopes",
    pkce="required",
    hex_challenge=True,
    denied=(
        ("error", "access_denied"),
        ("error_description", "The user denied the authorization request."),
    ),
    errors={
        "unknown_client": (401, "invalid_client", "Client key or secret is incorrect."),
        "bad_secret": (401, "invalid_client", "Client key or secret is incorrect."),
        "missing_redirect": (400, "invalid_request", "redirect_uri is required."),
        "bad_redirect": (400, "invalid_request", "redirect_uri is not registered."),
        "response_type": (400, "invalid_request", "response_type must be code."),
        "missing_challenge": _PKCE_INVALID,
        "challenge_method": _PKCE_INVALID,
        "bad_code": (400, "invalid_grant", "Authorization code is expired."),
        "redirect_mismatch": (400, "invalid_request", "redirect_uri does not match the code."),
        "missing_verifier": _PKCE_INVALID,
        "bad_verifier": _PKCE_INVALID,
    },
)
_SCOPES = frozenset(
    {
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.list",
        "video.publish",
        "video.upload",
    }
)


class FakeTikTok(FakeProvider):
    """Fake TikTok Display API v2: user info, video list/query, rotating OAuth refresh."""

    name = "tiktok"
    client_id = "tiktok-test-client-key"
    client_secret = "tiktok-test-client-secret"
    scope = "user.info.basic,user.info.stats,video.list"
    default_expires_in = 86400
    refresh_expires_in = 365 * 86400
    access_prefix = "act."
    refresh_prefix = "rft."
    code_prefix = "code."
    known_scopes = _SCOPES
    supported_faults: ClassVar[dict[str, str | None]] = dict(FakeProvider.supported_faults)

    def build_routes(self) -> list[Route]:
        """Display API routes and the OAuth token endpoint (trailing slash optional)."""
        return [
            route("POST", r"/v2/video/list/?", "video.list", self._list),
            route("POST", r"/v2/video/query/?", "video.query", self._query),
            route("GET", r"/v2/user/info/?", "user.info", self._user),
            route("GET", r"/v2/auth/authorize/?", "authorize", self._consent, page=True),
            route("POST", r"/v2/oauth/token/?", "token", self._token, units=0, token=True),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """One creator with ``items`` videos over two years."""
        self.creator = Creator(self.seed)
        self.open_id = self.creator.open_id
        self.username = self.creator.username
        for key in spread_keys(rng, items, int(self.clock()) - 300, SPAN):
            self.creator.add(rng, key)

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}``, ``token_url = {root}/v2/oauth/token/``, the consent page."""
        root = root_url.rstrip("/")
        return ProviderConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            base_url=root,
            token_url=f"{root}/v2/oauth/token/",
            auth_url=f"{root}/v2/auth/authorize/",
        )

    # -- envelope & errors -----------------------------------------------------

    def envelope(
        self, data: dict[str, Any], status: int = 200, code: str = "ok", message: str = ""
    ) -> Response:
        """``{"data":…,"error":{"code","message","log_id"}}``."""
        error = {"code": code, "message": message, "log_id": self.trace_id()}
        return json_response(status, {"data": data, "error": error})

    def api_error(self, status: int, code: str, message: str | None = None) -> Response:
        """An error envelope with empty ``data``."""
        return self.envelope({}, status, code, message or _MESSAGES.get(code, code))

    def auth_error(self, problem: str) -> Response:
        """401 ``access_token_invalid``."""
        return self.api_error(401, "access_token_invalid")

    def rate_limit_error(self, options: dict[str, Any]) -> Response:
        """429 ``rate_limit_exceeded``."""
        return self.api_error(429, "rate_limit_exceeded")

    def server_error(self, options: dict[str, Any]) -> Response:
        """500 ``internal_error`` (``status=`` to change the HTTP status)."""
        return self.api_error(int(options.get("status", 500)), "internal_error")

    def token_server_error(self, options: dict[str, Any]) -> Response:
        """A 5xx from the token endpoint."""
        return self.oauth_error(int(options.get("status", 500)), "server_error", "Internal error.")

    def not_found(self, request: Request) -> Response:
        """404 in the envelope."""
        return self.api_error(404, "not_found", f"Path {request.path} not found.")

    def unknown_param_error(self, name: str) -> Response:
        """400 ``invalid_params``."""
        return self.api_error(
            400, "invalid_params", f"Unknown parameter {name}."
        )  # pragma: no cover

    def oauth_error(self, status: int, error: str, description: str) -> Response:
        """``{"error","error_description","log_id"}`` as TikTok's OAuth endpoints answer."""
        body = {"error": error, "error_description": description, "log_id": self.trace_id()}
        return json_response(status, body)

    def _invalid(self, message: str) -> Response:
        return self.api_error(400, "invalid_params", message)

    def _fields(self, request: Request, allowed: frozenset[str]) -> list[str] | Response:
        fields = [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
        if not fields:
            return self._invalid("The fields parameter is required.")
        unknown = [field for field in fields if field not in allowed]
        if unknown:
            return self._invalid(f"Invalid field: {unknown[0]}.")
        return list(dict.fromkeys(fields))

    def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = request.json()
        except ValueError:
            return self._invalid("The request body is not valid JSON.")
        if body is None:
            return {}
        if not isinstance(body, dict):
            return self._invalid("The request body must be an object.")
        return body

    # -- handlers --------------------------------------------------------------

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        fields = self._fields(request, VIDEO_FIELDS)
        if isinstance(fields, Response):
            return fields
        body = self._body(request)
        if isinstance(body, Response):
            return body
        max_count, cursor = body.get("max_count", 10), body.get("cursor")
        if not _is_int(max_count) or not 1 <= max_count <= 20:
            return self._invalid("max_count must be between 1 and 20.")
        if cursor is not None and (not _is_int(cursor) or cursor < 0):
            return self._invalid("cursor must be a non-negative integer.")
        index = self.creator.index
        before = None if cursor is None else -(-cursor // 1000)
        ids = index.older(before, self._page_size(cursor, max_count))
        videos = [self.creator.videos[video_id] for video_id in ids]
        if videos:
            next_cursor = videos[-1].key * 1000
            has_more = index.count_between(None, videos[-1].key) > 0
        else:
            next_cursor = cursor if cursor is not None else int(self.clock() * 1000)
            has_more = False
        data = {
            "videos": [self.creator.video_json(video, fields, self.clock) for video in videos],
            "cursor": next_cursor,
            "has_more": has_more,
        }
        return self.envelope(data)

    def _page_size(self, cursor: int | None, max_count: int) -> int:
        """``max_count``, or (for about one page in three) fewer, deterministically."""
        if max_count > 1 and zlib.crc32(f"{self.seed}:{cursor}".encode()) % 3 == 0:
            return max(1, max_count // 2)
        return max_count

    def _query(self, request: Request, match: re.Match[str]) -> Response:
        fields = self._fields(request, VIDEO_FIELDS)
        if isinstance(fields, Response):
            return fields
        body = self._body(request)
        if isinstance(body, Response):
            return body
        filters = body.get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self._invalid("filters.video_ids must be a list of ids.")
        if len(ids) > 20:
            return self._invalid("At most 20 video_ids are allowed.")
        videos = self.creator.videos
        found = [self.creator.video_json(videos[i], fields, self.clock) for i in ids if i in videos]
        return self.envelope({"videos": found})

    def _user(self, request: Request, match: re.Match[str]) -> Response:
        fields = self._fields(request, USER_FIELDS)
        if isinstance(fields, Response):
            return fields
        return self.envelope({"user": self.creator.user_json(fields)})

    def _consent(self, request: Request, match: re.Match[str]) -> Response:
        return answer_consent(self, request, _OAUTH)

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        form = request.form()
        if form.get("grant_type") == "authorization_code":
            grant = take_code(self, form, _OAUTH)
            if not isinstance(grant, AuthCode):
                return self.oauth_error(*_OAUTH.error(grant))
            tokens, _ = self._issue(self.clock(), self.default_expires_in, new_refresh=True)
            return self._token_body(tokens, ",".join(grant.scopes))
        if form.get("grant_type") != "refresh_token":
            message = "grant_type must be authorization_code or refresh_token."
            return self.oauth_error(400, "unsupported_grant_type", message)
        if (
            form.get("client_key") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return self.oauth_error(401, "invalid_client", "Client key or secret is incorrect.")
        refresh = form.get("refresh_token")
        if not refresh:
            return self.oauth_error(400, "invalid_request", "refresh_token is required.")
        if self.refresh_problem(refresh) is not None:
            return self.oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
        self._tokens.set_state(self._tokens.refresh, refresh, "revoked")
        tokens, _ = self._issue(self.clock(), self.default_expires_in, new_refresh=True)
        self.refreshes += 1
        return self._token_body(tokens, self.scope)

    def _token_body(self, tokens: TokenSet, scope: str) -> Response:
        body = {
            "access_token": tokens.access_token,
            "expires_in": self.default_expires_in,
            "open_id": self.open_id,
            "refresh_expires_in": self.refresh_expires_in,
            "refresh_token": tokens.refresh_token,
            "scope": scope,
            "token_type": "Bearer",
        }
        return json_response(200, body)

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live videos by id, with every field."""
        with self._lock:
            videos = self.creator.videos
            return {
                i: self.creator.video_json(videos[i], VIDEO_FIELDS, self.clock)
                for i in self.creator.index.ids()
            }

    def latest_cursor_value(self) -> int | None:
        """The newest video's ``create_time`` in seconds (None when there is none)."""
        with self._lock:
            return self.creator.index.newest_key()

    def add_items(self, n: int) -> list[str]:
        """Post ``n`` new videos."""
        with self._lock:
            added = []
            for _ in range(n):
                key = self.creator.index.next_key(int(self.clock()))
                added.append(self.creator.add(self._rng, key))
            return added[::-1]

    def change_items(self, ids: list[str] | int, *, counts_only: bool = False) -> list[str]:
        """Grow the counts and retitle the videos (``counts_only``: counts only)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.creator.index.ids()), ids)
            self.creator.change(self._rng, chosen, counts_only=counts_only)
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete videos: they vanish from lists and queries."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.creator.index.ids()), ids)
            self.creator.delete(chosen)
            return chosen


def _is_int(value: Any) -> bool:
    """A JSON integer (``true``/``false`` are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)
