"""Tables of the extras: analyses, preferences, trust, usage and deliveries."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from .columns import SERIAL, JSONType, UTCDateTime

__all__ = ["analysis_tables", "delivery_tables", "usage_tables"]


def analysis_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Analyses, owners' preferences and channel trust scores."""
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
    return {
        "analyses": analyses,
        "preferences": preferences,
        "trust_scores": trust_scores,
    }


def usage_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Provider usage events, usage rollups and their runs."""
    provider_usage = Table(
        f"{prefix}provider_usage",
        md,
        Column("id", SERIAL, primary_key=True),
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
        Column("id", SERIAL, primary_key=True),
        Column("period", String(8), nullable=False),
        Column("window_start", UTCDateTime, nullable=False),
        Column("window_end", UTCDateTime, nullable=False),
        Column("started_at", UTCDateTime, nullable=False),
        Column("duration_ms", Integer, nullable=False),
        Column("records", Integer, nullable=False),
        Column("errors", Integer, nullable=False),
        Column("job_id", String(36)),
    )
    return {
        "provider_usage": provider_usage,
        "usage": usage,
        "rollup_runs": rollup_runs,
    }


def delivery_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Notification deliveries, circuit breakers and sent digests."""
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
    return {
        "deliveries": deliveries,
        "breakers": breakers,
        "digests": digests,
    }
