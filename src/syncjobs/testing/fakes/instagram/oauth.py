"""Instagram Login's OAuth for the fake: consent, code exchange, long-lived tokens, refresh.

Routes (relative to the fake's root; ``/v21.0`` optional where the real host is
graph.instagram.com): ``GET /oauth/authorize`` (route ``authorize``, the consent page: the
callback is ``?code=…&state=…#_``), ``POST /oauth/access_token`` (route ``exchange``: the code
for a 1-hour short-lived token), ``GET /access_token?grant_type=ig_exchange_token`` (route
``long_lived``: a short-lived token for a 60-day one) and
``GET /refresh_access_token?grant_type=ig_refresh_token`` (route ``token``). Instagram has no
refresh token: a long-lived token refreshes itself once it is >= 24 h old and unexpired.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from syncjobs.testing.fakes.consent import AuthCode, OAuthStyle, answer_consent, take_code
from syncjobs.testing.fakes.messages import Request, Response, json_response
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.routing import Route, route
from syncjobs.testing.fakes.tokens import TokenBook

__all__ = ["LONG_LIVED", "SHORT_LIVED", "InstagramOAuth"]

_VERSION = r"(?:/v\d+\.\d+)?"
#: Lifetime of a long-lived token from ``/access_token`` (the real API's figure).
LONG_LIVED = 5183944
#: Lifetime of the short-lived token the code exchange returns.
SHORT_LIVED = 3600
_REFRESHED = 60 * 86400
_MIN_REFRESH_AGE = 86400
_AUTH_MESSAGES = {
    "expired": ("Error validating access token: Session has expired.", 463),
    "invalidated": (
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        460,
    ),
}
_OAUTH = OAuthStyle(
    scope_sep=",",
    scope_param=None,
    pkce="none",
    fragment="#_",
    denied=(
        ("error", "access_denied"),
        ("error_reason", "user_denied"),
        ("error_description", "The user denied your request."),
    ),
    errors={
        problem: (400, "OAuthException", message)
        for problem, message in {
            "unknown_client": "Invalid platform app",
            "bad_secret": "Error validating client secret.",
            "missing_redirect": "Invalid redirect_uri",
            "bad_redirect": "Invalid redirect_uri",
            "response_type": "Invalid response_type",
            "bad_code": "Invalid authorization code",
            "redirect_mismatch": (
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request"
            ),
        }.items()
    },
)
_SCOPES = frozenset(
    {
        "instagram_business_basic",
        "instagram_business_manage_insights",
        "instagram_business_manage_comments",
        "instagram_business_manage_messages",
        "instagram_business_content_publish",
    }
)


class InstagramOAuth(FakeProvider):
    """The OAuth side of the Instagram fake and the Graph error shape it shares with the API."""

    known_scopes = _SCOPES
    code_prefix = "AQB"
    #: The account's Instagram user id (the code exchange's ``user_id``; set by the seed).
    user_id: str

    def __init__(self, *, items: int = 50, seed: int = 0) -> None:
        #: Short-lived tokens from the code exchange (the ones ``/access_token`` takes).
        self.short_lived: set[str] = set()
        super().__init__(items=items, seed=seed)

    def oauth_routes(self) -> list[Route]:
        """Consent, code exchange, long-lived exchange and refresh routes."""
        return [
            route("GET", r"/oauth/authorize/?", "authorize", self._consent, page=True),
            route("POST", r"/oauth/access_token/?", "exchange", self._exchange, token=True),
            route("GET", f"{_VERSION}/access_token", "long_lived", self._long_lived, token=True),
            route("GET", f"{_VERSION}/refresh_access_token", "token", self._refresh, token=True),
        ]

    def graph_error(
        self,
        status: int,
        code: int,
        message: str,
        subcode: int | None = None,
        transient: bool = False,
    ) -> Response:
        """``{"error":{"message","type":"OAuthException","code",…,"fbtrace_id"}}``."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if transient:
            error["is_transient"] = True
        error["fbtrace_id"] = "A" + self.trace_id()
        return json_response(status, {"error": error})

    def auth_error(self, problem: str) -> Response:
        """Code 190: expired (463), invalidated (460) or unparsable (467) token."""
        message, subcode = _AUTH_MESSAGES.get(
            problem, ("Invalid OAuth access token - Cannot parse access token", 467)
        )
        return self.graph_error(400, 190, message, subcode)

    def oauth_error(self, status: int, error: str, description: str) -> Response:
        """``{"error_type","code","error_message"}`` as api.instagram.com's OAuth answers."""
        return json_response(
            status, {"error_type": error, "code": status, "error_message": description}
        )

    def _consent(self, request: Request, match: re.Match[str]) -> Response:
        return answer_consent(self, request, _OAUTH)

    def _exchange(self, request: Request, match: re.Match[str]) -> Response:
        form = request.form()
        if form.get("grant_type") != "authorization_code":
            return self.oauth_error(400, "OAuthException", "Invalid grant_type")
        grant = take_code(self, form, _OAUTH)
        if not isinstance(grant, AuthCode):
            return self.oauth_error(*_OAUTH.error(grant))
        token = self._tokens.new_access(self.clock(), SHORT_LIVED)
        self.short_lived.add(token)
        data = {
            "access_token": token,
            "user_id": self.user_id,
            "permissions": ",".join(grant.scopes),
        }
        return json_response(200, {"data": [data]})

    def _long_lived(self, request: Request, match: re.Match[str]) -> Response:
        if request.arg("grant_type") != "ig_exchange_token":
            return self.graph_error(400, 100, "Unsupported grant type: must be ig_exchange_token")
        given = (request.arg("client_secret") or "").encode("utf-8")
        if not hmac.compare_digest(given, self.client_secret.encode("utf-8")):
            return self.graph_error(400, 101, "Error validating client secret.")
        token = request.arg("access_token") or request.bearer
        problem = TokenBook.problem(self._tokens.access, token, self.clock())
        if problem is not None:
            return self.auth_error(problem)
        if token not in self.short_lived:
            message = (
                "(#100) Only a short-lived access token can be exchanged for a long-lived one."
            )
            return self.graph_error(400, 100, message)
        fresh = self._tokens.new_access(self.clock(), LONG_LIVED)
        return json_response(
            200, {"access_token": fresh, "token_type": "bearer", "expires_in": LONG_LIVED}
        )

    def _refresh(self, request: Request, match: re.Match[str]) -> Response:
        if request.arg("grant_type") != "ig_refresh_token":
            return self.graph_error(400, 100, "Unsupported grant type: must be ig_refresh_token")
        token = request.arg("access_token") or request.bearer
        if self._faults.take("invalid_grant", "token") is not None:
            self._tokens.set_state(self._tokens.access, token, "revoked")
        problem = TokenBook.problem(self._tokens.access, token, self.clock())
        if problem not in (None, "invalidated"):
            return self.auth_error(problem or "unknown")
        grant = self._tokens.access[str(token)]
        if self.clock() - grant.issued_at < _MIN_REFRESH_AGE:
            message = (
                "(#100) The access token is less than 24 hours old and cannot be refreshed yet."
            )
            return self.graph_error(400, 100, message)
        self.refreshes += 1
        fresh = self._tokens.new_access(self.clock(), _REFRESHED)
        return json_response(
            200, {"access_token": fresh, "token_type": "bearer", "expires_in": _REFRESHED}
        )
