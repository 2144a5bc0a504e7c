"""Plain-http OAuth endpoints for loopback hosts only, scoped and thread-safe.

oauthlib refuses any ``http://`` endpoint unless the process-wide environment variable
``OAUTHLIB_INSECURE_TRANSPORT`` is set. The fake providers serve plain http on 127.0.0.1, so
:func:`loopback_http` sets that variable only while a call to a loopback endpoint runs (a
counter under a lock keeps it set while any such call runs, and puts back what was there
when the last one ends). Every endpoint is checked by
:func:`~syncjobs.providers.consent.base.check_endpoint` first, so an http URL of any other
host never reaches oauthlib at all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .base import check_endpoint

__all__ = ["INSECURE_TRANSPORT", "loopback_http"]

INSECURE_TRANSPORT = "OAUTHLIB_INSECURE_TRANSPORT"
_lock = threading.Lock()
_users = 0
_saved: str | None = None


@contextmanager
def loopback_http(*urls: str) -> Iterator[None]:
    """Let oauthlib use ``urls`` (https, or http on a loopback host) for the block."""
    for url in urls:
        check_endpoint(url, "an OAuth endpoint")
    if all(url.lower().startswith("https://") for url in urls):
        yield
        return
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = os.environ.get(INSECURE_TRANSPORT)
            os.environ[INSECURE_TRANSPORT] = "1"
        _users += 1


def _leave() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users == 0:
            if _saved is None:
                os.environ.pop(INSECURE_TRANSPORT, None)
            else:
                os.environ[INSECURE_TRANSPORT] = _saved
