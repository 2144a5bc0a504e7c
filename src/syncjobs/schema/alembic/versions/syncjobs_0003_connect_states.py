"""Pending connect attempts: the server-side half of each OAuth state.

Revision ID: syncjobs_0003
Revises: syncjobs_0002

``begin_connect`` stores one row per consent page an owner is sent to, keyed by the SHA-256
of the state (never the state itself), with the owner, provider, callback URL, PKCE verifier
and the account being reconnected; ``complete_connect`` deletes it as it reads it. The
upkeep purges rows past ``expires_at`` (the index). A new, empty table: nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syncjobs.schema.prefix import revision_prefix

revision = "syncjobs_0003"
down_revision = "syncjobs_0002"
branch_labels = None
depends_on = None

#: Aware datetimes (TIMESTAMP WITH TIME ZONE on PostgreSQL; SQLite stores them naive).
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the connect_states table and its expiry index."""
    p = revision_prefix(op.get_context())
    op.create_table(
        f"{p}connect_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("code_verifier", sa.String(128)),
        sa.Column("account_id", sa.String(36)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
    )
    op.create_index(f"{p}connect_states_expires_ix", f"{p}connect_states", ["expires_at"])


def downgrade() -> None:
    """Drop it."""
    p = revision_prefix(op.get_context())
    op.drop_index(f"{p}connect_states_expires_ix", table_name=f"{p}connect_states")
    op.drop_table(f"{p}connect_states")
