"""What every usage browser shares: the window's checks."""

from __future__ import annotations

from datetime import datetime

from ...errors import InvalidInputError

__all__ = ["check_window"]


def check_window(start: object, end: object) -> None:
    """Raise ``InvalidInputError`` unless ``start < end`` are timezone-aware datetimes."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidInputError(f"{name} must be a timezone-aware datetime")
    assert isinstance(start, datetime) and isinstance(end, datetime)
    if end <= start:
        raise InvalidInputError("end must be after start")
