"""The application that module-level ``syncjobs.submit`` and friends use."""

from __future__ import annotations

import threading

from .app import JobApp

__all__ = ["APP_LOCK", "current_app", "set_app"]

#: Held while the current app is read or built (building it makes it current: re-entrant).
APP_LOCK = threading.RLock()
_app: JobApp | None = None


def set_app(app: JobApp | None) -> None:
    """Make ``app`` the current application (None forgets it)."""
    global _app
    with APP_LOCK:
        _app = app


def current_app() -> JobApp | None:
    """Return the current application, or None when none was made current."""
    with APP_LOCK:
        return _app
