"""Table definitions, named with a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import MetaData, Table

from .columns import JSONType, UTCDateTime
from .core_tables import (
    account_tables,
    connect_state_tables,
    item_tables,
    job_log_tables,
    job_tables,
    upkeep_tables,
)
from .extra_tables import analysis_tables, delivery_tables, usage_tables

__all__ = ["JSONType", "Tables", "UTCDateTime", "build_tables", "version_table_name"]

_GROUPS = (
    job_tables,
    job_log_tables,
    upkeep_tables,
    account_tables,
    item_tables,
    analysis_tables,
    usage_tables,
    delivery_tables,
    connect_state_tables,
)


def version_table_name(prefix: str) -> str:
    """The Alembic version table of ``syncjobs db upgrade`` for ``prefix``."""
    return f"{prefix}alembic_version"


@dataclass(frozen=True)
class Tables:
    """The ledger's tables for one prefix."""

    prefix: str
    metadata: MetaData
    jobs: Table
    job_log: Table
    dead_letters: Table
    accounts: Table
    credentials: Table
    items: Table
    notifications: Table
    workers: Table
    schedules: Table
    analyses: Table
    preferences: Table
    trust_scores: Table
    provider_usage: Table
    usage: Table
    rollup_runs: Table
    deliveries: Table
    breakers: Table
    digests: Table
    connect_states: Table

    @property
    def all(self) -> tuple[Table, ...]:
        """Every table of ``metadata``, in the order they are defined."""
        tables = (
            getattr(self, f.name) for f in fields(self) if f.name not in ("prefix", "metadata")
        )
        return tuple(table for table in tables if table.key in self.metadata.tables)

    @property
    def version_table(self) -> str:
        """The name of the Alembic version table ``syncjobs db upgrade`` keeps."""
        return version_table_name(self.prefix)


def build_tables(prefix: str, metadata: MetaData | None = None) -> Tables:
    """Define every table under ``prefix``, in ``metadata`` (a new one by default)."""
    md = MetaData() if metadata is None else metadata
    tables: dict[str, Table] = {}
    for group in _GROUPS:
        tables.update(group(prefix, md))
    return Tables(prefix=prefix, metadata=md, **tables)
