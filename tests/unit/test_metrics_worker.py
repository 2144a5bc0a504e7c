"""Worker metrics: real jobs through an in-process worker, scraped as Prometheus would."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel

from syncjobs import (
    ConfigurationError,
    JobCancelledError,
    JobContext,
    JobStatus,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitedError,
)
from syncjobs.clock import utcnow
from syncjobs.core.registry import Registry, job_type
from syncjobs.metrics import WorkerMetrics, install, multiproc
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.fakes import CombinedFakes

from ..conftest import AppFactory, run_until_idle
from .metrics_helpers import Samples, series, value, worker_samples

ROOT = "http://fakes.test"


class Fails(BaseModel):
    times: int = 0


@pytest.fixture
def calls(test_registry: Registry) -> dict[str, int]:
    """Declare the test job types; counts each type's calls."""
    counted: dict[str, int] = {}

    def bump(name: str) -> int:
        counted[name] = counted.get(name, 0) + 1
        return counted[name]

    @job_type("m.ok", params=Fails, registry=test_registry)
    def ok(ctx: JobContext, p: Fails) -> str:
        bump("m.ok")
        return "ok"

    @job_type("m.flaky", params=Fails, max_retries=2, registry=test_registry)
    def flaky(ctx: JobContext, p: Fails) -> int:
        if bump("m.flaky") <= p.times:
            raise ProviderUnavailableError("503")
        return counted["m.flaky"]

    @job_type("m.fatal", params=Fails, registry=test_registry)
    def fatal(ctx: JobContext, p: Fails) -> None:
        bump("m.fatal")
        raise PermissionDeniedError("no access")

    @job_type("m.limited", params=Fails, registry=test_registry)
    def limited(ctx: JobContext, p: Fails) -> str:
        if bump("m.limited") <= p.times:
            raise RateLimitedError("slow down", retry_after=0.05)
        return "done"

    @job_type("m.cancel", params=Fails, registry=test_registry)
    def cancel(ctx: JobContext, p: Fails) -> None:
        bump("m.cancel")
        raise JobCancelledError()

    return counted


def finished(samples: Samples, job_type: str) -> dict[str, float]:
    """A job type's finished deliveries by outcome."""
    found = {}
    for labels, n in series(samples, "syncjobs_jobs_finished_total").items():
        as_dict = dict(labels)
        if as_dict["job_type"] == job_type:
            found[as_dict["outcome"]] = n
    return found


def durations(samples: Samples, job_type: str) -> dict[str, float]:
    """A job type's timed attempts by outcome (the histogram's counts)."""
    found = {}
    for labels, n in series(samples, "syncjobs_job_duration_seconds_count").items():
        as_dict = dict(labels)
        if as_dict["job_type"] == job_type:
            found[as_dict["outcome"]] = n
    return found


def test_every_attempt_is_counted_by_type_and_outcome(
    make_app: AppFactory, calls: dict[str, int]
) -> None:
    app = make_app()
    metrics = install(app)
    for _ in range(3):
        app.submit("m.ok", owner_id="u1", params={})
    app.submit("m.flaky", owner_id="u2", params={"times": 2})
    app.submit("m.fatal", owner_id="u3", params={})
    app.submit("m.limited", owner_id="u4", params={"times": 1})
    app.submit("m.cancel", owner_id="u5", params={})
    run_until_idle(app)
    s = worker_samples(metrics)

    started = {dict(k)["job_type"]: v for k, v in series(s, "syncjobs_jobs_started_total").items()}
    assert started == {"m.ok": 3, "m.flaky": 3, "m.fatal": 1, "m.limited": 2, "m.cancel": 1}
    assert finished(s, "m.ok") == {"completed": 3}
    assert finished(s, "m.flaky") == {"retried": 2, "completed": 1}
    assert finished(s, "m.fatal") == {"failed": 1}
    assert finished(s, "m.limited") == {"rate_limited": 1, "completed": 1}
    assert finished(s, "m.cancel") == {"cancelled": 1}
    # Every attempt that ran is timed once, under the outcome it ended with.
    assert durations(s, "m.ok") == {"completed": 3}
    assert durations(s, "m.flaky") == {"retried": 2, "completed": 1}
    assert durations(s, "m.limited") == {"rate_limited": 1, "completed": 1}
    inf = {"job_type": "m.ok", "outcome": "completed", "le": "+Inf"}
    assert value(s, "syncjobs_job_duration_seconds_bucket", **inf) == 3
    retries = {dict(k)["job_type"]: v for k, v in series(s, "syncjobs_job_retries_total").items()}
    assert retries == {"m.flaky": 2}
    dead = {dict(k)["job_type"]: v for k, v in series(s, "syncjobs_dead_letters_total").items()}
    assert dead == {"m.fatal": 1}
    assert set(series(s, "syncjobs_jobs_running").values()) == {0.0}
    # Labels are job types and outcomes only: no owner, no job id.
    label_names = {name for _, labels in s for name, _ in labels}
    assert label_names <= {"job_type", "outcome", "le", "provider", "change"}


def test_deliveries_that_never_ran_are_counted_but_not_started_or_timed(
    make_app: AppFactory, calls: dict[str, int]
) -> None:
    repo = InMemoryRepository()
    # No recovery pass: the worker's claim, not the heartbeat thread racing it, meets the job
    # that is out of attempts.
    app = make_app(repo, job_expiry=0.05, worker_recovery=False)
    metrics = install(app)
    cancelled = app.submit("m.ok", owner_id="u1", params={})
    app.cancel(cancelled.id, owner_id="u1")
    expired = app.submit("m.ok", owner_id="u2", params={})
    exhausted = app.submit("m.flaky", owner_id="u3", params={})
    for _ in range(3):  # three starts that never finished: killed workers
        long_ago = utcnow() - timedelta(minutes=5)
        assert repo.claim_job(exhausted.id, worker_id="dead", now=long_ago, stale_before=utcnow())
    time.sleep(0.1)  # the m.ok jobs expire
    run_until_idle(app)
    assert app.status(expired.id, owner_id="u2").error_code == "expired"
    done = app.submit("m.ok", owner_id="u4", params={})
    run_until_idle(app)
    app.send(app.status(done.id, owner_id="u4"))  # a late duplicate of a finished job
    run_until_idle(app)
    s = worker_samples(metrics)

    # The cancelled job ended at once, in the ledger: its delivery, like the duplicate's, had
    # nothing left to run.
    assert finished(s, "m.ok") == {"expired": 1, "completed": 1, "skipped": 2}
    assert finished(s, "m.flaky") == {"failed": 1}
    started = {dict(k)["job_type"]: v for k, v in series(s, "syncjobs_jobs_started_total").items()}
    assert started == {"m.ok": 1}  # only the job that ran
    assert durations(s, "m.ok") == {"completed": 1}
    dead = {dict(k)["job_type"]: v for k, v in series(s, "syncjobs_dead_letters_total").items()}
    assert dead == {"m.flaky": 1}  # out of attempts; an expiry is no dead letter
    assert calls == {"m.ok": 1}


def test_a_sync_counts_its_provider_calls_quota_and_items(make_app: AppFactory) -> None:
    fakes = CombinedFakes(items_per_provider=120, seed=11)
    providers = ["youtube", "gmail"]
    configs = {name: dataclasses.asdict(fakes.config(name, ROOT)) for name in providers}
    app = make_app(transport=fakes.transport(), **configs)
    metrics = install(app)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in providers}

    def sync(account_id: str, provider: str, full: bool = False) -> None:
        job = app.accounts.sync(account_id, owner_id="u1", full=full)
        run_until_idle(app)
        done = app.status(job.id, owner_id="u1")
        assert done.status is JobStatus.COMPLETED, done.error_message
        results[provider].append(done.result)

    accounts = {p: app.accounts.connect("u1", p, fakes[p].issue_tokens()) for p in providers}
    for provider, account in accounts.items():
        sync(account.id, provider)
    fakes["gmail"].add_items(4)
    fakes["gmail"].delete_items(sorted(fakes["gmail"].dataset())[:2])
    sync(accounts["gmail"].id, "gmail")
    fakes["youtube"].delete_items(sorted(fakes["youtube"].dataset())[:3])
    sync(accounts["youtube"].id, "youtube", full=True)  # the closing sweep finds them gone
    s = worker_samples(metrics)

    for provider in providers:
        runs = results[provider]
        calls = sum(r["api_calls"] for r in runs)
        assert value(s, "syncjobs_provider_api_calls_total", provider=provider) == calls > 0
        assert value(s, "syncjobs_provider_quota_units_total", provider=provider) == sum(
            r["quota_units"] for r in runs
        )
        for change in ("added", "updated", "deleted"):
            assert value(s, "syncjobs_synced_items_total", provider=provider, change=change) == (
                sum(r[change] for r in runs)
            ), (provider, change)
    assert value(s, "syncjobs_synced_items_total", provider="youtube", change="added") == 120
    assert value(s, "syncjobs_synced_items_total", provider="gmail", change="added") == 124
    assert value(s, "syncjobs_synced_items_total", provider="gmail", change="deleted") == 2
    assert value(s, "syncjobs_synced_items_total", provider="youtube", change="deleted") == 3
    assert value(s, "syncjobs_provider_quota_units_total", provider="youtube") > 0
    syncs = {"job_type": "sync_account", "outcome": "completed"}
    assert value(s, "syncjobs_jobs_finished_total", **syncs) == 4


def test_install_takes_the_bound_broker_and_replaces_an_earlier_install(
    make_app: AppFactory, calls: dict[str, int]
) -> None:
    app = make_app()
    first = install(app)
    second = install(app.broker)
    assert [m for m in app.broker.middleware if isinstance(m, WorkerMetrics)] == [second]
    assert second.app is app and second.forks == []
    app.submit("m.ok", owner_id="u1", params={})
    run_until_idle(app)
    ok = {"job_type": "m.ok", "outcome": "completed"}
    assert value(worker_samples(second), "syncjobs_jobs_finished_total", **ok) == 1
    assert worker_samples(first) == {}
    assert app.outcome_hooks == [second.on_outcome]
    assert app.accounts.usage_hooks.count(second.on_usage) == 1
    assert first.on_usage not in app.accounts.usage_hooks


def test_install_refuses_what_it_cannot_use(make_app: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="not bound to this broker"):
        install(StubBroker())
    with pytest.raises(ConfigurationError, match="not str"):
        install("syncjobs.actors")  # type: ignore[arg-type]
    app = make_app()
    for port in (-1, 65536, True, "9100"):
        with pytest.raises(ConfigurationError, match="port must be an integer"):
            install(app, port=port)  # type: ignore[arg-type]
    assert not any(isinstance(m, WorkerMetrics) for m in app.broker.middleware)


def test_the_shared_directory_is_the_operators_or_named_after_dramatiqs_main_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in multiproc.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    path, own = multiproc.metrics_dir()
    assert own and path.name == f"syncjobs-metrics-{os.getppid()}"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert multiproc.metrics_dir() == (tmp_path, False)


def test_files_of_processes_that_no_longer_run_are_dropped(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    mine = tmp_path / f"counter_{os.getpid()}.db"
    gone = tmp_path / f"counter_{ended.pid}.db"
    other = tmp_path / "syncjobs-exporter.json"
    for file in (mine, gone, other):
        file.write_bytes(b"x")
    multiproc._drop_dead(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])
