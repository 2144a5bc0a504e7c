"""Ledger metrics: the gauges a scrape of the dashboard's /metrics reads from the ledger."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from syncjobs import ConfigurationError, FatalError, JobContext, JobStatus
from syncjobs.clock import utcnow
from syncjobs.core.builtin_jobs import NoopParams
from syncjobs.core.ledger.store import JobRepository
from syncjobs.core.maintenance import Heartbeat
from syncjobs.core.registry import Registry, job_type
from syncjobs.metrics import WorkerMetrics, ledger_collector, scrape
from syncjobs.storage import InMemoryRepository

from ..conftest import AppFactory, run_until_idle
from .metrics_helpers import parse, series, value


def backdated(app: Any, job_type: str, owner: str, age: float) -> str:
    """Insert a pending job created ``age`` seconds ago (no message sent)."""
    jt = app.registry.get(job_type)
    new = app.new_job(jt, owner, {"to": 1}, None, None, None, None)
    job, _ = app.repository.create_job(
        dataclasses.replace(new, created_at=utcnow() - timedelta(seconds=age)), active_limit=None
    )
    return str(job.id)


def test_a_scrape_reads_depth_ages_statuses_and_dead_letters(
    make_app: AppFactory, any_repo: JobRepository, test_registry: Registry
) -> None:
    @job_type("m.boom", params=NoopParams, registry=test_registry)
    def boom(ctx: JobContext, p: NoopParams) -> None:
        raise FatalError("boom")

    app = make_app(any_repo)
    backdated(app, "syncjobs.count", "u1", 600)
    backdated(app, "syncjobs.count", "u2", 30)
    done = app.submit("syncjobs.noop", owner_id="u3", params={})
    failing = app.submit("m.boom", owner_id="u4", params={})
    run_until_idle(app)
    assert app.status(done.id, owner_id="u3").status is JobStatus.COMPLETED
    assert app.status(failing.id, owner_id="u4").status is JobStatus.FAILED
    body, content_type = scrape(app)
    s = parse(body)

    assert content_type.startswith("text/plain; version=0.0.4")
    assert value(s, "syncjobs_ledger_up") == 1
    assert value(s, "syncjobs_queue_depth", job_type="syncjobs.count") == 2
    assert value(s, "syncjobs_oldest_pending_age_seconds", job_type="syncjobs.count") == (
        pytest.approx(600, abs=30)
    )
    assert value(s, "syncjobs_oldest_pending_age_seconds", job_type="syncjobs.noop") == 0
    assert value(s, "syncjobs_jobs_processing", job_type="syncjobs.count") == 0
    jobs = {
        (dict(k)["job_type"], dict(k)["status"]): v for k, v in series(s, "syncjobs_jobs").items()
    }
    assert {k: v for k, v in jobs.items() if v} == {
        ("syncjobs.count", "pending"): 2,
        ("m.boom", "failed"): 1,
        ("syncjobs.noop", "completed"): 1,
    }
    assert {status for _, status in jobs} == {s.value for s in JobStatus}
    assert value(s, "syncjobs_ledger_dead_letters", job_type="m.boom") == 1
    assert value(s, "syncjobs_ledger_dead_letters", job_type="syncjobs.noop") == 0


def test_health_and_heartbeat_ages(make_app: AppFactory) -> None:
    repo = InMemoryRepository()
    app = make_app(repo, health_max_age=180)
    never = parse(scrape(app)[0])
    assert value(never, "syncjobs_healthy") == 0
    assert math.isinf(value(never, "syncjobs_worker_last_seen_age_seconds"))
    assert math.isinf(value(never, "syncjobs_scheduler_last_seen_age_seconds"))

    Heartbeat(app).beat()
    repo.heartbeat("tick", "scheduler", job_ids=[], now=utcnow() - timedelta(seconds=90))
    fresh = parse(scrape(app)[0])
    assert value(fresh, "syncjobs_healthy") == 1
    assert value(fresh, "syncjobs_worker_last_seen_age_seconds") == pytest.approx(0, abs=30)
    assert value(fresh, "syncjobs_scheduler_last_seen_age_seconds") == pytest.approx(90, abs=30)

    repo.heartbeat("tick", "scheduler", job_ids=[], now=utcnow() - timedelta(seconds=900))
    stale = parse(scrape(app)[0])
    assert value(stale, "syncjobs_healthy") == 0  # past health_max_age
    assert value(stale, "syncjobs_scheduler_last_seen_age_seconds") == pytest.approx(900, abs=30)


class BrokenLedger(InMemoryRepository):
    """A ledger whose counts cannot be read (the database went away)."""

    def job_counts(self) -> dict[str, dict[str, Any]]:
        raise ConnectionError("the database is unreachable")


def test_an_unreadable_ledger_still_answers_with_up_zero(make_app: AppFactory) -> None:
    app = make_app(BrokenLedger())
    s = parse(scrape(app)[0])
    assert s == {("syncjobs_ledger_up", frozenset()): 0}


def test_a_hosts_registry_takes_the_collector_and_openmetrics_is_negotiated(
    make_app: AppFactory,
) -> None:
    app = make_app()
    app.submit("syncjobs.noop", owner_id="u1", params={})
    registry = CollectorRegistry()
    registry.register(ledger_collector(app))
    s = parse(generate_latest(registry))
    assert value(s, "syncjobs_queue_depth", job_type="syncjobs.noop") == 1
    body, content_type = scrape(app, accept="application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


class NoUpkeep:
    """A ledger without the upkeep concern."""


def test_a_ledger_without_upkeep_is_a_configuration_error(make_app: AppFactory) -> None:
    app = make_app()
    app.repository = NoUpkeep()  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="UpkeepRepository"):
        scrape(app)


def _emitted_names(app: Any) -> set[str]:
    """The sample names the worker middleware and the ledger collector can emit."""
    names = set()
    for family in WorkerMetrics(app).registry.collect():
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    names |= {family.name for family in ledger_collector(app).describe()}
    return names


def test_the_docs_list_every_metric_and_the_alert_rules_use_real_ones(
    make_app: AppFactory,
) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(syncjobs_\w+)` \|", text, re.MULTILINE))
    emitted = _emitted_names(make_app())
    assert documented == emitted
    [rules] = re.findall(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    groups = yaml.safe_load(rules)["groups"]
    exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    assert len(exprs) >= 5
    for expr in exprs:
        for name in re.findall(r"syncjobs_\w+", expr):
            assert re.sub(r"_(bucket|count|sum)$", "", name) in emitted, name
