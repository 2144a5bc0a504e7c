"""The table prefix: its rule, its default, and how a revision finds the one in force."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

__all__ = [
    "DEFAULT_PREFIX",
    "PREFIX_ENV",
    "PREFIX_OPTION",
    "check_prefix",
    "default_prefix",
    "revision_prefix",
]

#: The prefix of every table unless configured.
DEFAULT_PREFIX = "syncjobs_"
#: The environment variable of the prefix (``Settings.table_prefix``).
PREFIX_ENV = "SYNCJOBS_TABLE_PREFIX"
#: The name of the prefix in an Alembic configuration: the ``[alembic]`` section of
#: ``alembic.ini``, or ``Config.attributes`` (what ``syncjobs db upgrade`` sets).
PREFIX_OPTION = "syncjobs_table_prefix"
_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,28}$")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a valid table prefix, else raise ConfigurationError."""
    if not _PATTERN.match(prefix):
        raise ConfigurationError(
            f"invalid table prefix {prefix!r}: it must match {_PATTERN.pattern}"
        )
    return prefix


def default_prefix() -> str:
    """``SYNCJOBS_TABLE_PREFIX`` when set, else ``syncjobs_``."""
    return check_prefix(os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX)


def revision_prefix(context: MigrationContext) -> str:
    """The prefix a revision names its tables with.

    In order: ``Config.attributes["syncjobs_table_prefix"]`` (set by ``syncjobs db
    upgrade``), the ``syncjobs_table_prefix`` option of the host's ``alembic.ini``,
    ``SYNCJOBS_TABLE_PREFIX``, then ``syncjobs_``.
    """
    config = context.config
    if config is not None:
        given = config.attributes.get(PREFIX_OPTION) or config.get_main_option(PREFIX_OPTION)
        if given:
            return check_prefix(str(given))
    return default_prefix()
