"""What every HTTP client of syncjobs shares: answers to errors, Retry-After, redaction."""

from __future__ import annotations

from .errors import (
    ERROR_TYPES,
    UNAVAILABLE_STATUSES,
    ErrorMap,
    Meaning,
    Reasons,
    error_for,
    meaning_of,
    parse_retry_after,
    post,
    send,
    transport_error,
)
from .redact import install_log_redaction, scrub

__all__ = [
    "ERROR_TYPES",
    "UNAVAILABLE_STATUSES",
    "ErrorMap",
    "Meaning",
    "Reasons",
    "error_for",
    "install_log_redaction",
    "meaning_of",
    "parse_retry_after",
    "post",
    "scrub",
    "send",
    "transport_error",
]
