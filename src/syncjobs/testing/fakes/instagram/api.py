"""A stateful fake of the Instagram API with Instagram Login (graph.instagram.com).

Routes (relative to the fake's root; the ``/v21.0`` segment is optional, any ``vNN.N``):
``GET /v21.0/me`` (or ``/{user-id}``), ``/me/media``, ``/{media-id}``,
``/{media-id}/insights``, and the OAuth routes of
:mod:`~syncjobs.testing.fakes.instagram.oauth` (consent ``GET /oauth/authorize``, code
exchange ``POST /oauth/access_token``, long-lived ``GET /access_token``, refresh
``GET /refresh_access_token``). ``latest_cursor_value()`` is the newest media ``timestamp``
(``2019-04-05T07:56:32+0000``). Errors use the Graph shape; a bad token is code 190 (HTTP 400).
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar
from urllib.parse import urlencode

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes.corpus import pick_ids, spread_keys
from syncjobs.testing.fakes.instagram.account import (
    MEDIA_FIELDS,
    METRICS,
    SPAN,
    USER_FIELDS,
    Account,
    graph_time,
)
from syncjobs.testing.fakes.instagram.oauth import InstagramOAuth
from syncjobs.testing.fakes.messages import Request, Response, json_response, parse_int
from syncjobs.testing.fakes.paging import decode_token, encode_token
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.routing import Route, route

__all__ = ["API_VERSION", "FakeInstagram"]

#: The Graph API version in the configured base URL.
API_VERSION = "v21.0"
_VERSION = r"(?:/v\d+\.\d+)?"
_LONG_LIVED = 60 * 86400
_RATE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}


class FakeInstagram(InstagramOAuth):
    """Fake Instagram Graph API (Instagram Login): profile, media, insights, token refresh."""

    name = "instagram"
    client_id = "instagram-test-app-id"
    client_secret = "instagram-test-app-secret"
    scope = "instagram_business_basic,instagram_business_manage_insights"
    default_expires_in = _LONG_LIVED
    has_refresh_token = False
    access_prefix = "IGAAT"
    refresh_prefix = "IGAAR"

    supported_faults: ClassVar[dict[str, str | None]] = dict(FakeProvider.supported_faults)

    def build_routes(self) -> list[Route]:
        """Graph routes; the profile routes accept ``me`` and the account's ids."""
        me = f"(?:me|{self.user_id}|{self.app_user_id})"
        return [
            *self.oauth_routes(),
            route("GET", f"{_VERSION}/{me}", "me", self._me),
            route("GET", f"{_VERSION}/{me}/media", "media", self._media_list),
            route("GET", rf"{_VERSION}/(?P<media>\d+)/insights", "insights", self._insights),
            route("GET", rf"{_VERSION}/(?P<media>\d+)", "media.get", self._media_get),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """A business account with ``items`` posts and reels over three years."""
        self.account = Account(rng, self.seed)
        self.user_id = self.account.user_id
        self.app_user_id = self.account.app_user_id
        self.username = self.account.username
        for key in spread_keys(rng, items, int(self.clock()) - 600, SPAN):
            self.account.add(rng, key)

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}/v21.0``, ``token_url = {root}/refresh_access_token``, OAuth URLs."""
        root = root_url.rstrip("/")
        return ProviderConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            base_url=f"{root}/{API_VERSION}",
            token_url=f"{root}/refresh_access_token",
            auth_url=f"{root}/oauth/authorize",
            exchange_url=f"{root}/oauth/access_token",
        )

    # -- errors ----------------------------------------------------------------

    def rate_limit_error(self, options: dict[str, Any]) -> Response:
        """Throttling: ``code`` 4 (default), 17, 32 or 613; HTTP ``status`` 403 by default."""
        code = int(options.get("code", 4))
        message = _RATE_MESSAGES.get(code, f"(#{code}) Request limit reached")
        return self.graph_error(int(options.get("status", 403)), code, message, transient=True)

    def server_error(self, options: dict[str, Any]) -> Response:
        """Code 2, transient (HTTP 500 by default)."""
        message = "An unexpected error has occurred. Please retry your request later."
        return self.graph_error(int(options.get("status", 500)), 2, message, transient=True)

    def token_server_error(self, options: dict[str, Any]) -> Response:
        """Code 2 from the refresh endpoint."""
        return self.server_error(options)

    def not_found(self, request: Request) -> Response:
        """Code 100 / subcode 33: unknown node or edge."""
        message = (
            f"Unsupported get request. Object with ID '{request.path.strip('/')}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation."
        )
        return self.graph_error(400, 100, message, 33)

    def unknown_param_error(self, name: str) -> Response:
        """Graph ignores unknown parameters; unused."""
        return self.graph_error(400, 100, f"(#100) Unknown parameter {name}")  # pragma: no cover

    def _fields(self, request: Request, allowed: frozenset[str], node: str) -> list[str] | Response:
        fields = ["id"] + [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
        unknown = [field for field in fields if field not in allowed]
        if unknown:
            message = (
                f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({node})"
            )
            return self.graph_error(400, 100, message)
        return list(dict.fromkeys(fields))

    # -- handlers --------------------------------------------------------------

    def _me(self, request: Request, match: re.Match[str]) -> Response:
        fields = self._fields(request, USER_FIELDS, "IGUser")
        if isinstance(fields, Response):
            return fields
        return json_response(200, self.account.user_json(fields))

    def _media_get(self, request: Request, match: re.Match[str]) -> Response:
        media = self.account.media.get(match.group("media"))
        if media is None:
            return self.not_found(request)
        fields = self._fields(request, MEDIA_FIELDS, "IGMedia")
        if isinstance(fields, Response):
            return fields
        return json_response(200, self.account.media_json(media, fields))

    def _media_list(self, request: Request, match: re.Match[str]) -> Response:
        fields = self._fields(request, MEDIA_FIELDS, "IGMedia")
        if isinstance(fields, Response):
            return fields
        limit = parse_int(request.arg("limit"), 25)
        if limit is None or limit < 0:
            return self.graph_error(400, 100, "(#100) Param limit must be a non-negative integer")
        limit = min(limit, 100) or 25
        page = self._page(request, limit)
        if isinstance(page, Response):
            return page
        if not page:
            return json_response(200, {"data": []})
        items = [self.account.media[media_id] for media_id in page]
        data = [self.account.media_json(item, fields) for item in items]
        paging = self._paging(request, items[0].key, items[-1].key)
        return json_response(200, {"data": data, "paging": paging})

    def _page(self, request: Request, limit: int) -> list[str] | Response:
        after, before = request.arg("after"), request.arg("before")
        cursor = after or before
        if cursor is None:
            return self.account.index.older(None, limit)
        parts = decode_token(cursor, 2)
        if parts is None or parts[0] != "c" or not isinstance(parts[1], int):
            return self.graph_error(400, 100, "(#100) The cursor is invalid")
        if after:
            return self.account.index.older(parts[1], limit)
        return self.account.index.newer(parts[1], limit)

    def _paging(self, request: Request, newest: int, oldest: int) -> dict[str, Any]:
        first, last = encode_token("c", newest), encode_token("c", oldest)
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        query = {k: v[0] for k, v in request.query.items() if k not in ("after", "before")}
        path = re.sub(r"/me/media$", f"/{self.user_id}/media", request.path)
        index = self.account.index
        if index.count_between(None, oldest) > 0:
            paging["next"] = f"{request.root_url}{path}?{urlencode({**query, 'after': last})}"
        paged = request.arg("after") or request.arg("before")
        if paged and index.count_between(newest, None) > 0:
            paging["previous"] = f"{request.root_url}{path}?{urlencode({**query, 'before': first})}"
        return paging

    def _insights(self, request: Request, match: re.Match[str]) -> Response:
        media = self.account.media.get(match.group("media"))
        if media is None:
            return self.not_found(request)
        metrics = [m for m in (request.arg("metric") or "").split(",") if m]
        bad = [i for i, metric in enumerate(metrics) if metric not in METRICS]
        if not metrics or bad:
            at = bad[0] if bad else 0
            message = (
                f"(#100) metric[{at}] must be one of the following values: {', '.join(METRICS)}"
            )
            return self.graph_error(400, 100, message)
        return json_response(200, {"data": Account.insights(media, metrics)})

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live media by id, with every field ``/me/media`` can return."""
        fields = sorted(MEDIA_FIELDS)
        with self._lock:
            media = self.account.media
            return {i: self.account.media_json(media[i], fields) for i in self.account.index.ids()}

    def latest_cursor_value(self) -> str | None:
        """The newest media ``timestamp`` (None when there is none)."""
        with self._lock:
            newest = self.account.index.newest_key()
            return graph_time(newest) if newest is not None else None

    def add_items(self, n: int) -> list[str]:
        """Publish ``n`` new posts."""
        with self._lock:
            added = []
            for _ in range(n):
                key = self.account.index.next_key(int(self.clock()))
                added.append(self.account.add(self._rng, key))
            return added[::-1]

    def change_items(self, ids: list[str] | int, *, counts_only: bool = False) -> list[str]:
        """Grow like/comment counts and edit the captions (``counts_only``: counts only)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.account.index.ids()), ids)
            self.account.change(self._rng, chosen, counts_only=counts_only)
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete media: they vanish from ``/me/media``."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.account.index.ids()), ids)
            self.account.delete(chosen)
            return chosen
