"""The fakes' consent pages and authorization codes (the OAuth authorization-code grant).

A consent route answers at once, as if the owner clicked "Allow": it validates the query and
redirects (``302``) to ``redirect_uri`` with a code, or answers the provider's error.
What the "owner" does is set on the fake (:class:`~syncjobs.testing.fakes.FakeProvider`):

- ``fake.consent = "granted" | "denied"``: denied redirects with ``error=access_denied``;
- ``fake.granted_scopes``: None grants every requested scope, a list grants only the
  requested scopes it holds (as if the owner unticked the others);
- ``fake.redirect_uris``: None accepts any absolute http(s) URL, a list only those.

Codes are single use (the first exchange attempt spends a code, even a failed one), expire
:data:`CODE_TTL` seconds after issue by ``fake.clock``, and are bound to the client id,
``redirect_uri``, PKCE challenge and granted scopes. PKCE ``S256`` challenges are the
base64url SHA-256 of the verifier (RFC 7636) or, for TikTok, its hex SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from syncjobs.testing.fakes.messages import Request, Response

if TYPE_CHECKING:
    from syncjobs.testing.fakes.provider import FakeProvider

__all__ = [
    "CODE_TTL",
    "OAUTH_ERRORS",
    "AuthCode",
    "CodeBook",
    "ConsentControls",
    "OAuthStyle",
    "answer_consent",
    "pkce_challenge",
    "redirect",
    "take_code",
]

#: Seconds an authorization code stays exchangeable.
CODE_TTL = 600

#: Problem -> (HTTP status, OAuth ``error``, description); Google's wording by default.
OAUTH_ERRORS: Mapping[str, tuple[int, str, str]] = MappingProxyType(
    {
        "unknown_client": (401, "invalid_client", "The OAuth client was not found."),
        "bad_secret": (401, "invalid_client", "Unauthorized"),
        "missing_redirect": (400, "invalid_request", "Missing required parameter: redirect_uri"),
        "bad_redirect": (
            400,
            "redirect_uri_mismatch",
            "The redirect URI in the request does not match the ones authorized for the "
            "OAuth client.",
        ),
        "response_type": (400, "unsupported_response_type", "Invalid response_type."),
        "missing_challenge": (400, "invalid_request", "Missing required parameter: code_challenge"),
        "challenge_method": (400, "invalid_request", "Invalid code_challenge_method."),
        "bad_code": (400, "invalid_grant", "Bad Request"),
        "redirect_mismatch": (400, "redirect_uri_mismatch", "Bad Request"),
        "missing_verifier": (400, "invalid_grant", "Missing code verifier."),
        "bad_verifier": (400, "invalid_grant", "Invalid code verifier."),
    }
)


@dataclass(frozen=True)
class OAuthStyle:
    """How one provider spells its consent query, callback and OAuth errors."""

    #: The query/form field naming the client ("client_key" at TikTok).
    client_param: str = "client_id"
    #: Separator of the ``scope`` query parameter.
    scope_sep: str = " "
    #: Callback parameter listing the granted scopes (None: not in the callback).
    scope_param: str | None = "scope"
    #: "none" (no PKCE), "optional" or "required".
    pkce: str = "optional"
    #: TikTok's challenge is hex SHA-256 rather than base64url.
    hex_challenge: bool = False
    #: Appended to the callback URL (Instagram's ``#_``).
    fragment: str = ""
    #: Callback query when the owner denies (``state`` is added).
    denied: tuple[tuple[str, str], ...] = (("error", "access_denied"),)
    #: Every code exchange issues a refresh token (Google: only with ``access_type=offline``).
    always_offline: bool = True
    #: Problem -> (status, error, description) overriding :data:`OAUTH_ERRORS`.
    errors: Mapping[str, tuple[int, str, str]] = field(default_factory=dict)

    def error(self, problem: str) -> tuple[int, str, str]:
        """(status, error, description) of ``problem``."""
        return self.errors.get(problem) or OAUTH_ERRORS[problem]


@dataclass(frozen=True)
class AuthCode:
    """One issued authorization code and what it is bound to."""

    client_id: str
    redirect_uri: str
    challenge: str | None
    #: "S256" or "plain" (None without PKCE).
    method: str | None
    scopes: tuple[str, ...]
    issued_at: float
    #: Google's ``access_type=offline``: the exchange also issues a refresh token.
    offline: bool = True


class CodeBook:
    """Authorization codes a fake has issued and not yet spent."""

    def __init__(self, seed: int, name: str, prefix: str) -> None:
        self._seed = seed
        self._name = name
        self._prefix = prefix
        self._serial = 0
        self._codes: dict[str, AuthCode] = {}

    def issue(self, grant: AuthCode) -> str:
        """Store ``grant`` under a new code; the code."""
        self._serial += 1
        digest = hashlib.sha256(f"code:{self._name}:{self._seed}:{self._serial}".encode())
        code = self._prefix + digest.hexdigest()[:40]
        self._codes[code] = grant
        return code

    def take(self, code: str | None, now: float) -> AuthCode | None:
        """Spend ``code``: its grant, or None when unknown, already spent or expired."""
        grant = self._codes.pop(code, None) if code else None
        if grant is None or now >= grant.issued_at + CODE_TTL:
            return None
        return grant

    def __len__(self) -> int:
        return len(self._codes)


class ConsentControls:
    """What the owner does on a fake's consent page (validated when set)."""

    _answer: str
    _granted: list[str] | None
    _redirects: list[str] | None

    @property
    def consent(self) -> str:
        """The owner's answer: "granted" (default) or "denied"."""
        return self._answer

    @consent.setter
    def consent(self, value: str) -> None:
        if value not in ("granted", "denied"):
            raise ValueError(f"consent must be 'granted' or 'denied', not {value!r}")
        self._answer = value

    @property
    def granted_scopes(self) -> list[str] | None:
        """Scopes the owner leaves ticked (None: every requested one)."""
        return self._granted

    @granted_scopes.setter
    def granted_scopes(self, value: Iterable[str] | None) -> None:
        self._granted = _scope_list("granted_scopes", value)

    @property
    def redirect_uris(self) -> list[str] | None:
        """Registered callback URLs (None: any absolute http(s) URL)."""
        return self._redirects

    @redirect_uris.setter
    def redirect_uris(self, value: Iterable[str] | None) -> None:
        self._redirects = _scope_list("redirect_uris", value)


def _scope_list(name: str, value: Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise ValueError(f"{name} takes a list of strings or None, not a single string")
    listed = list(value)
    if not all(isinstance(item, str) for item in listed):
        raise ValueError(f"{name} takes a list of strings or None")
    return listed


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of two strings (any characters)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def pkce_challenge(verifier: str, *, hex_digest: bool = False) -> str:
    """The S256 challenge of ``verifier``: base64url without padding, or hex (TikTok)."""
    digest = hashlib.sha256(verifier.encode("utf-8"))
    if hex_digest:
        return digest.hexdigest()
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def redirect(uri: str, query: Mapping[str, str], fragment: str = "") -> Response:
    """``302 Location: uri?query`` (appended to a query ``uri`` already has)."""
    joiner = "&" if urlsplit(uri).query else "?"
    return Response(302, b"", [("Location", f"{uri}{joiner}{urlencode(query)}{fragment}")])


def answer_consent(fake: FakeProvider, request: Request, style: OAuthStyle) -> Response:
    """The consent page: an error, or a redirect carrying a code (or the denial)."""
    problem = _consent_problem(fake, request, style)
    if problem is not None:
        return fake.oauth_error(*style.error(problem))
    redirect_uri = str(request.arg("redirect_uri"))
    state = {"state": str(request.arg("state"))} if request.arg("state") is not None else {}
    requested = [s for s in (request.arg("scope") or "").split(style.scope_sep) if s]
    unknown = [s for s in requested if s not in fake.known_scopes]
    if not requested or unknown:
        described = f"Unknown scope: {', '.join(unknown)}" if unknown else "Missing scope."
        query = {"error": "invalid_scope", "error_description": described}
        return redirect(redirect_uri, {**query, **state})
    if fake.consent == "denied":
        return redirect(redirect_uri, {**dict(style.denied), **state})
    chosen = fake.granted_scopes
    granted = tuple(s for s in requested if chosen is None or s in chosen)
    challenge = request.arg("code_challenge") if style.pkce != "none" else None
    code = fake.codes.issue(
        AuthCode(
            client_id=fake.client_id,
            redirect_uri=redirect_uri,
            challenge=challenge,
            method=(request.arg("code_challenge_method") or "plain") if challenge else None,
            scopes=granted,
            issued_at=fake.clock(),
            offline=style.always_offline or request.arg("access_type") == "offline",
        )
    )
    query = {"code": code, **state}
    if style.scope_param is not None:
        query[style.scope_param] = style.scope_sep.join(granted)
    return redirect(redirect_uri, query, style.fragment)


def _consent_problem(fake: FakeProvider, request: Request, style: OAuthStyle) -> str | None:
    if request.arg(style.client_param) != fake.client_id:
        return "unknown_client"
    redirect_uri = request.arg("redirect_uri") or ""
    if not redirect_uri:
        return "missing_redirect"
    if not _absolute(redirect_uri) or (
        fake.redirect_uris is not None and redirect_uri not in fake.redirect_uris
    ):
        return "bad_redirect"
    if request.arg("response_type") != "code":
        return "response_type"
    if style.pkce == "none":
        return None
    challenge, method = request.arg("code_challenge"), request.arg("code_challenge_method")
    if not challenge:
        return "missing_challenge" if style.pkce == "required" else None
    allowed = ("S256",) if style.hex_challenge else ("S256", "plain", None)
    return None if method in allowed else "challenge_method"


def _absolute(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def take_code(fake: FakeProvider, form: Mapping[str, str], style: OAuthStyle) -> AuthCode | str:
    """Authenticate the client and spend the form's code: its grant, or the problem."""
    if form.get(style.client_param) != fake.client_id:
        return "unknown_client"
    if not _same(form.get("client_secret", ""), fake.client_secret):
        return "bad_secret"
    grant = fake.codes.take(form.get("code"), fake.clock())
    if grant is None or grant.client_id != form.get(style.client_param):
        return "bad_code"
    if form.get("redirect_uri") != grant.redirect_uri:
        return "redirect_mismatch"
    if grant.challenge is None:
        return grant
    verifier = form.get("code_verifier")
    if not verifier:
        return "missing_verifier"
    expected = (
        verifier
        if grant.method == "plain"
        else pkce_challenge(verifier, hex_digest=style.hex_challenge)
    )
    if not _same(expected, grant.challenge):
        return "bad_verifier"
    return grant
