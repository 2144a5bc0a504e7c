"""The application that module-level ``syncjobs.submit`` and friends use."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import SyncJobs

_lock = threading.RLock()  # get_app builds the app, which makes itself current
_app: SyncJobs | None = None


def set_app(app: SyncJobs | None) -> None:
    """Make ``app`` the current application (None forgets it)."""
    global _app
    with _lock:
        _app = app


def get_app() -> SyncJobs:
    """Return the current application, building the default one from settings if none."""
    global _app
    with _lock:
        if _app is None:
            from .factory import create_app

            _app = create_app()
        return _app
