"""A host's own Dramatiq middleware sees every failed attempt; the ledger still owns retries."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from pydantic import BaseModel

from syncjobs import JobStatus, RateLimitedError
from syncjobs.core.registry import Registry, job_type

from ..conftest import AppFactory, run_until_idle


class Recorder(Middleware):
    """What an error reporter or a metrics exporter sees: each message's outcome."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str | None]] = []

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        name = type(exception).__name__ if exception is not None else None
        self.outcomes.append((message.actor_name, name))


class Times(BaseModel):
    fail: int = 0


@pytest.fixture
def attempts(test_registry: Registry) -> dict[str, int]:
    seen = {"n": 0}

    @job_type("t.fails_then_works", params=Times, max_retries=3, registry=test_registry)
    def fails_then_works(ctx: Any, p: Times) -> int:
        seen["n"] += 1
        if seen["n"] <= p.fail:
            raise ValueError(f"attempt {seen['n']} breaks")
        return seen["n"]

    @job_type("t.rate_limited_once", params=Times, registry=test_registry)
    def rate_limited_once(ctx: Any, p: Times) -> str:
        seen["n"] += 1
        if seen["n"] == 1:
            raise RateLimitedError("slow down", retry_after=0.05)
        return "ok"

    return seen


@pytest.mark.parametrize("added", ["before", "after"])
def test_the_hosts_middleware_sees_each_failed_attempt_and_dramatiq_never_retries(
    make_app: AppFactory, attempts: dict[str, int], added: str
) -> None:
    recorder = Recorder()
    app = make_app(retry_min_backoff=0.01, retry_max_backoff=0.02)
    if added == "before":  # whichever order the host's middleware is added in
        app.broker.middleware.insert(0, recorder)
    else:
        app.broker.add_middleware(recorder)
    job = app.submit("t.fails_then_works", owner_id="u1", params={"fail": 2})
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert (done.status, done.result, done.attempts, done.retry_count) == (
        JobStatus.COMPLETED,
        3,
        3,
        2,
    )
    mine = [o[1] for o in recorder.outcomes if o[0] == app.binding.actor_name(job.job_type)]
    assert mine == ["ValueError", "ValueError", None]
    assert attempts["n"] == 3  # three runs: the ledger's retries only, none of Dramatiq's
    assert app.broker.dead_letters == []  # the ledger owns dead letters, not Dramatiq


def test_a_job_that_fails_for_good_is_an_error_for_the_host_and_a_dead_letter_in_the_ledger(
    make_app: AppFactory, attempts: dict[str, int]
) -> None:
    recorder = Recorder()
    app = make_app(default_max_retries=0)
    app.broker.add_middleware(recorder)
    job = app.submit("t.fails_then_works", owner_id="u1", params={"fail": 9})
    run_until_idle(app)
    failed = app.status(job.id, owner_id="u1")
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "internal_error")
    mine = [o[1] for o in recorder.outcomes if o[0] == app.binding.actor_name(job.job_type)]
    assert mine == ["ValueError"] * 4  # max_retries=3 on the job type: four attempts, all seen
    assert [d.job_id for d in app.dead_letters()] == [job.id]
    assert app.broker.dead_letters == []


def test_waiting_out_a_rate_limit_is_seen_but_not_an_error_for_dramatiq(
    make_app: AppFactory, attempts: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    app = make_app()
    app.broker.add_middleware(recorder)
    job = app.submit("t.rate_limited_once", owner_id="u1")
    with caplog.at_level("INFO"):
        run_until_idle(app)
    assert app.status(job.id, owner_id="u1").status is JobStatus.COMPLETED
    mine = [o[1] for o in recorder.outcomes if o[0] == app.binding.actor_name(job.job_type)]
    assert mine == ["RateLimitedError", None]
    told = [r for r in caplog.records if "RateLimitedError" in r.getMessage()]
    assert told and all(r.levelname == "INFO" for r in told)  # expected: no error to report
