"""The Alembic environment of ``syncjobs db upgrade`` (``syncjobs.schema.migrations``).

It runs syncjobs' revisions on the connection in ``config.attributes["connection"]``, inside
that connection's transaction, and keeps the revision in the version table named by
``config.attributes["syncjobs_version_table"]``. A host with its own Alembic runs the same
revisions from its own ``env.py`` instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo

config = context.config
applied: list[str] = config.attributes["syncjobs_applied"]


def _record(
    ctx: MigrationContext,
    step: MigrationInfo,
    heads: Collection[Any],
    run_args: Mapping[str, Any],
) -> None:
    """Note each revision applied or stamped, for the caller to report."""
    applied.extend(step.up_revision_ids)


context.configure(
    connection=config.attributes["connection"],
    version_table=config.attributes["syncjobs_version_table"],
    on_version_apply=_record,
)
with context.begin_transaction():
    context.run_migrations()
