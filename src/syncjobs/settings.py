"""Settings, read from ``SYNCJOBS_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MissedPolicy", "ProviderSettings", "ScheduleSettings", "Settings"]


class ProviderSettings(BaseModel):
    """OAuth client and endpoint settings of one provider."""

    client_id: str = Field(default="", description="OAuth client id (TikTok: client key).")
    client_secret: str = Field(default="", description="OAuth client secret.")
    base_url: str | None = Field(
        default=None, description="API base URL; empty means the provider's real URL."
    )
    token_url: str | None = Field(
        default=None, description="Token endpoint URL; empty means the provider's real one."
    )
    timeout: float = Field(default=30.0, gt=0, description="HTTP timeout in seconds.")


MissedPolicy = Literal["skip", "once", "catch_up"]


class ScheduleSettings(BaseModel):
    """How one periodic job type is scheduled (overrides its declared schedule)."""

    cron: str | None = Field(
        default=None, description="Cron expression (5 fields); empty keeps the declared one."
    )
    timezone: str | None = Field(
        default=None, description="IANA timezone of the cron fields; empty = the global one."
    )
    enabled: bool = Field(default=True, description="Whether this schedule fires at all.")
    missed: MissedPolicy = Field(
        default="once",
        description="Slots missed while no scheduler ran: ``skip`` them, run ``once`` for all "
        "of them, or ``catch_up`` each (up to ``catch_up_limit``).",
    )
    catch_up_limit: int = Field(
        default=24, ge=1, le=10_000, description="Most missed slots ``catch_up`` runs."
    )
    on_startup: bool = Field(
        default=False, description="Also run once when a worker process starts."
    )


class Settings(BaseSettings):
    """Everything syncjobs reads from its environment; every field is ``SYNCJOBS_<NAME>``."""

    @field_validator("job_expiry", "encryption_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty environment value means "not set"."""
        return None if value == "" else value

    model_config = SettingsConfigDict(
        env_prefix="SYNCJOBS_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database_url: str = Field(
        default="sqlite:///syncjobs.db",
        description="SQLAlchemy URL of the job ledger and synced data "
        "(``postgresql+psycopg://…`` in production; a SQLite file by default).",
    )
    table_prefix: str = Field(
        default="syncjobs_",
        pattern=r"^[a-z_][a-z0-9_]{0,28}$",
        description="Prefix of every table syncjobs creates, so none collides with the host's.",
    )
    broker_url: str = Field(
        default="memory://",
        description="``redis://host:port/db`` for a Redis broker, or ``memory://`` for "
        "Dramatiq's in-process broker (demo and tests only).",
    )
    broker_heartbeat_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds after which Redis hands the unacknowledged messages of a silent "
        "(killed) worker to another worker.",
    )
    broker_maintenance_chance: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="How many Redis broker commands in a million also run maintenance (moving "
        "a dead worker's unacknowledged messages back to their queue).",
    )
    imports: list[str] = Field(
        default_factory=list,
        description="Modules to import before binding actors: where the host app declares its "
        "own job types (JSON list, e.g. ``[\"myapp.jobs\"]``).",
    )
    enabled: bool = Field(
        default=True,
        description="Master switch for background jobs: when off, submit refuses new jobs "
        "and schedules do not fire (queued jobs still run).",
    )
    max_active_jobs_per_owner: int = Field(
        default=5, ge=1, description="Pending plus processing jobs one owner may have at once."
    )
    default_max_retries: int = Field(
        default=3, ge=0, description="Retries of a job type that does not set its own."
    )
    default_time_limit: float = Field(
        default=600.0, gt=0, description="Seconds a job may run before it is interrupted."
    )
    retry_min_backoff: float = Field(
        default=1.0, gt=0, description="Seconds before the first retry after a transient error."
    )
    retry_max_backoff: float = Field(
        default=3600.0, gt=0, description="Upper bound, in seconds, of the exponential backoff."
    )
    progress_interval: float = Field(
        default=0.5,
        ge=0,
        description="Least seconds between two progress writes of one job (the last is "
        "always written).",
    )
    job_expiry: float | None = Field(
        default=86400.0,
        gt=0,
        description="Seconds after which a job still pending expires unstarted; empty = never.",
    )
    retention_finished_days: int = Field(
        default=7, ge=0, description="Days completed and cancelled jobs are kept."
    )
    retention_failed_days: int = Field(
        default=30, ge=0, description="Days failed and dead-lettered jobs are kept."
    )
    timezone: str = Field(
        default="UTC", description="IANA timezone of schedules and digests unless set per item."
    )
    max_params_bytes: int = Field(
        default=65536, ge=256, description="Largest accepted JSON size of a job's params."
    )
    watch_poll_interval: float = Field(
        default=0.25, gt=0, description="Seconds between polls when the database has no NOTIFY."
    )
    encryption_key: str | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts stored tokens.",
    )
    allow_plaintext_tokens: bool = Field(
        default=False,
        description="Development only: store tokens unencrypted when no encryption key is set.",
    )
    heartbeat_interval: float = Field(
        default=10.0, gt=0, description="Seconds between two heartbeats of a worker process."
    )
    job_stale_after: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without a heartbeat after which a processing job counts as "
        "crashed: another worker may claim it and upkeep re-queues it.",
    )
    time_limit_grace: float = Field(
        default=300.0,
        ge=0,
        description="Seconds past its time limit after which a job still processing (its "
        "worker heartbeating but stuck) is re-queued by upkeep.",
    )
    resend_pending_after: float = Field(
        default=900.0,
        gt=0,
        description="Seconds a due pending job may wait untouched before upkeep sends its "
        "message again (a lost message: Redis flushed or restarted without persistence).",
    )
    health_max_age: float = Field(
        default=180.0,
        gt=0,
        description="Worker heartbeats and scheduler ticks older than this make health() "
        "report unhealthy.",
    )
    upkeep_batch: int = Field(
        default=500, ge=1, description="Rows one upkeep step handles per batch."
    )
    schedules: dict[str, ScheduleSettings] = Field(
        default_factory=dict,
        description="Per job type schedule overrides (cron, timezone, enabled, missed-slot "
        "policy, on_startup), as a JSON object keyed by job type.",
    )
    sync_interval: int = Field(
        default=1800, ge=60, description="Default seconds between two syncs of an account."
    )
    sync_jitter: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Up to this fraction of the interval is added at random to each next sync "
        "time, so accounts connected together do not all sync in the same second.",
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict,
        description="Settings of third-party providers, by name (JSON object).",
    )
    youtube: ProviderSettings = Field(
        default_factory=ProviderSettings, description="YouTube Data API v3 client."
    )
    gmail: ProviderSettings = Field(
        default_factory=ProviderSettings, description="Gmail API v1 client."
    )
    instagram: ProviderSettings = Field(
        default_factory=ProviderSettings, description="Instagram API with Instagram Login client."
    )
    tiktok: ProviderSettings = Field(
        default_factory=ProviderSettings, description="TikTok Display API v2 client."
    )
