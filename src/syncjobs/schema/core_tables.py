"""Tables of the job core and the connected accounts (see ``tables.build_tables``)."""

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
    UniqueConstraint,
    false,
)

from .columns import JSONType, UTCDateTime

__all__ = [
    "account_tables",
    "connect_state_tables",
    "item_tables",
    "job_log_tables",
    "job_tables",
    "upkeep_tables",
]


def job_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """The job ledger's rows: the jobs."""
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
        Index(f"{prefix}jobs_owner_created_ix", "owner_id", "created_at", "id"),
        Index(f"{prefix}jobs_status_type_ix", "status", "job_type"),
        # The job browser's keyset pages (revision syncjobs_0002).
        Index(f"{prefix}jobs_created_ix", "created_at", "id"),
        Index(f"{prefix}jobs_status_created_ix", "status", "created_at", "id"),
        Index(f"{prefix}jobs_type_created_ix", "job_type", "created_at", "id"),
        # Throughput, the ledger's purge, and follow-ups.
        Index(f"{prefix}jobs_completed_ix", "completed_at"),
        Index(f"{prefix}jobs_status_completed_ix", "status", "completed_at"),
        Index(f"{prefix}jobs_parent_ix", "parent_id"),
    )
    return {"jobs": jobs}


def job_log_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Each job's log lines and the dead letters."""
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
        # Every owner's dead letters, newest first (revision syncjobs_0002).
        Index(f"{prefix}dead_letters_failed_ix", "failed_at", "id"),
    )
    return {
        "job_log": job_log,
        "dead_letters": dead_letters,
    }


def upkeep_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Worker heartbeats and the schedule ledger."""
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
    return {
        "workers": workers,
        "schedules": schedules,
    }


def account_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Connected accounts and their encrypted credentials."""
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
    return {
        "accounts": accounts,
        "credentials": credentials,
    }


def connect_state_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Pending connect attempts, by the SHA-256 of their OAuth state (revision syncjobs_0003)."""
    connect_states = Table(
        f"{prefix}connect_states",
        md,
        Column("state_hash", String(64), primary_key=True),
        Column("owner_id", String(255), nullable=False),
        Column("provider", String(64), nullable=False),
        Column("redirect_uri", Text, nullable=False),
        Column("code_verifier", String(128)),
        Column("account_id", String(36)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"{prefix}connect_states_expires_ix", "expires_at"),
    )
    return {"connect_states": connect_states}


def item_tables(prefix: str, md: MetaData) -> dict[str, Table]:
    """Synced items and owners' notifications."""
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
        # The analysis queue (home-made schema v4; added to older databases by ALTER TABLE).
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
    return {
        "items": items,
        "notifications": notifications,
    }
