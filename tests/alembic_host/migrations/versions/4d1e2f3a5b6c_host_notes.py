"""The host's own table.

Revision ID: 4d1e2f3a5b6c
Revises: (none; the base of the host's branch)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "4d1e2f3a5b6c"
down_revision = None
branch_labels = ("host",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("host_notes")
