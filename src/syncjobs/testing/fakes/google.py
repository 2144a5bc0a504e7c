"""What the Google fakes (YouTube, Gmail) share: Google's error bodies and OAuth endpoints.

OAuth routes: ``GET /o/oauth2/v2/auth`` (the consent page, route ``authorize``) and
``POST /token`` (route ``token``: ``grant_type=authorization_code`` and ``refresh_token``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes.consent import AuthCode, OAuthStyle, answer_consent, take_code
from syncjobs.testing.fakes.messages import Request, Response, json_response
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.routing import Handler, Route, route

__all__ = ["GOOGLE_SCOPES", "GOOGLE_STANDARD_PARAMS", "GoogleFake", "google_error"]

#: Query parameters every Google API accepts (the discovery document's ``parameters``).
GOOGLE_STANDARD_PARAMS = frozenset(
    {
        "$.xgafv",
        "access_token",
        "alt",
        "callback",
        "fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "quotaUser",
        "upload_protocol",
        "uploadType",
    }
)
#: Scopes the Google consent page knows.
GOOGLE_SCOPES = frozenset(
    {"openid", "email", "profile"}
    | {
        f"https://www.googleapis.com/auth/{name}"
        for name in (
            "userinfo.email",
            "userinfo.profile",
            "youtube",
            "youtube.readonly",
            "youtube.force-ssl",
            "yt-analytics.readonly",
            "gmail.readonly",
            "gmail.metadata",
            "gmail.modify",
            "gmail.labels",
        )
    }
)
_OAUTH = OAuthStyle(always_offline=False)
_RATE_MESSAGES = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
}


def google_error(status: int, message: str, reason: str, domain: str = "global") -> Response:
    """A Google API error body ``{"error":{"code","message","errors":[…]}}``."""
    detail = {"message": message, "domain": domain, "reason": reason}
    return json_response(
        status, {"error": {"code": status, "message": message, "errors": [detail]}}
    )


class GoogleFake(FakeProvider):
    """What YouTube and Gmail share: Google error bodies and the OAuth token endpoint."""

    access_prefix = "ya29.a0"
    refresh_prefix = "1//0g"
    #: HTTP status of an injected rate limit (403 or 429; ``inject(..., status=)``).
    rate_limit_status: ClassVar[int] = 403
    code_prefix = "4/0Ab"
    known_scopes = GOOGLE_SCOPES

    def google_route(
        self, method: str, path: str, name: str, handler: Handler, units: int, params: str
    ) -> Route:
        """A route whose ``params`` (space-separated) plus the standard ones are accepted."""
        accepted = GOOGLE_STANDARD_PARAMS | set(params.split())
        return route(method, path, name, handler, units=units, params=accepted)

    def oauth_routes(self) -> list[Route]:
        """``GET /o/oauth2/v2/auth`` (consent) and ``POST /token``, Google's OAuth endpoints."""
        return [
            route("GET", r"/o/oauth2/v2/auth", "authorize", self.handle_consent, page=True),
            route("POST", r"/token", "token", self.handle_token, units=0, token=True),
        ]

    def oauth_error(self, status: int, error: str, description: str) -> Response:
        """``{"error","error_description"}`` as Google's OAuth endpoints answer."""
        return _oauth_error(status, error, description)

    def auth_error(self, problem: str) -> Response:
        """Google's 401 ``authError`` body, verbatim."""
        detail = {
            "domain": "global",
            "reason": "authError",
            "message": "Invalid Credentials",
            "locationType": "header",
            "location": "Authorization",
        }
        body = {"error": {"errors": [detail], "code": 401, "message": "Invalid Credentials"}}
        return json_response(401, body).header(
            "WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"'
        )

    def rate_limit_error(self, options: dict[str, Any]) -> Response:
        """403/429 ``usageLimits`` rate limit (``status=``, ``reason=`` options)."""
        reason = str(options.get("reason", "rateLimitExceeded"))
        status = int(options.get("status", self.rate_limit_status))
        return google_error(status, _RATE_MESSAGES.get(reason, reason), reason, "usageLimits")

    def server_error(self, options: dict[str, Any]) -> Response:
        """500 ``backendError`` (or 503 with ``status=503``)."""
        status = int(options.get("status", 500))
        message = (
            "Internal error encountered."
            if status == 500
            else "The service is currently unavailable."
        )
        return google_error(status, message, "backendError")

    def token_server_error(self, options: dict[str, Any]) -> Response:
        """A 5xx from the token endpoint that google-auth treats as retryable."""
        status = int(options.get("status", 500))
        return json_response(
            status, {"error": "internal_failure", "error_description": "Backend Error"}
        )

    def not_found(self, request: Request) -> Response:
        """404 ``notFound``."""
        return google_error(404, "Requested entity was not found.", "notFound")

    def unknown_param_error(self, name: str) -> Response:
        """400 as Google answers a query parameter it cannot bind."""
        message = (
            f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
            f"Field '{name}' could not be found in request message."
        )
        return google_error(400, message, "invalid")

    def bad_request(
        self, message: str, reason: str = "invalid", domain: str = "global"
    ) -> Response:
        """400 Google error."""
        return google_error(400, message, reason, domain)

    def handle_consent(self, request: Request, match: re.Match[str]) -> Response:
        """The consent page: redirect with ``code``, ``state`` and the granted ``scope``."""
        return answer_consent(self, request, _OAUTH)

    def handle_token(self, request: Request, match: re.Match[str]) -> Response:
        """Code or refresh-token exchange; ``invalid_grant`` when spent, expired or revoked."""
        form = request.form()
        if form.get("grant_type") == "authorization_code":
            return self._exchange_code(form)
        if form.get("grant_type") != "refresh_token":
            grant = form.get("grant_type", "")
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        if form.get("client_id") != self.client_id:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        refresh = form.get("refresh_token")
        if not refresh:
            return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        if self.refresh_problem(refresh) is not None:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        self.refreshes += 1
        expires_in = self.default_expires_in - 1
        access = self._tokens.new_access(self.clock(), expires_in)
        body = {
            "access_token": access,
            "expires_in": expires_in,
            "scope": self.scope,
            "token_type": "Bearer",
        }
        return json_response(200, body)

    def _exchange_code(self, form: dict[str, str]) -> Response:
        grant = take_code(self, form, _OAUTH)
        if not isinstance(grant, AuthCode):
            return self.oauth_error(*_OAUTH.error(grant))
        lifetime = self.default_expires_in - 1
        tokens, _ = self._issue(self.clock(), lifetime, new_refresh=grant.offline)
        body = {
            "access_token": tokens.access_token,
            "expires_in": lifetime,
            "refresh_token": tokens.refresh_token,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }
        return json_response(200, {k: v for k, v in body.items() if v is not None})

    def google_config(self, root_url: str, base_path: str) -> ProviderConfig:
        """``base_url = root + base_path``, ``token_url = root/token``, Google's consent page."""
        root = root_url.rstrip("/")
        return ProviderConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            base_url=root + base_path,
            token_url=root + "/token",
            auth_url=root + "/o/oauth2/v2/auth",
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})
