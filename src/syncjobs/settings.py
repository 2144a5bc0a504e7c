"""Settings, read from ``SYNCJOBS_*`` environment variables (a ``.env`` file only if asked)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._envcheck import warn_unknown_variables
from ._setting_groups import (
    AnalyzerSettings,
    MissedPolicy,
    NotifierName,
    ProviderSettings,
    ScheduleSettings,
    in_app_only,
)

#: The variable naming a ``.env``-style file to read settings from (none by default).
ENV_FILE_VARIABLE = "SYNCJOBS_ENV_FILE"

__all__ = [
    "AnalyzerSettings",
    "MissedPolicy",
    "ProviderSettings",
    "ScheduleSettings",
    "Settings",
]


class Settings(BaseSettings):
    """Everything syncjobs reads from its environment; every field is ``SYNCJOBS_<NAME>``.

    No ``.env`` file is read unless the host asks: ``SYNCJOBS_ENV_FILE=path`` or
    ``Settings(_env_file=path)``. Secrets are ``SecretStr``: ``repr`` and ``str`` hide them.
    """

    def __init__(self, **values: Any) -> None:
        if "_env_file" not in values and os.environ.get(ENV_FILE_VARIABLE):
            values["_env_file"] = os.environ[ENV_FILE_VARIABLE]
        super().__init__(**values)

    @model_validator(mode="after")
    def _heartbeats_fit(self) -> Settings:
        """A crash is only told from a slow heartbeat with at least two beats of margin."""
        beat = self.heartbeat_interval
        for name in ("job_stale_after", "broker_heartbeat_timeout"):
            if getattr(self, name) < 2 * beat:
                raise ValueError(
                    f"SYNCJOBS_{name.upper()} ({getattr(self, name):g} s) must be at least twice "
                    f"SYNCJOBS_HEARTBEAT_INTERVAL ({beat:g} s)"
                )
        return self

    @model_validator(mode="after")
    def _spot_unknown_variables(self) -> Settings:
        """Warn (once per name) about ``SYNCJOBS_*`` variables no setting reads: typos."""
        warn_unknown_variables(type(self), os.environ)
        return self

    @field_validator("job_expiry", "encryption_key", "webhook_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty environment value means "not set"."""
        return None if value == "" else value

    model_config = SettingsConfigDict(
        env_prefix="SYNCJOBS_",
        env_nested_delimiter="__",
        env_file=None,
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
        description="``redis://host:port/db`` for a Redis broker, ``amqp://user:pass@host:port/"
        "vhost`` (or ``amqps://``) for RabbitMQ, or ``memory://`` for Dramatiq's in-process "
        "broker (demo and tests only).",
    )
    actor_prefix: str = Field(
        default="syncjobs.",
        pattern=r"^([A-Za-z_][A-Za-z0-9_.:-]{0,39})?$",
        description="Prefix of the Dramatiq actor name of every job type (``sync_account`` runs "
        "as actor ``syncjobs.sync_account``), so a host's own actors may share the broker. "
        "A job type already named with the prefix keeps its name. Job type names in the "
        "ledger and in ``submit`` do not change. Empty: the actors are named as the job types.",
    )
    broker_heartbeat_timeout: float = Field(
        default=20.0,
        gt=0,
        description="Redis only: seconds after which the broker hands the unacknowledged messages "
        "(running or prefetched) of a silent, killed worker back to their queues. Every worker "
        "process beats every ``heartbeat_interval`` seconds, so keep it at least 3 of those.",
    )
    broker_maintenance_chance: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="How many Redis broker commands in a million also run maintenance (moving "
        "a dead worker's unacknowledged messages back to their queue).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines of ``dramatiq syncjobs.actors`` and ``periodiq syncjobs.actors``: "
        "Dramatiq's ``text``, or ``json``, one JSON object per line with the job fields as keys.",
    )
    imports: list[str] = Field(
        default_factory=list,
        description="Modules to import before binding actors: where the host app declares its "
        'own job types (JSON list, e.g. ``["myapp.jobs"]``).',
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
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys (urlsafe base64, 32 bytes) that encrypt stored tokens, "
        "comma-separated, newest first: tokens are read with any and written with the newest "
        "(``syncjobs keys rotate`` re-encrypts them all with it).",
    )
    allow_plaintext_tokens: bool = Field(
        default=False,
        description="Development only: store tokens unencrypted when no encryption key is set.",
    )
    heartbeat_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two heartbeats of a worker process. Each heartbeat also "
        "runs the recovery pass (``worker_recovery``).",
    )
    worker_recovery: bool = Field(
        default=True,
        description="At every heartbeat, each worker process re-queues the jobs of dead "
        "workers (processing jobs past ``job_stale_after``, and the broker's unacknowledged "
        "messages past ``broker_heartbeat_timeout``). Off: only ``maintain_jobs`` does, every "
        "5 minutes.",
    )
    job_stale_after: float = Field(
        default=30.0,
        gt=0,
        description="Seconds without a heartbeat after which a processing job counts as "
        "crashed: another worker may claim it and the recovery pass re-queues it. Keep it at "
        "least 3 heartbeats: a job re-queued while its worker lives runs twice at once.",
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
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the Prometheus exporter of ``dramatiq syncjobs.actors``: the "
        "worker processes count their jobs, and the main process serves the sum of all of "
        "them on this port (docs/metrics.md). 0: no worker metrics.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the worker metrics exporter listens on (``0.0.0.0``: every "
        "interface).",
    )
    upkeep_batch: int = Field(
        default=500, ge=1, description="Rows one upkeep step handles per batch."
    )
    job_max_retries: dict[str, int] = Field(
        default_factory=dict,
        description="Per job type retry counts that override the declared ones, as a JSON "
        'object, e.g. ``{"deliver_notification": 10}``.',
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
    oauth_redirect_uri: str | None = Field(
        default=None,
        description="The app's OAuth callback URL, registered with each provider (a "
        "provider's own ``redirect_uri`` overrides it), e.g. "
        "``https://app.example.com/oauth/callback``.",
    )
    oauth_state_ttl: int = Field(
        default=600,
        ge=60,
        le=3600,
        description="Seconds an owner has to finish a provider's consent page before the "
        "connect attempt expires.",
    )
    reconnect_url: str | None = Field(
        default=None,
        description="Where an owner reconnects an account, put in ``reauth_required`` "
        "notifications; ``{provider}`` and ``{account_id}`` are filled in, e.g. "
        "``https://app.example.com/connect/{provider}?account_id={account_id}``.",
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
    analyzer: Literal["keyword", "openai"] = Field(
        default="keyword",
        description="The analyzer ``analyze_items`` uses: the offline ``keyword`` analyzer "
        "driven by owners' preferences, or ``openai`` (any OpenAI-compatible endpoint).",
    )
    openai: AnalyzerSettings = Field(
        default_factory=AnalyzerSettings,
        description="Endpoint, key and model of the OpenAI-compatible analyzer.",
    )
    analysis_batch_size: int = Field(
        default=10, ge=1, le=1000, description="Items ``analyze_items`` claims per batch."
    )
    analysis_concurrency: int = Field(
        default=5, ge=1, le=64, description="Items of one batch analysed at the same time."
    )
    analysis_max_items: int = Field(
        default=1000,
        ge=1,
        description="Most items one ``analyze_items`` run analyses (the rest wait for the next).",
    )
    analysis_max_attempts: int = Field(
        default=3, ge=1, le=100, description="Attempts at one item before it is marked failed."
    )
    analysis_stale_after: float = Field(
        default=900.0,
        gt=0,
        description="Seconds an item may stay claimed (``analyzing``) before another run may "
        "take it (its worker died); also how long an item whose analysis failed waits before "
        "its next attempt.",
    )
    estimated_tokens_per_item: int = Field(
        default=800,
        ge=0,
        description="Tokens counted for an AI analysis whose reply reported no usage.",
    )
    usage_lookback_days: int = Field(
        default=2,
        ge=1,
        le=400,
        description="Days back (UTC, today included) ``aggregate_usage`` recomputes.",
    )
    retention_allowed_items_days: int = Field(
        default=183, ge=1, description="Days items judged ALLOW (or allow-listed) are kept."
    )
    retention_read_notifications_days: int = Field(
        default=90, ge=1, description="Days read notifications are kept (unread: forever)."
    )
    retention_job_log_days: int = Field(
        default=30, ge=1, description="Days job log lines are kept."
    )
    cleanup_batch_size: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="Rows ``cleanup_old_data`` deletes per transaction, so no lock is held long.",
    )
    notifiers: list[NotifierName] = Field(
        default_factory=in_app_only,
        description="Built-in notifiers every notification goes through (JSON list); hosts "
        "pass their own in ``Deps.notifiers``.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Where the webhook notifier posts when an owner set no URL of their own.",
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Shared secret of the webhook notifier's HMAC-SHA256 signature.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private, link-local and other non-public "
        "addresses (receivers on your own network, tests). Off: such URLs are refused when "
        "set and when sending.",
    )
    breaker_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive failures of a notifier that open its circuit breaker.",
    )
    breaker_cooldown: float = Field(
        default=300.0,
        gt=0,
        description="Seconds an open circuit breaker waits before one trial delivery.",
    )
    digest_hour: int = Field(
        default=9, ge=0, le=23, description="Local hour (owner's timezone) digests are sent."
    )
    digest_weekday: int = Field(
        default=0, ge=0, le=6, description="Weekday of weekly digests (0 = Monday)."
    )
    digest_batch_size: int = Field(
        default=50, ge=1, le=10_000, description="Owners ``send_digests`` handles per batch."
    )
    default_digest: Literal["off", "daily", "weekly"] = Field(
        default="daily", description="Digest frequency of owners who set none."
    )
    operator_owner_id: str = Field(
        default="operator",
        description="Owner id whose notifications tell the operator a job dead-lettered.",
    )
