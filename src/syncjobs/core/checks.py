"""Checks of what callers hand the job core: owners, job ids, params, delays."""

from __future__ import annotations

import difflib
import functools
import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .._validate import seconds, text
from ..errors import InvalidInputError
from .registry import JobType

__all__ = [
    "MAX_DELAY",
    "accepted_fields",
    "check_delay",
    "check_job_id",
    "check_owner",
    "declared_params",
    "validate_params",
]

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
    unknown = undeclared_fields(jt, raw)
    errors = [_unknown_field(jt.params, key) for key in unknown[:20]]
    model = None
    try:
        model = jt.params.model_validate({k: v for k, v in raw.items() if k not in unknown})
    except ValidationError as exc:
        errors += [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
    if errors or model is None:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in errors
        )
        raise InvalidInputError(f"invalid params for {jt.name}: {detail}", errors=errors)
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


def undeclared_fields(jt: JobType, params: Mapping[Any, Any]) -> list[Any]:
    """The keys of ``params`` that ``submit`` refuses: fields the job type's model lacks.

    None when the model sets ``extra`` in its own config (pydantic then keeps, drops or
    refuses them) or the job type was declared with ``extra_params="ignore"``.
    """
    model = jt.params
    if jt.extra_params == "ignore" or _handles_extras(model):
        return []
    fields = accepted_fields(model)
    return [key for key in params if key not in fields]


def declared_params(jt: JobType, params: Mapping[Any, Any]) -> dict[Any, Any]:
    """``params`` less the fields the job type's model would not take (all, if it keeps extras)."""
    model = jt.params
    if model.model_config.get("extra") == "allow" or _is_root(model):
        return dict(params)
    fields = accepted_fields(model)
    return {key: value for key, value in params.items() if key in fields}


@functools.lru_cache(maxsize=512)
def accepted_fields(model: type[BaseModel]) -> frozenset[str]:
    """The input keys a params model reads: its field names and aliases, as it validates them."""
    config = model.model_config
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    by_alias = config.get("validate_by_alias", True) is not False
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        aliases = _aliases(info) if by_alias else []
        keys.update(aliases)
        if by_name or not aliases:
            keys.add(name)
    return frozenset(keys)


def _aliases(info: FieldInfo) -> list[str]:
    """The top-level keys a field is validated from, by alias."""
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    found = []
    for choice in choices:
        first = choice.path[0] if isinstance(choice, AliasPath) and choice.path else choice
        if isinstance(first, str):
            found.append(first)
    return found


def _is_root(model: type[BaseModel]) -> bool:
    return bool(getattr(model, "__pydantic_root_model__", False))


def _handles_extras(model: type[BaseModel]) -> bool:
    """True when the model's own config says what happens to extra fields, or it is a root."""
    return model.model_config.get("extra") is not None or _is_root(model)


def _unknown_field(model: type[BaseModel], key: Any) -> dict[str, Any]:
    """The error entry of one undeclared params field, naming the closest declared one."""
    fields = sorted(accepted_fields(model))
    close = difflib.get_close_matches(str(key), fields, n=1)
    if close:
        msg = f"unknown field; did you mean {close[0]!r}?"
    elif fields:
        shown = ", ".join(fields[:20]) + (", …" if len(fields) > 20 else "")
        msg = f"unknown field (the fields are: {shown})"
    else:
        msg = "unknown field (this job type takes no params)"
    return {"loc": [key], "msg": msg, "type": "extra_forbidden"}


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
