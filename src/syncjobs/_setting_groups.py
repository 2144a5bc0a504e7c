"""The groups of settings that nest inside ``Settings``: providers, analyzer, schedules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

__all__ = [
    "AnalyzerSettings",
    "MissedPolicy",
    "NotifierName",
    "ProviderSettings",
    "ScheduleSettings",
    "in_app_only",
]


class ProviderSettings(BaseModel):
    """OAuth client and endpoint settings of one provider."""

    client_id: str = Field(default="", description="OAuth client id (TikTok: client key).")
    client_secret: SecretStr = Field(default=SecretStr(""), description="OAuth client secret.")
    base_url: str | None = Field(
        default=None, description="API base URL; empty means the provider's real URL."
    )
    token_url: str | None = Field(
        default=None, description="Token endpoint URL; empty means the provider's real one."
    )
    auth_url: str | None = Field(
        default=None,
        description="Authorisation (consent) page URL; empty means the provider's real one.",
    )
    exchange_url: str | None = Field(
        default=None,
        description="Endpoint that exchanges an authorisation code for tokens, when it is not "
        "``token_url`` (Instagram); empty means the provider's real one.",
    )
    redirect_uri: str | None = Field(
        default=None,
        description="The OAuth callback URL registered with this provider; empty means "
        "``SYNCJOBS_OAUTH_REDIRECT_URI``.",
    )
    timeout: float = Field(default=30.0, gt=0, description="HTTP timeout in seconds.")
    stats_window_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="Incremental syncs refresh the counts (views, likes, comments) of items "
        "published this many days back (YouTube, Instagram, TikTok; 0 = off).",
    )
    stats_max_items: int = Field(
        default=200,
        ge=0,
        le=1000,
        description="Most recent items whose counts one sync refreshes (0 = off).",
    )


class AnalyzerSettings(BaseModel):
    """The OpenAI-compatible analyzer: any ``/v1/chat/completions`` endpoint."""

    base_url: str = Field(
        default="https://api.openai.com",
        description="Base URL; ``/v1/chat/completions`` is appended.",
    )
    api_key: SecretStr = Field(
        default=SecretStr(""), description="Bearer token sent to the endpoint."
    )
    model: str = Field(default="gpt-4o-mini", description="Model name sent with each request.")
    timeout: float = Field(default=30.0, gt=0, description="HTTP timeout in seconds.")
    max_tokens: int = Field(
        default=200, ge=16, le=4096, description="Most completion tokens asked for per item."
    )


NotifierName = Literal["in_app", "webhook"]


def in_app_only() -> list[NotifierName]:
    """The default notifiers: in-app only."""
    return ["in_app"]


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
