"""Checks of the public API's arguments: every bad input becomes an InvalidInputError."""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import InvalidInputError

__all__ = ["flag", "integer", "optional_text", "seconds", "text"]

#: The control characters ``text`` refuses (C0 and DEL).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def text(value: Any, name: str, *, max_len: int = 255) -> str:
    """A non-empty printable string that encodes as UTF-8, at most ``max_len`` characters."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, not {type(value).__name__}")
    if not value or len(value) > max_len:
        raise InvalidInputError(f"{name} must be 1 to {max_len} characters")
    if _CONTROL.search(value):
        raise InvalidInputError(f"{name} must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{name} is not valid Unicode (lone surrogates)") from None
    return value


def optional_text(value: Any, name: str, *, max_len: int = 255) -> str | None:
    """None, or a valid ``text``."""
    return None if value is None else text(value, name, max_len=max_len)


def integer(value: Any, name: str, *, low: int, high: int) -> int:
    """An int (not a bool) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low} and {high}")
    return value


def seconds(value: Any, name: str, *, low: float, high: float) -> float:
    """A finite number of seconds within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{name} must be a number of seconds")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low:g} and {high:g} seconds")
    return float(value)


def flag(value: Any, name: str) -> bool:
    """A real bool."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be true or false")
    return value
