"""Provider storms: 5xx, rate limits with Retry-After and timeouts, in-process over loopback.

The fakes are served on 127.0.0.1 (behind a recording middleware) rather than through
``httpx.WSGITransport``, because an in-process transport never times out: over a real socket
the adapters' ``timeout`` setting is what cuts a slow answer short.

Each 5xx and timeout spends one of sync_account's 5 retries (a 429 spends none), so the
datasets are sized for a sync to get through a 20 % storm within that budget.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from syncjobs import JobStatus, SyncJobs
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes, serve

from ..conftest import AppFactory, run_until_idle
from ._support import PROVIDERS, Recorder, cursor_problem, holding
from .conftest import Reporter

RETRY_AFTER = 0.3
TIMEOUT = 0.25  # the adapters' HTTP timeout
SLOW = 0.8  # how long an injected timeout keeps the answer back


def storm(provider: str, n: int) -> tuple[str, dict[str, Any]] | None:
    """A deterministic storm: 20 % of API requests get a 5xx, every 7th a 429
    with Retry-After, and the fifth request of each provider times out."""
    if n % 5 == 1:
        return "server_error", {}
    if n % 7 == 3:
        return "rate_limit", {"retry_after": RETRY_AFTER, "status": 429}
    if n == 4:
        return "timeout", {"seconds": SLOW}
    return None


@pytest.fixture
def stormy() -> Iterator[tuple[CombinedFakes, Recorder, str]]:
    fakes = CombinedFakes(items_per_provider=100, seed=23)
    recorder = Recorder(fakes, storm)
    with serve(recorder) as root:
        yield fakes, recorder, root


def make(
    make_app: AppFactory, repo: SQLAlchemyRepository, fakes: CombinedFakes, root: str
) -> SyncJobs:
    configs = {
        name: {**dataclasses.asdict(fakes.config(name, root)), "timeout": TIMEOUT}
        for name in PROVIDERS
    }
    return make_app(repo, **configs)


def test_provider_storms_never_retry_earlier_than_asked(
    make_app: AppFactory,
    sqlite_repo: SQLAlchemyRepository,
    stormy: tuple[CombinedFakes, Recorder, str],
    report: Reporter,
) -> None:
    fakes, recorder, root = stormy
    app = make(make_app, sqlite_repo, fakes, root)
    accounts = {
        name: app.accounts.connect("u1", name, fakes[name].issue_tokens()) for name in PROVIDERS
    }
    jobs = []
    for round_ in range(2):  # a full sync, then an incremental one after new items
        if round_:
            for name in PROVIDERS:
                fakes[name].add_items(12)
        ids = [app.accounts.sync(acc.id, owner_id="u1").id for acc in accounts.values()]
        run_until_idle(app, timeout=60)
        jobs += [app.status(i, owner_id="u1") for i in ids]

    lost = duplicated = 0
    problems = []
    for job in jobs:
        if job.status is not JobStatus.COMPLETED:
            problems.append(
                f"job {job.id} ended {job.status} {job.error_code}: {job.error_message}"
            )
    for name, acc in accounts.items():
        missing, dups = holding(app, acc.id, fakes[name])
        lost, duplicated = lost + missing, duplicated + dups
        [now] = [a for a in app.accounts.list("u1") if a.id == acc.id]
        problem = cursor_problem(name, now.cursor, fakes[name])
        if problem:
            problems.append(problem)
    early = recorder.early_retries()
    faults = sum(recorder.injected.values())
    report("provider_storms", jobs=len(jobs), faults=faults, lost=lost, duplicated=duplicated)
    for name in PROVIDERS:  # every provider had its share of each kind of fault
        kinds = Counter(e.injected for e in recorder.exchanges if e.provider == name)
        assert min(kinds["server_error"], kinds["rate_limit"], kinds["timeout"]) >= 1, kinds
    assert problems == []
    assert early == []
    assert (lost, duplicated) == (0, 0)


def test_a_rate_limited_gmail_batch_part_is_not_retried_before_retry_after(
    make_app: AppFactory,
    sqlite_repo: SQLAlchemyRepository,
    stormy: tuple[CombinedFakes, Recorder, str],
    report: Reporter,
) -> None:
    """Retry-After inside a multipart batch answer binds as much as on a whole request."""
    fakes, recorder, root = stormy
    recorder.plan = lambda provider, n: None
    app = make(make_app, sqlite_repo, fakes, root)
    account = app.accounts.connect("u1", "gmail", fakes.gmail.issue_tokens())
    fakes.gmail.inject("rate_limit", count=3, retry_after=RETRY_AFTER, endpoint="messages.get")
    job = app.accounts.sync(account.id, owner_id="u1")
    run_until_idle(app, timeout=60)
    done = app.status(job.id, owner_id="u1")
    lost, duplicated = holding(app, account.id, fakes.gmail)
    report("gmail_batch_part_rate_limit", jobs=1, faults=3, lost=lost, duplicated=duplicated)
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert recorder.rate_limits() >= 1
    assert recorder.early_retries() == []
    assert (lost, duplicated) == (0, 0)
