"""Keep tokens and keys out of error messages and out of httpx's log lines.

httpx logs every request URL at INFO, and some APIs (Instagram) carry the access token as a
query parameter. :func:`install_log_redaction` attaches one filter to httpx's and httpcore's
loggers when a client is built (never at import); it is idempotent, and each call may
register more secrets (an API key) to scrub.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["LOGGERS", "RedactingFilter", "install_log_redaction", "scrub"]

#: The loggers the filter goes on (a logger's filters do not see its children's records).
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    # requests-oauthlib logs the code exchange's form and the tokens it got at DEBUG.
    "requests_oauthlib.oauth2_session",
)

_NAMES = r"access_token|refresh_token|id_token|client_secret|code|code_verifier"
_QUERY_SECRET = re.compile(rf"((?:{_NAMES})=)[^&\s\"']+")
#: ``'code': 'abc'`` and ``"access_token":"abc"`` (dict reprs and JSON bodies).
_KEYED = re.compile(rf"""(['"](?:{_NAMES})['"]\s*:\s*['"])[^'"]*""")
_TOKEN_PARAM = re.compile(r"((?:access|refresh)_token=)[^&\s\"']+")
_KEYISH = re.compile(r"\bsk-[A-Za-z0-9_*.\-]+")


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace each of ``secrets``, any ``access_token=``/``refresh_token=`` value and any
    ``sk-`` key in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _TOKEN_PARAM.sub(r"\1***", text)
    return _KEYISH.sub("***", text)


class RedactingFilter(logging.Filter):
    """Rewrite log records without secret query parameters or any registered secret."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Start scrubbing ``secret``."""
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without secrets; never drops a record."""
        with self._lock:
            secrets = tuple(self._secrets)
        message = record.getMessage()
        scrubbed = _QUERY_SECRET.sub(r"\1<redacted>", message) if "=" in message else message
        scrubbed = _KEYED.sub(r"\1<redacted>", scrubbed) if ":" in scrubbed else scrubbed
        for secret in secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_FILTER = RedactingFilter()
_INSTALL = threading.Lock()


def install_log_redaction(*secrets: str) -> RedactingFilter:
    """Attach the redacting filter to httpx's loggers once, and register ``secrets``."""
    for secret in secrets:
        _FILTER.add(secret)
    with _INSTALL:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
    return _FILTER
