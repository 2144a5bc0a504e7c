"""Spot misspelt ``SYNCJOBS_*`` environment variables: a warning naming the closest setting.

Settings ignore variables they do not know, so a typo (``SYNCJOBS_DATABSE_URL``) would
silently leave the default in place. Each unknown name is logged once per process, as a
WARNING of the ``syncjobs.settings`` logger, with the closest real name (difflib).
``SYNCJOBS_TEST_*`` variables belong to the test suite and are not settings.
"""

from __future__ import annotations

import difflib
import functools
import logging
import threading
import typing
from collections.abc import Mapping

from pydantic import BaseModel

__all__ = ["known_variables", "unknown_variables", "warn_unknown_variables"]

logger = logging.getLogger("syncjobs.settings")

PREFIX = "SYNCJOBS_"
#: Not settings: read by the test suite (the URLs of the test servers), and the name of the
#: settings file to read (read before the settings are).
_NOT_SETTINGS = ("SYNCJOBS_TEST_", "SYNCJOBS_ENV_FILE")
_warned: set[str] = set()
_lock = threading.Lock()


@functools.cache
def known_variables(model: type[BaseModel]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The variables ``model`` reads, and the prefixes of those that hold free-form keys."""
    names: set[str] = set()
    open_prefixes: list[str] = []
    for field, info in model.model_fields.items():
        name = PREFIX + field.upper()
        names.add(name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(f"{name}__{sub.upper()}" for sub in annotation.model_fields)
        elif typing.get_origin(annotation) is dict:
            open_prefixes.append(f"{name}__")
    return frozenset(names), tuple(open_prefixes)


def unknown_variables(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, str | None]:
    """Each ``SYNCJOBS_*`` name in ``environ`` that ``model`` does not read, and its closest."""
    names, open_prefixes = known_variables(model)
    found: dict[str, str | None] = {}
    for key in environ:
        name = key.upper()
        if not name.startswith(PREFIX) or name.startswith(_NOT_SETTINGS) or name in names:
            continue
        if name.startswith(open_prefixes):
            continue
        # Compared without the prefix every name shares, which would make anything "close".
        bare = sorted(known.removeprefix(PREFIX) for known in names)
        close = difflib.get_close_matches(name.removeprefix(PREFIX), bare, n=1, cutoff=0.6)
        found[key] = PREFIX + close[0] if close else None
    return found


def warn_unknown_variables(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Log each unknown ``SYNCJOBS_*`` variable once per process, with its closest setting."""
    for key, close in unknown_variables(model, environ).items():
        with _lock:
            if key in _warned:
                continue
            _warned.add(key)
        hint = f"did you mean {close}?" if close else "see the settings reference"
        logger.warning("unknown setting %s is ignored: %s", key, hint)
