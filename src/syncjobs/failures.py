"""One line for what a person can fix: bad settings, an unreachable database or broker.

The ``syncjobs`` command (``syncjobs.cli.errors``) and the worker entry point
(``syncjobs.actors``) turn an exception into a :class:`Failure`: a one-line message and the
exit code of its kind, documented in docs/troubleshooting.md. Passwords in URLs are shown as
``***``; values of secret settings are not shown at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq.errors
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import exc as sa_exc

from ._urls import mask_password
from .errors import ConfigurationError, SyncJobsError

__all__ = [
    "EXIT_BROKER",
    "EXIT_CONFIG",
    "EXIT_DATABASE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "Failure",
    "explain",
    "settings_problem",
]

#: A syncjobs error: the job, account or input is not what the command needs.
EXIT_FAILED = 1
#: Bad command-line usage: an unknown option, a bad argument value.
EXIT_USAGE = 2
#: Bad settings, an unknown job module in ``SYNCJOBS_IMPORTS``, an outdated schema.
EXIT_CONFIG = 3
#: The database at ``SYNCJOBS_DATABASE_URL`` could not be reached or used.
EXIT_DATABASE = 4
#: The broker at ``SYNCJOBS_BROKER_URL`` could not be reached.
EXIT_BROKER = 5
#: Anything else: a bug; ``--debug`` shows its traceback.
EXIT_INTERNAL = 70

_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD")


@dataclass(frozen=True)
class Failure:
    """What went wrong, in one line, and the exit code of its kind."""

    message: str
    exit_code: int


def explain(exc: BaseException) -> Failure | None:
    """The failure ``exc`` (or an exception it was raised from) stands for; None if a bug."""
    for link in _chain(exc):
        failure = _explain_one(link)
        if failure is not None:
            return failure
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _explain_one(exc: BaseException) -> Failure | None:
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return Failure(settings_problem(exc), EXIT_CONFIG)
    if isinstance(exc, SettingsError):
        return Failure(_parse_problem(exc), EXIT_CONFIG)
    if isinstance(exc, ConfigurationError):
        return Failure(exc.message, EXIT_CONFIG)
    if isinstance(exc, SyncJobsError):
        return Failure(exc.message, EXIT_FAILED)
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        reason = _one_line(exc.orig if exc.orig is not None else exc)
        where = _configured_url("database_url")
        # No statement: connecting failed. Else a statement failed (locked, out of space…).
        what = "cannot reach the database" if exc.statement is None else "the database failed"
        return Failure(f"{what}{where}: {reason}", EXIT_DATABASE)
    if _is_broker_error(exc):
        where = _configured_url("broker_url")
        return Failure(f"cannot reach the broker{where}: {_one_line(exc)}", EXIT_BROKER)
    return None


def _is_broker_error(exc: BaseException) -> bool:
    kinds: list[type[BaseException]] = [dramatiq.errors.BrokerConnectionError]
    try:
        import redis.exceptions

        kinds += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - depends on the install
        pass
    try:
        import pika.exceptions  # type: ignore[import-untyped]

        kinds.append(pika.exceptions.AMQPConnectionError)
    except ImportError:  # pragma: no cover - depends on the install
        pass
    return isinstance(exc, tuple(kinds))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _scrub(text)


def _scrub(text: str) -> str:
    """Mask passwords of any URL quoted in ``text``."""
    return re.sub(r"[a-z][a-z0-9+.-]*://[^\s'\"]+", lambda m: mask_password(m.group(0)), text)


def _configured_url(field: str) -> str:
    """`` at <url>`` of the configured ``field``, password masked; empty if unreadable."""
    from .settings import Settings

    try:
        url = str(getattr(Settings(), field))
    except Exception:  # the settings themselves are broken: say what we can
        return ""
    return f" at {mask_password(url)}"


def settings_problem(exc: ValidationError) -> str:
    """Name each environment variable that failed validation, its value and what is wrong."""
    parts = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not loc:
            parts.append(message)
            continue
        name = _env_name(loc)
        parts.append(f"{name}={_shown(name, error.get('input'))}: {message}")
    label = "bad setting" if len(parts) == 1 else "bad settings"
    return f"{label}: " + "; ".join(parts)


def _env_name(loc: list[str]) -> str:
    """The variable that set the value at ``loc`` (nested ones use ``__``)."""
    present = {key.upper() for key in os.environ}
    for size in range(len(loc), 0, -1):
        name = "SYNCJOBS_" + "__".join(loc[:size]).upper()
        if name in present:
            rest = ".".join(loc[size:])
            return f"{name} ({rest})" if rest else name
    rest = ".".join(loc[1:])
    name = "SYNCJOBS_" + loc[0].upper()
    return f"{name} ({rest})" if rest else name


def _shown(name: str, value: Any) -> str:
    if any(word in name for word in _SECRET_WORDS):
        return "***"
    if isinstance(value, str):
        text = mask_password(value)
        return repr(text if len(text) <= 80 else text[:77] + "...")
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    return "…"


def _parse_problem(exc: SettingsError) -> str:
    """A value that is not JSON in a setting that holds a list or an object."""
    found = re.search(r'field "([^"]+)"', str(exc))
    if found is None:
        return f"bad settings: {_one_line(exc)}"
    name = "SYNCJOBS_" + found.group(1).upper()
    cause = f" ({_one_line(exc.__cause__)})" if exc.__cause__ is not None else ""
    example = ", e.g. SYNCJOBS_IMPORTS='[\"myapp.jobs\"]'" if name == "SYNCJOBS_IMPORTS" else ""
    return f"bad setting {name}: not valid JSON{cause}; it holds a JSON list or object{example}"
