"""A real worker syncing over loopback HTTP from the fake servers, killed mid-sync."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.connections.credentials import generate_key
from syncjobs.testing.fakes import CombinedFakes, serve

from .conftest import Workers, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def fakes_url() -> Iterator[tuple[CombinedFakes, str]]:
    fakes = CombinedFakes(items_per_provider=800, seed=11)
    with serve(fakes) as root:
        yield fakes, root


@pytest.fixture
def sync_env(env: dict[str, str], fakes_url: tuple[CombinedFakes, str]) -> dict[str, str]:
    fakes, root = fakes_url
    extra = {"SYNCJOBS_ENCRYPTION_KEY": generate_key()}
    for name in ("gmail", "tiktok"):
        for key, value in dataclasses.asdict(fakes.config(name, root)).items():
            extra[f"SYNCJOBS_{name.upper()}__{key.upper()}"] = str(value)
    env.update(extra)  # the workers fixture reads the same dict
    return env


@pytest.mark.parametrize("provider", ["gmail", "tiktok"])
def test_a_sync_killed_mid_run_resumes_and_holds_exactly_the_dataset(
    sync_env: dict[str, str],
    fakes_url: tuple[CombinedFakes, str],
    client: Callable[..., SyncJobs],
    workers: Workers,
    provider: str,
) -> None:
    fakes, _ = fakes_url
    fake = fakes[provider]
    fake.latency = 0.08  # a multi-page sync that takes a few seconds
    app = client(**{k: v for k, v in sync_env.items() if k.startswith("SYNCJOBS_")})
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    first = workers.start(queues="sync")
    job = app.accounts.sync(account.id, owner_id="u1")
    wait_for(lambda: (app.status(job.id, owner_id="u1").progress_done or 0) >= 150, 90)
    workers.kill(first)
    killed = app.status(job.id, owner_id="u1")
    assert killed.status is JobStatus.PROCESSING and (killed.progress_done or 0) < 800
    fake.latency = 0.0
    workers.start(queues="sync")
    final = list(app.watch(job.id, owner_id="u1", timeout=180))[-1]
    assert final.status is JobStatus.COMPLETED, final.error_message
    assert final.attempts == 2
    assert app.deps.accounts is not None
    stored = app.deps.accounts.list_items(account.id, limit=10_000)
    assert sorted(i.external_id for i in stored) == sorted(fake.dataset())  # none missing,
    assert len(stored) == len({i.external_id for i in stored}) == 800  # none duplicated
    cursor: Any = app.accounts.list("u1")[0].cursor
    if provider == "gmail":
        assert cursor["history_id"] == fake.latest_cursor_value() and cursor["run"] is None
    else:
        newest = datetime.fromisoformat(cursor["hwm"]).timestamp()
        assert newest == fake.latest_cursor_value()
