"""Table definitions, named with a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import MetaData, Table

from .columns import JSONType, UTCDateTime
from .core_tables import account_tables, item_tables, job_log_tables, job_tables, upkeep_tables
from .extra_tables import analysis_tables, delivery_tables, usage_tables

__all__ = ["JSONType", "Tables", "UTCDateTime", "build_tables"]

_GROUPS = (
    job_tables,
    job_log_tables,
    upkeep_tables,
    account_tables,
    item_tables,
    analysis_tables,
    usage_tables,
    delivery_tables,
)


@dataclass(frozen=True)
class Tables:
    """The ledger's tables for one prefix."""

    prefix: str
    metadata: MetaData
    schema_version: Table
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


def build_tables(prefix: str) -> Tables:
    """Define every table under ``prefix``."""
    md = MetaData()
    tables: dict[str, Table] = {}
    for group in _GROUPS:
        tables.update(group(prefix, md))
    return Tables(prefix=prefix, metadata=md, **tables)
