"""Which database the commands read, named so that a person can find it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

from ..errors import ConfigurationError
from ..schema.engine import normalise_url
from ..settings import Settings

__all__ = ["describe_database", "require_database", "sqlite_file"]


def _url(settings: Settings) -> URL | None:
    try:
        return make_url(normalise_url(settings.database_url))
    except Exception:  # a bad URL is reported when the app is built
        return None


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file ``settings`` name, absolute; None for other databases and ``:memory:``."""
    url = _url(settings)
    if url is None or url.get_backend_name() != "sqlite":
        return None
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        return None
    return Path(url.database).expanduser().resolve()


def describe_database(settings: Settings) -> str:
    """The database URL without its password, and the absolute path of a SQLite file."""
    url = _url(settings)
    if url is None:
        return settings.database_url
    shown = url.render_as_string(hide_password=True)
    path = sqlite_file(settings)
    return f"{shown} ({path})" if path is not None and str(path) not in shown else shown


def require_database(settings: Settings) -> None:
    """Raise ConfigurationError, naming the file, when the SQLite database does not exist."""
    path = sqlite_file(settings)
    if path is not None and not path.exists():
        raise ConfigurationError(
            f"no database at {path} (SYNCJOBS_DATABASE_URL={settings.database_url}): "
            "run `syncjobs db upgrade` to create it there, or set SYNCJOBS_DATABASE_URL "
            "to your ledger"
        )
