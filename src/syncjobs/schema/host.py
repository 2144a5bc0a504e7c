"""What a host application with its own Alembic needs: where syncjobs' revisions are, its
tables in the host's ``MetaData``, and filters that keep them out of the host's autogenerate.

See docs/using-in-your-app.md, "Alembic".
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import MetaData

from .legacy import legacy_table
from .prefix import check_prefix, default_prefix
from .tables import Tables, build_tables, version_table_name

__all__ = [
    "BRANCH_LABEL",
    "VERSIONS_LOCATION",
    "attach",
    "include_name",
    "include_object",
    "table_names",
]

#: The entry of syncjobs' revisions for the host's ``version_locations``.
VERSIONS_LOCATION = "syncjobs.schema:alembic/versions"
#: The branch label of syncjobs' revisions (``alembic upgrade syncjobs@head``).
BRANCH_LABEL = "syncjobs"


def _prefix(prefix: str | None) -> str:
    return default_prefix() if prefix is None else check_prefix(prefix)


def attach(metadata: MetaData, prefix: str | None = None) -> Tables:
    """Define syncjobs' tables in the host's ``metadata`` and return them.

    The host's autogenerate then compares them with the database like its own tables: after
    ``alembic upgrade heads`` it finds nothing to do. ``prefix`` defaults to
    ``SYNCJOBS_TABLE_PREFIX``, else ``syncjobs_``.
    """
    return build_tables(_prefix(prefix), metadata)


def table_names(prefix: str | None = None) -> frozenset[str]:
    """Every table syncjobs may keep under ``prefix``, its version tables included."""
    return _names(_prefix(prefix))


@lru_cache(maxsize=16)
def _names(prefix: str) -> frozenset[str]:
    names = {table.name for table in build_tables(prefix).all}
    return frozenset(names | {version_table_name(prefix), legacy_table(prefix).name})


def include_name(
    name: str | None,
    type_: str,
    parent_names: Mapping[str, str | None],
    *,
    prefix: str | None = None,
) -> bool:
    """An ``include_name`` hook for the host's ``context.configure``: skip syncjobs' tables.

    It only keeps Alembic from reflecting them; a host that also :func:`attach`-es them
    uses :func:`include_object`, which skips them on both sides.
    """
    table = name if type_ == "table" else parent_names.get("table_name")
    return table not in table_names(prefix)


def include_object(
    obj: Any,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: Any,
    *,
    prefix: str | None = None,
) -> bool:
    """An ``include_object`` hook for the host's ``context.configure``: skip syncjobs' tables.

    Their columns, indexes and constraints are skipped with them, in the database and in the
    host's ``MetaData`` alike. For another prefix: ``functools.partial(include_object,
    prefix="myapp_jobs_")``.
    """
    if type_ == "table":
        return name not in table_names(prefix)
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in table_names(prefix)
