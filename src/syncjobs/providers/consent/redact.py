"""Keep codes, secrets and tokens out of requests-oauthlib's DEBUG log lines.

requests-oauthlib logs the token request's form (as a dict and as a body) and the token it
obtained (a dict) at DEBUG. :func:`install_oauth_log_redaction` puts one filter on its
session's logger that rewrites those values as ``<redacted>``; httpx's own log lines are
scrubbed by :mod:`syncjobs._http.redact`.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["OAUTH_LOGGERS", "OAuthLogFilter", "install_oauth_log_redaction"]

#: The loggers requests-oauthlib writes the token exchange to.
OAUTH_LOGGERS = ("requests_oauthlib.oauth2_session",)
_NAMES = r"access_token|refresh_token|id_token|code|code_verifier|client_secret"
#: ``'code': 'abc'`` and ``"access_token":"abc"`` (dict reprs and JSON bodies).
_KEYED = re.compile(rf"""(['"](?:{_NAMES})['"]\s*:\s*['"])[^'"]*""")
#: ``code=abc`` (form bodies and query strings).
_FORM = re.compile(rf"""((?:^|[?&\s])(?:{_NAMES})=)[^&\s"']+""")


class OAuthLogFilter(logging.Filter):
    """Rewrite a record without the OAuth values it carries; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record's message in place."""
        message = record.getMessage()
        scrubbed = _FORM.sub(r"\1<redacted>", _KEYED.sub(r"\1<redacted>", message))
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_FILTER = OAuthLogFilter()
_LOCK = threading.Lock()


def install_oauth_log_redaction() -> None:
    """Attach the filter to requests-oauthlib's loggers (once)."""
    with _LOCK:
        for name in OAUTH_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
