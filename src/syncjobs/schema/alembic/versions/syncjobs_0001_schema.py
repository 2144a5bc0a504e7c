"""syncjobs' schema from nothing: the job ledger, accounts, upkeep and the extras.

Revision ID: syncjobs_0001
Revises: (none; the base of the ``syncjobs`` branch)

This is the schema the home-made runner called version 4. A database already at that version
is adopted by ``syncjobs db upgrade`` (stamped at this revision, see
``syncjobs.schema.legacy``), not created again. Every table is named with the table prefix
(``syncjobs.schema.prefix.revision_prefix``: ``syncjobs_`` unless configured).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from syncjobs.schema.prefix import revision_prefix

revision = "syncjobs_0001"
down_revision = None
branch_labels = ("syncjobs",)
depends_on = None

#: Aware datetimes (TIMESTAMP WITH TIME ZONE on PostgreSQL; SQLite stores them naive).
TIME = sa.DateTime(timezone=True)
#: JSON on SQLite, JSONB on PostgreSQL.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
#: An auto-increment 64-bit key (BIGSERIAL; INTEGER PRIMARY KEY on SQLite).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Every table this revision creates, without the prefix, in creation order.
TABLES = (
    "jobs",
    "job_log",
    "dead_letters",
    "workers",
    "schedules",
    "accounts",
    "credentials",
    "items",
    "notifications",
    "analyses",
    "preferences",
    "trust_scores",
    "provider_usage",
    "usage",
    "rollup_runs",
    "deliveries",
    "breakers",
    "digests",
)


def upgrade() -> None:
    """Create every table and index of the schema."""
    p = revision_prefix(op.get_context())
    _jobs(p)
    _job_log(p)
    _upkeep(p)
    _accounts(p)
    _items(p)
    _notifications(p)
    _analyses(p)
    _usage(p)
    _deliveries(p)


def downgrade() -> None:
    """Drop every table of the schema (and so all of syncjobs' data)."""
    p = revision_prefix(op.get_context())
    for name in reversed(TABLES):
        op.drop_table(f"{p}{name}")


def _jobs(p: str) -> None:
    op.create_table(
        f"{p}jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("job_type", sa.String(100), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress_percent", sa.Float, nullable=False),
        sa.Column("progress_done", sa.BigInteger),
        sa.Column("progress_total", sa.BigInteger),
        sa.Column("progress_message", sa.Text),
        sa.Column("result", JSON),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("retry_count", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(255)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("checkpoint", JSON),
        sa.Column("scheduled_for", TIME),
        sa.Column("expires_at", TIME),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME),
        sa.Column("completed_at", TIME),
        sa.Column("heartbeat_at", TIME),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("owner_id", "idempotency_key", name=f"{p}jobs_idem_uq"),
    )
    op.create_index(f"{p}jobs_owner_status_ix", f"{p}jobs", ["owner_id", "status"])
    op.create_index(f"{p}jobs_owner_created_ix", f"{p}jobs", ["owner_id", "created_at"])
    op.create_index(f"{p}jobs_status_type_ix", f"{p}jobs", ["status", "job_type"])


def _job_log(p: str) -> None:
    op.create_table(
        f"{p}job_log",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index(f"{p}job_log_job_ix", f"{p}job_log", ["job_id", "id"])
    op.create_table(
        f"{p}dead_letters",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("job_id", sa.String(36), nullable=False, unique=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("job_type", sa.String(100), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", TIME, nullable=False),
    )
    op.create_index(f"{p}dead_letters_owner_ix", f"{p}dead_letters", ["owner_id", "failed_at"])


def _upkeep(p: str) -> None:
    op.create_table(
        f"{p}workers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
    )
    op.create_table(
        f"{p}schedules",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last_slot", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def _accounts(p: str) -> None:
    op.create_table(
        f"{p}accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("display_name", sa.String(255)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("cursor", JSON),
        sa.Column("sync_interval", sa.Integer, nullable=False),
        sa.Column("next_sync_at", TIME),
        sa.Column("last_synced_at", TIME),
        sa.Column("last_sync_job_id", sa.String(36)),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("owner_id", "provider", "external_id", name=f"{p}accounts_ext_uq"),
    )
    op.create_index(f"{p}accounts_owner_ix", f"{p}accounts", ["owner_id"])
    op.create_index(f"{p}accounts_due_ix", f"{p}accounts", ["state", "next_sync_at"])
    op.create_table(
        f"{p}credentials",
        sa.Column("account_id", sa.String(36), primary_key=True),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def _items(p: str) -> None:
    op.create_table(
        f"{p}items",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("author", sa.String(255)),
        sa.Column("published_at", TIME),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("first_seen_at", TIME, nullable=False),
        sa.Column("last_modified_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("deleted_at", TIME),
        sa.Column("analysis_state", sa.String(16), nullable=False),
        sa.Column("analysis_priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("review_flag", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("analysis_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("analysis_claimed_at", TIME),
        sa.Column("analysis_error", sa.Text),
        sa.UniqueConstraint("account_id", "external_id", name=f"{p}items_ext_uq"),
    )
    op.create_index(f"{p}items_analysis_ix", f"{p}items", ["analysis_state", "first_seen_at"])
    op.create_index(
        f"{p}items_queue_ix",
        f"{p}items",
        ["analysis_state", "review_flag", "analysis_priority", "first_seen_at"],
    )


def _notifications(p: str) -> None:
    op.create_table(
        f"{p}notifications",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("read_at", TIME),
    )
    op.create_index(f"{p}notifications_owner_ix", f"{p}notifications", ["owner_id", "created_at"])


def _analyses(p: str) -> None:
    op.create_table(
        f"{p}analyses",
        sa.Column("item_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Integer, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("analyzer", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Integer),
        sa.Column("ai_calls", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("analyzed_at", TIME, nullable=False),
    )
    op.create_index(f"{p}analyses_channel_ix", f"{p}analyses", ["owner_id", "channel"])
    op.create_index(f"{p}analyses_at_ix", f"{p}analyses", ["analyzed_at"])
    op.create_index(f"{p}analyses_owner_at_ix", f"{p}analyses", ["owner_id", "analyzed_at"])
    op.create_table(
        f"{p}preferences",
        sa.Column("owner_id", sa.String(255), primary_key=True),
        sa.Column("blocked_words", JSON, nullable=False),
        sa.Column("allowed_channels", JSON, nullable=False),
        sa.Column("blocked_channels", JSON, nullable=False),
        sa.Column("viewer_age", sa.Integer),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        f"{p}trust_scores",
        sa.Column("owner_id", sa.String(255), primary_key=True),
        sa.Column("channel", sa.String(255), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("videos_analysed", sa.Integer, nullable=False),
        sa.Column("allow", sa.Integer, nullable=False),
        sa.Column("block", sa.Integer, nullable=False),
        sa.Column("review", sa.Integer, nullable=False),
        sa.Column("mean_confidence", sa.Float, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def _usage(p: str) -> None:
    op.create_table(
        f"{p}provider_usage",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("api_calls", sa.Integer, nullable=False),
        sa.Column("quota_units", sa.Integer, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index(f"{p}provider_usage_at_ix", f"{p}provider_usage", ["at"])
    op.create_table(
        f"{p}usage",
        sa.Column("owner_id", sa.String(255), primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("period_start", TIME, primary_key=True),
        sa.Column("items_analysed", sa.BigInteger, nullable=False),
        sa.Column("ai_calls", sa.BigInteger, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("api_calls", sa.BigInteger, nullable=False),
        sa.Column("quota_units", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        f"{p}rollup_runs",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("window_start", TIME, nullable=False),
        sa.Column("window_end", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("job_id", sa.String(36)),
    )


def _deliveries(p: str) -> None:
    op.create_table(
        f"{p}deliveries",
        sa.Column("notification_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("notifier", sa.String(64), primary_key=True),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        f"{p}breakers",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("opened_until", TIME),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        f"{p}digests",
        sa.Column("owner_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("period_key", sa.String(64), primary_key=True),
        sa.Column("sent_at", TIME, nullable=False),
    )
