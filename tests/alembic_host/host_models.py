"""The host's models: one table of its own, and syncjobs' tables attached to its MetaData."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

import syncjobs.schema

metadata = MetaData()

notes = Table(
    "host_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
)

#: syncjobs' tables in the host's MetaData, so its autogenerate sees them as they are.
syncjobs_tables = syncjobs.schema.attach(metadata, prefix="syncjobs_")
