"""Validating changes to an owner's preferences."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidInputError
from .models import DigestFrequency, Preferences

__all__ = ["apply_changes", "valid_timezone"]


class _Changes(BaseModel):
    """The fields ``set_preferences`` accepts; absent ones stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=False)

    blocked_words: list[str] | None = Field(default=None, max_length=1000)
    allowed_channels: list[str] | None = Field(default=None, max_length=10_000)
    blocked_channels: list[str] | None = Field(default=None, max_length=10_000)
    viewer_age: int | None = Field(default=None, ge=0, le=130)
    timezone: str | None = None
    digest: Literal["off", "daily", "weekly"] | None = None
    webhook_url: str | None = Field(default=None, max_length=2000)

    @field_validator("blocked_words", "allowed_channels", "blocked_channels")
    @classmethod
    def _entries(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned: dict[str, str] = {}  # first spelling of each entry, by its casefold
        for entry in value:
            entry = entry.strip()
            if not entry or len(entry) > 200 or "\x00" in entry:
                raise ValueError("entries must be 1-200 characters, without NUL")
            cleaned.setdefault(entry.casefold(), entry)
        return list(cleaned.values())

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not valid_timezone(value):
            raise ValueError(f"unknown IANA timezone {value!r}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


def valid_timezone(name: str) -> bool:
    """True when ``name`` is a known IANA timezone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def apply_changes(current: Preferences, changes: dict[str, Any]) -> Preferences:
    """Return ``current`` with ``changes`` applied, or raise InvalidInputError."""
    try:
        parsed = _Changes.model_validate(changes)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'preferences'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(f"invalid preferences: {detail}") from None
    given = parsed.model_dump(exclude_unset=True)
    update: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("blocked_words", "allowed_channels", "blocked_channels"):
            update[name] = tuple(value or ())
        elif name == "digest":
            update[name] = DigestFrequency(value or "off")
        elif name == "timezone":
            update[name] = value or "UTC"
        else:
            update[name] = value
    return dataclasses.replace(current, **update)
