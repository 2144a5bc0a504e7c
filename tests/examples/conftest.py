"""Fixtures of the example tests.

The FastAPI app's tests reuse the integration fixtures (``env``, ``client``, ``workers``: a
real Redis, PostgreSQL and ``dramatiq syncjobs.actors`` processes). ``host_jobs`` imports
``examples.host_jobs`` for one test only, so its job types never leak into other tests.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from syncjobs.core.registry import Registry, default_registry
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    broker,
    broker_url,
    client,
    env,
    workers,
)

HOST_JOBS = "examples.host_jobs"


@pytest.fixture
def host_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``examples.host_jobs``, freshly imported; the global registry is restored afterwards."""
    monkeypatch.setattr(default_registry, "_types", dict(default_registry._types))
    sys.modules.pop(HOST_JOBS, None)
    try:
        yield importlib.import_module(HOST_JOBS)
    finally:
        sys.modules.pop(HOST_JOBS, None)


@pytest.fixture
def test_registry(host_jobs: ModuleType, test_registry: Registry) -> Registry:
    """The built-in job types plus the example's: the root fixture's registry, built after
    ``host_jobs`` has declared them (so ``host_jobs`` must come first)."""
    return test_registry
