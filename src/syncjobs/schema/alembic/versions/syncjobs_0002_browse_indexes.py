"""Indexes of the operator's views and of ledger upkeep: jobs and dead letters.

Revision ID: syncjobs_0002
Revises: syncjobs_0001

The job browser reads keyset pages on ``(created_at, id)``, newest first, across owners, by
status, by job type and by owner; throughput reads jobs by ``completed_at``; the ledger's
purge reads finished jobs by ``(status, completed_at)``; a job's follow-ups are read by
``parent_id``; every owner's dead letters are listed newest first by ``(failed_at, id)``.
``jobs_owner_created_ix`` gains ``id`` (the keyset's tie-breaker), so the old
two-column index is dropped. On PostgreSQL building an index blocks writes to the jobs table
while it runs (seconds per million jobs).
"""

from __future__ import annotations

from alembic import op

from syncjobs.schema.prefix import revision_prefix

revision = "syncjobs_0002"
down_revision = "syncjobs_0001"
branch_labels = None
depends_on = None

#: The new indexes of the jobs table, without the prefix: name → columns.
NEW_INDEXES = {
    "jobs_created_ix": ["created_at", "id"],
    "jobs_status_created_ix": ["status", "created_at", "id"],
    "jobs_type_created_ix": ["job_type", "created_at", "id"],
    "jobs_completed_ix": ["completed_at"],
    "jobs_status_completed_ix": ["status", "completed_at"],
    "jobs_parent_ix": ["parent_id"],
}


def upgrade() -> None:
    """Create the browsing and upkeep indexes; widen the owner's index with ``id``."""
    p = revision_prefix(op.get_context())
    for name, columns in NEW_INDEXES.items():
        op.create_index(f"{p}{name}", f"{p}jobs", columns)
    op.create_index(f"{p}dead_letters_failed_ix", f"{p}dead_letters", ["failed_at", "id"])
    op.drop_index(f"{p}jobs_owner_created_ix", table_name=f"{p}jobs")
    op.create_index(f"{p}jobs_owner_created_ix", f"{p}jobs", ["owner_id", "created_at", "id"])


def downgrade() -> None:
    """Drop them, and give the owner's index back its two columns."""
    p = revision_prefix(op.get_context())
    op.drop_index(f"{p}jobs_owner_created_ix", table_name=f"{p}jobs")
    op.create_index(f"{p}jobs_owner_created_ix", f"{p}jobs", ["owner_id", "created_at"])
    op.drop_index(f"{p}dead_letters_failed_ix", table_name=f"{p}dead_letters")
    for name in reversed(NEW_INDEXES):
        op.drop_index(f"{p}{name}", table_name=f"{p}jobs")
