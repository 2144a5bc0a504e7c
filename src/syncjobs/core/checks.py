"""Checks of what callers hand the job core: owners, job ids, params, delays."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from .._validate import seconds, text
from ..errors import InvalidInputError
from .registry import JobType

__all__ = ["MAX_DELAY", "check_delay", "check_job_id", "check_owner", "validate_params"]

#: The longest delay a submit accepts (Redis refuses delays of 7 days or more).
MAX_DELAY = timedelta(days=6, hours=23)


def check_owner(owner_id: object) -> str:
    """Return ``owner_id`` as a valid owner id, or raise InvalidInputError."""
    return text(owner_id, "owner_id")


def check_job_id(job_id: object) -> str:
    """Return ``job_id`` in canonical UUID form, or raise InvalidInputError."""
    try:
        return str(uuid.UUID(str(job_id)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInputError(f"malformed job id {str(job_id)[:80]!r}: expected a UUID") from None


def validate_params(
    jt: JobType, params: BaseModel | dict[str, Any] | None, max_bytes: int
) -> dict[str, Any]:
    """Validate ``params`` with the job type's model; return them as JSON-ready data."""
    raw: Any = {} if params is None else params
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        raise InvalidInputError(f"params must be a JSON object, got {type(raw).__name__}")
    try:
        model = jt.params.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in errors
        )
        raise InvalidInputError(f"invalid params for {jt.name}: {detail}", errors=errors) from None
    dumped: dict[str, Any] = model.model_dump(mode="json")
    try:
        size = len(json.dumps(dumped, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidInputError(f"params are not encodable as UTF-8 JSON: {exc}") from None
    if size > max_bytes:
        raise InvalidInputError(f"params are {size} bytes; the limit is {max_bytes}")
    if "\\u0000" in json.dumps(dumped):
        raise InvalidInputError("params must not contain NUL characters")
    return dumped


def check_delay(delay: float | timedelta | None) -> timedelta | None:
    """Return ``delay`` as a timedelta between 0 and ``MAX_DELAY`` (None for no delay)."""
    if delay is None:
        return None
    if isinstance(delay, timedelta):
        wait = delay
    else:
        wait = timedelta(seconds=seconds(delay, "delay", low=0, high=MAX_DELAY.total_seconds()))
    if wait < timedelta(0) or wait > MAX_DELAY:
        raise InvalidInputError("delay must be between 0 and 7 days")
    return wait or None
