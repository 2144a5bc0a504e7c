"""Job types: the ``@job_type`` decorator and the registry it fills."""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel

from ..errors import ConfigurationError, InvalidInputError
from .priority import check_queue_name

__all__ = ["ExtraParams", "JobType", "Registry", "default_registry", "job_type"]

P = TypeVar("P", bound=BaseModel)
#: A job body: called with the job's ``JobContext`` and its validated params.
JobFunc = Callable[[Any, Any], Any]
F = TypeVar("F", bound=Callable[..., Any])
#: What ``submit`` does with params fields the model does not declare: refuse or drop them.
ExtraParams = Literal["reject", "ignore"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$")
_QUEUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class JobType:
    """A named, registered kind of job and how it runs."""

    name: str
    func: JobFunc
    params: type[BaseModel]
    queue: str = "default"
    priority: int = 5
    time_limit: float | None = None
    max_retries: int | None = None
    schedule: str | None = None
    then: str | None = None
    description: str = ""
    #: Undeclared params fields: ``"reject"`` (InvalidInputError) or ``"ignore"`` (dropped).
    extra_params: ExtraParams = "reject"


class Registry:
    """A set of job types, by name; importing a module that declares job types fills it."""

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}
        self._lock = threading.Lock()

    def add(self, jt: JobType) -> JobType:
        """Register ``jt``; a second, different job type under the same name is an error."""
        _check_extra_params(jt.name, jt.params, jt.extra_params)
        with self._lock:
            old = self._types.get(jt.name)
            if old is not None and old.func is not jt.func:
                owner = getattr(old.func, "__module__", "?")
                raise ConfigurationError(
                    f"job type {jt.name!r} is already declared (by {owner}.{old.func.__name__})"
                )
            self._types[jt.name] = jt
        return jt

    def get(self, name: str) -> JobType:
        """Return the job type called ``name``; an unknown name is an InvalidInputError."""
        found = self._types.get(name)
        if found is None:
            raise InvalidInputError(self.unknown(name))
        return found

    def require(self, name: str, *, named_by: str) -> JobType:
        """Return the job type that the app's own configuration or ledger names.

        An unknown name there is a deployment problem, so it raises ConfigurationError;
        ``named_by`` says where the name came from.
        """
        found = self._types.get(name)
        if found is None:
            raise ConfigurationError(self.unknown(name, named_by=named_by))
        return found

    def unknown(self, name: str, *, named_by: str = "") -> str:
        """A short message: ``name`` is no registered job type, and the closest one if any."""
        close = difflib.get_close_matches(name, list(self._types), n=1)
        where = f" ({named_by})" if named_by else ""
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown job type {name[:100]!r}{where}{hint}"

    def find(self, name: str) -> JobType | None:
        """Return the job type called ``name``, or None."""
        return self._types.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[JobType]:
        return iter(list(self._types.values()))

    def __len__(self) -> int:
        return len(self._types)


default_registry = Registry()


def job_type(
    name: str,
    *,
    params: type[BaseModel],
    queue: str = "default",
    priority: int = 5,
    time_limit: float | None = None,
    max_retries: int | None = None,
    schedule: str | None = None,
    then: str | None = None,
    extra_params: ExtraParams = "reject",
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Declare a tracked job type; the function receives ``(ctx, params)``.

    Args:
        name: Unique job type name, used by ``submit``.
        params: The pydantic model that validates the job's params.
        queue: Broker queue its messages go to.
        priority: 1 (highest) … 10; the default priority of its jobs.
        time_limit: Seconds a run may take (default: the ``default_time_limit`` setting).
        max_retries: Retries after transient errors (default: ``default_max_retries``).
        schedule: Optional cron expression (``"*/5 * * * *"``) for periodic runs.
        then: Name of a job type to submit when a job of this type completes.
        extra_params: What ``submit`` does with params fields the model does not declare:
            ``"reject"`` (InvalidInputError, the default) or ``"ignore"`` (dropped). A model
            that sets ``extra`` in its own config decides for itself.
        registry: Where to register (default: the global registry).

    Raises:
        ConfigurationError: When a name, queue or limit is invalid.
    """
    _check_declaration(name, params, queue, priority, time_limit, max_retries, schedule)
    _check_extra_params(name, params, extra_params)

    def decorate(func: F) -> F:
        (registry or default_registry).add(
            JobType(
                name=name,
                func=func,
                params=params,
                queue=queue,
                priority=priority,
                time_limit=time_limit,
                max_retries=max_retries,
                schedule=schedule,
                then=then,
                extra_params=extra_params,
                description=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
            )
        )
        return func

    return decorate


def _check_declaration(
    name: str,
    params: type[BaseModel],
    queue: str,
    priority: int,
    time_limit: float | None,
    max_retries: int | None,
    schedule: str | None,
) -> None:
    if not _NAME.match(name):
        raise ConfigurationError(f"invalid job type name {name!r}")
    if not _QUEUE.match(queue):
        raise ConfigurationError(f"invalid queue name {queue!r}")
    check_queue_name(queue)
    if not 1 <= priority <= 10:
        raise ConfigurationError(f"priority must be 1..10, got {priority}")
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise ConfigurationError("params must be a pydantic BaseModel subclass")
    if max_retries is not None and max_retries < 0:
        raise ConfigurationError("max_retries must be >= 0")
    if time_limit is not None and time_limit <= 0:
        raise ConfigurationError("time_limit must be > 0")
    if schedule is not None:
        _check_cron(schedule)


def _check_extra_params(name: str, params: type[BaseModel], extra_params: str) -> None:
    if extra_params not in get_args(ExtraParams):
        raise ConfigurationError(
            f"extra_params must be 'reject' or 'ignore', got {extra_params!r} (job type {name!r})"
        )
    own = params.model_config.get("extra")
    if extra_params == "ignore" and own in ("allow", "forbid"):
        raise ConfigurationError(
            f"job type {name!r}: extra_params='ignore' contradicts its params model's extra={own!r}"
        )


def _check_cron(spec: str) -> None:
    from periodiq import cron

    try:
        cron(spec)
    except Exception as exc:
        raise ConfigurationError(f"invalid cron schedule {spec!r}: {exc}") from None
