"""Table definitions, named with a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["Tables", "UTCDateTime", "build_tables"]

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    schema_version = Table(
        f"{prefix}schema_version",
        md,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied_at", UTCDateTime, nullable=False),
    )
    jobs = Table(
        f"{prefix}jobs",
        md,
        Column("id", String(36), primary_key=True),
        Column("owner_id", String(255), nullable=False),
        Column("job_type", String(100), nullable=False),
        Column("queue", String(64), nullable=False),
        Column("priority", Integer, nullable=False),
        Column("params", JSONType, nullable=False),
        Column("status", String(16), nullable=False),
        Column("progress_percent", Float, nullable=False, default=0.0),
        Column("progress_done", BigInteger),
        Column("progress_total", BigInteger),
        Column("progress_message", Text),
        Column("result", JSONType),
        Column("error_code", String(64)),
        Column("error_message", Text),
        Column("retry_count", Integer, nullable=False, default=0),
        Column("attempts", Integer, nullable=False, default=0),
        Column("max_retries", Integer, nullable=False),
        Column("worker_id", String(255)),
        Column("cancel_requested", Boolean, nullable=False, default=False),
        Column("checkpoint", JSONType),
        Column("scheduled_for", UTCDateTime),
        Column("expires_at", UTCDateTime),
        Column("idempotency_key", String(255)),
        Column("parent_id", String(36)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("started_at", UTCDateTime),
        Column("completed_at", UTCDateTime),
        Column("heartbeat_at", UTCDateTime),
        Column("updated_at", UTCDateTime, nullable=False),
        UniqueConstraint("owner_id", "idempotency_key", name=f"{prefix}jobs_idem_uq"),
        Index(f"{prefix}jobs_owner_status_ix", "owner_id", "status"),
        Index(f"{prefix}jobs_owner_created_ix", "owner_id", "created_at"),
        Index(f"{prefix}jobs_status_type_ix", "status", "job_type"),
    )
    job_log = Table(
        f"{prefix}job_log",
        md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("job_id", String(36), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("level", String(16), nullable=False),
        Column("message", Text, nullable=False),
        Index(f"{prefix}job_log_job_ix", "job_id", "id"),
    )
    dead_letters = Table(
        f"{prefix}dead_letters",
        md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("job_id", String(36), nullable=False, unique=True),
        Column("owner_id", String(255), nullable=False),
        Column("job_type", String(100), nullable=False),
        Column("params", JSONType, nullable=False),
        Column("error_code", String(64)),
        Column("error_message", Text),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", UTCDateTime, nullable=False),
        Index(f"{prefix}dead_letters_owner_ix", "owner_id", "failed_at"),
    )
    accounts = Table(
        f"{prefix}accounts",
        md,
        Column("id", String(36), primary_key=True),
        Column("owner_id", String(255), nullable=False),
        Column("provider", String(64), nullable=False),
        Column("external_id", String(255)),
        Column("display_name", String(255)),
        Column("state", String(32), nullable=False),
        Column("cursor", JSONType),
        Column("sync_interval", Integer, nullable=False),
        Column("next_sync_at", UTCDateTime),
        Column("last_synced_at", UTCDateTime),
        Column("last_sync_job_id", String(36)),
        Column("error_code", String(64)),
        Column("error_message", Text),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        UniqueConstraint("owner_id", "provider", "external_id", name=f"{prefix}accounts_ext_uq"),
        Index(f"{prefix}accounts_owner_ix", "owner_id"),
        Index(f"{prefix}accounts_due_ix", "state", "next_sync_at"),
    )
    credentials = Table(
        f"{prefix}credentials",
        md,
        Column("account_id", String(36), primary_key=True),
        Column("scheme", String(16), nullable=False),
        Column("secret", Text, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    items = Table(
        f"{prefix}items",
        md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("account_id", String(36), nullable=False),
        Column("external_id", String(255), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("title", Text),
        Column("text", Text),
        Column("author", String(255)),
        Column("published_at", UTCDateTime),
        Column("metrics", JSONType, nullable=False),
        Column("raw", JSONType, nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("last_modified_at", UTCDateTime, nullable=False),
        Column("last_seen_at", UTCDateTime, nullable=False),
        Column("deleted_at", UTCDateTime),
        Column("analysis_state", String(16), nullable=False),
        # The analysis queue (schema v4; added to older databases by ALTER TABLE).
        Column("analysis_priority", Integer, nullable=False, default=0, server_default="0"),
        Column("review_flag", Boolean, nullable=False, default=False, server_default=false()),
        Column("analysis_attempts", Integer, nullable=False, default=0, server_default="0"),
        Column("analysis_claimed_at", UTCDateTime),
        Column("analysis_error", Text),
        UniqueConstraint("account_id", "external_id", name=f"{prefix}items_ext_uq"),
        Index(f"{prefix}items_analysis_ix", "analysis_state", "first_seen_at"),
        Index(
            f"{prefix}items_queue_ix",
            "analysis_state",
            "review_flag",
            "analysis_priority",
            "first_seen_at",
        ),
    )
    notifications = Table(
        f"{prefix}notifications",
        md,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("owner_id", String(255), nullable=False),
        Column("kind", String(64), nullable=False),
        Column("title", String(255), nullable=False),
        Column("body", Text, nullable=False),
        Column("data", JSONType, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("read_at", UTCDateTime),
        Index(f"{prefix}notifications_owner_ix", "owner_id", "created_at"),
    )
    workers = Table(
        f"{prefix}workers",
        md,
        Column("id", String(255), primary_key=True),
        Column("kind", String(16), nullable=False),
        Column("started_at", UTCDateTime, nullable=False),
        Column("seen_at", UTCDateTime, nullable=False),
    )
    schedules = Table(
        f"{prefix}schedules",
        md,
        Column("name", String(100), primary_key=True),
        Column("last_slot", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    insights = _insight_tables(prefix, md)
    return Tables(
        prefix,
        md,
        schema_version,
        jobs,
        job_log,
        dead_letters,
        accounts,
        credentials,
        items,
        notifications,
        workers,
        schedules,
        *insights,
    )


def _insight_tables(prefix: str, md: MetaData) -> tuple[Table, ...]:
    """The seed jobs' tables (schema v4), in the order of the Tables fields."""
    serial = BigInteger().with_variant(Integer, "sqlite")
    analyses = Table(
        f"{prefix}analyses",
        md,
        # One row per item: its latest analysis.
        Column("item_id", BigInteger, primary_key=True, autoincrement=False),
        Column("owner_id", String(255), nullable=False),
        Column("account_id", String(36), nullable=False),
        Column("channel", String(255), nullable=False),
        Column("decision", String(16), nullable=False),
        Column("confidence", Integer, nullable=False),
        Column("tags", JSONType, nullable=False),
        Column("analyzer", String(64), nullable=False),
        Column("tokens", Integer),
        Column("ai_calls", Integer, nullable=False),
        Column("duration_ms", Integer, nullable=False),
        Column("analyzed_at", UTCDateTime, nullable=False),
        Index(f"{prefix}analyses_channel_ix", "owner_id", "channel"),
        Index(f"{prefix}analyses_at_ix", "analyzed_at"),
        Index(f"{prefix}analyses_owner_at_ix", "owner_id", "analyzed_at"),
    )
    preferences = Table(
        f"{prefix}preferences",
        md,
        Column("owner_id", String(255), primary_key=True),
        Column("blocked_words", JSONType, nullable=False),
        Column("allowed_channels", JSONType, nullable=False),
        Column("blocked_channels", JSONType, nullable=False),
        Column("viewer_age", Integer),
        Column("timezone", String(64), nullable=False),
        Column("digest", String(16), nullable=False),
        Column("webhook_url", Text),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    trust_scores = Table(
        f"{prefix}trust_scores",
        md,
        Column("owner_id", String(255), primary_key=True),
        Column("channel", String(255), primary_key=True),
        Column("score", Float, nullable=False),
        Column("videos_analysed", Integer, nullable=False),
        Column("allow", Integer, nullable=False),
        Column("block", Integer, nullable=False),
        Column("review", Integer, nullable=False),
        Column("mean_confidence", Float, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    provider_usage = Table(
        f"{prefix}provider_usage",
        md,
        Column("id", serial, primary_key=True),
        Column("owner_id", String(255), nullable=False),
        Column("account_id", String(36), nullable=False),
        Column("provider", String(64), nullable=False),
        Column("job_id", String(36)),
        Column("api_calls", Integer, nullable=False),
        Column("quota_units", Integer, nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Index(f"{prefix}provider_usage_at_ix", "at"),
    )
    usage = Table(
        f"{prefix}usage",
        md,
        Column("owner_id", String(255), primary_key=True),
        Column("period", String(8), primary_key=True),
        Column("period_start", UTCDateTime, primary_key=True),
        Column("items_analysed", BigInteger, nullable=False),
        Column("ai_calls", BigInteger, nullable=False),
        Column("tokens", BigInteger, nullable=False),
        Column("api_calls", BigInteger, nullable=False),
        Column("quota_units", BigInteger, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    rollup_runs = Table(
        f"{prefix}rollup_runs",
        md,
        Column("id", serial, primary_key=True),
        Column("period", String(8), nullable=False),
        Column("window_start", UTCDateTime, nullable=False),
        Column("window_end", UTCDateTime, nullable=False),
        Column("started_at", UTCDateTime, nullable=False),
        Column("duration_ms", Integer, nullable=False),
        Column("records", Integer, nullable=False),
        Column("errors", Integer, nullable=False),
        Column("job_id", String(36)),
    )
    deliveries = Table(
        f"{prefix}deliveries",
        md,
        Column("notification_id", BigInteger, primary_key=True, autoincrement=False),
        Column("notifier", String(64), primary_key=True),
        Column("delivered", Boolean, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("delivered_at", UTCDateTime),
        Column("last_error", Text),
    )
    breakers = Table(
        f"{prefix}breakers",
        md,
        Column("name", String(100), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("opened_until", UTCDateTime),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    digests = Table(
        f"{prefix}digests",
        md,
        Column("owner_id", String(255), primary_key=True),
        Column("kind", String(32), primary_key=True),
        Column("period_key", String(64), primary_key=True),
        Column("sent_at", UTCDateTime, nullable=False),
    )
    return (
        analyses,
        preferences,
        trust_scores,
        provider_usage,
        usage,
        rollup_runs,
        deliveries,
        breakers,
        digests,
    )
