"""A job's life on the stub broker: submit, run, progress, retries, failure, cancellation."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

import syncjobs
from syncjobs import (
    ConcurrencyLimitError,
    ConfigurationError,
    InvalidInputError,
    JobCancelledError,
    JobContext,
    JobNotFoundError,
    JobStatus,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitedError,
)
from syncjobs.clock import utcnow
from syncjobs.core.registry import JobType, Registry, job_type
from syncjobs.storage import InMemoryRepository

from ..conftest import AppFactory, run_until_idle


class Numbers(BaseModel):
    n: int = Field(ge=0, le=1000)
    label: str = "x"


@pytest.fixture
def jobs(test_registry: Registry) -> dict[str, Any]:
    """Declare the test job types on the test registry; returns shared state."""
    state: dict[str, Any] = {"calls": 0, "fail_times": 0, "error": None, "started": None}

    @job_type("t.square", params=Numbers, registry=test_registry)
    def square(ctx: JobContext, p: Numbers) -> dict[str, int]:
        for i in range(p.n):
            ctx.progress(i + 1, p.n, f"step {i + 1}")
        ctx.log(f"squared {p.n}")
        return {"square": p.n * p.n}

    @job_type("t.flaky", params=Numbers, max_retries=2, registry=test_registry)
    def flaky(ctx: JobContext, p: Numbers) -> int:
        state["calls"] += 1
        if state["calls"] <= state["fail_times"]:
            raise state["error"]
        return state["calls"]

    @job_type("t.wait", params=Numbers, registry=test_registry)
    def wait(ctx: JobContext, p: Numbers) -> str:
        state["started"].set()
        for _ in range(500):
            ctx.check_cancelled()
            time.sleep(0.01)
        return "never cancelled"

    @job_type("t.parent", params=Numbers, then="t.child", registry=test_registry)
    def parent(ctx: JobContext, p: Numbers) -> dict[str, int]:
        return {"n": p.n + 1}

    @job_type("t.child", params=Numbers, registry=test_registry)
    def child(ctx: JobContext, p: Numbers) -> int:
        return p.n * 10

    @job_type("t.report", params=Numbers, then="t.child", registry=test_registry)
    def report(ctx: JobContext, p: Numbers) -> dict[str, Any]:
        # More than t.child declares: the follow-up gets only ``n`` and ``label``.
        return {"n": p.n, "label": "from-report", "rows": [1, 2], "elapsed": 0.5}

    @job_type("t.orphan", params=Numbers, then="t.chlid", registry=test_registry)
    def orphan(ctx: JobContext, p: Numbers) -> dict[str, int]:
        return {"n": p.n}

    state["started"] = threading.Event()
    return state


def test_submit_returns_pending_and_the_job_completes_with_its_result(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    app = make_app()
    job = syncjobs.submit("t.square", owner_id="u1", params={"n": 4})
    assert job.status is JobStatus.PENDING and job.params == {"n": 4, "label": "x"}
    run_until_idle(app)
    done = syncjobs.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED
    assert done.result == {"square": 16}
    assert (done.progress_done, done.progress_total, done.progress_percent) == (4, 4, 100.0)
    assert done.attempts == 1 and done.started_at and done.completed_at
    assert [ln.message for ln in syncjobs.log(job.id, owner_id="u1")] == ["squared 4"]


def test_watch_yields_every_progress_step_in_order(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    app = make_app()
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 5, "step": 0.05})
    seen: list[tuple[str, int | None]] = []

    def follow() -> None:
        for j in app.watch(job.id, owner_id="u1", timeout=20):
            seen.append((j.status.value, j.progress_done))

    watcher = threading.Thread(target=follow)
    watcher.start()
    time.sleep(0.1)
    run_until_idle(app)
    watcher.join(20)
    dones = [d for s, d in seen if s == "processing" and d is not None]
    # Steps 50 ms apart are each seen; the last may coalesce with completion.
    assert dones[:4] == [1, 2, 3, 4] and dones == sorted(dones)
    assert seen[0] == ("pending", None) and seen[-1] == ("completed", 5)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"n": "many"}, "n"), ({"n": -1}, "n"), ({}, "n"), ({"n": 1, "label": ["a"]}, "label")],
)
def test_invalid_params_are_refused_before_anything_is_written(
    make_app: AppFactory, jobs: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    repo = InMemoryRepository()
    make_app(repo)
    with pytest.raises(InvalidInputError) as info:
        syncjobs.submit("t.square", owner_id="u1", params=params)
    assert [e["loc"][0] for e in info.value.errors] == [field]
    assert field in str(info.value)
    assert repo.list_jobs(owner_id="u1") == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"job_type": "no.such.job"}, InvalidInputError),
        ({"owner_id": ""}, InvalidInputError),
        ({"owner_id": 42}, InvalidInputError),
        ({"owner_id": "a\x00b"}, InvalidInputError),
        ({"priority": 0}, InvalidInputError),
        ({"priority": 11}, InvalidInputError),
        ({"delay": -1}, InvalidInputError),
        ({"delay": timedelta(days=30)}, InvalidInputError),
        ({"params": {"n": 1, "label": "x" * 70000}}, InvalidInputError),
        ({"params": [1, 2]}, InvalidInputError),
        ({"params": {"n": 1, "label": "\udcff"}}, InvalidInputError),
        ({"idempotency_key": ""}, InvalidInputError),
    ],
)
def test_bad_submit_arguments_get_a_clear_error_and_write_nothing(
    make_app: AppFactory, jobs: dict[str, Any], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    repo = InMemoryRepository()
    app = make_app(repo)
    args: dict[str, Any] = {"job_type": "t.square", "owner_id": "u1", "params": {"n": 1}}
    args.update(kwargs)
    with pytest.raises(error) as info:
        app.submit(args.pop("job_type"), **args)
    assert str(info.value)
    assert repo.list_jobs(owner_id="u1") == []


def test_an_unknown_job_type_is_the_callers_mistake_with_a_short_hint(
    make_app: AppFactory, jobs: Any
) -> None:
    repo = InMemoryRepository()
    app = make_app(repo)
    with pytest.raises(InvalidInputError) as typo:
        app.submit("t.sqare", owner_id="u1", params={"n": 1})
    assert str(typo.value) == "unknown job type 't.sqare'; did you mean 't.square'?"
    with pytest.raises(InvalidInputError) as unknown:
        app.submit("zzzz", owner_id="u1")
    assert str(unknown.value) == "unknown job type 'zzzz'"  # no list of every job type
    with pytest.raises(InvalidInputError, match="did you mean 'sync_account'"):
        syncjobs.submit("sync_acount", owner_id="u1", params={"account_id": "a1"})
    assert repo.list_jobs(owner_id="u1") == []


def test_params_fields_the_model_does_not_declare_are_refused(make_app: AppFactory) -> None:
    repo = InMemoryRepository()
    app = make_app(repo)
    with pytest.raises(InvalidInputError) as extra:
        app.submit("syncjobs.count", owner_id="u1", params={"to": 20, "delay": 0.2})
    assert str(extra.value) == (
        "invalid params for syncjobs.count: delay: unknown field (the fields are: step, to)"
    )
    assert extra.value.errors == [
        {
            "loc": ["delay"],
            "msg": "unknown field (the fields are: step, to)",
            "type": "extra_forbidden",
        }
    ]
    with pytest.raises(InvalidInputError) as typo:
        app.submit("syncjobs.count", owner_id="u1", params={"to": 20, "stpe": 0.2})
    assert "stpe: unknown field; did you mean 'step'?" in str(typo.value)
    with pytest.raises(InvalidInputError) as both:  # every problem at once
        app.submit("syncjobs.count", owner_id="u1", params={"to": "many", "stpe": 1, "x": 2})
    assert [e["loc"] for e in both.value.errors] == [["stpe"], ["x"], ["to"]]
    with pytest.raises(InvalidInputError, match="this job type takes no params"):
        app.submit("syncjobs.noop", owner_id="u1", params={"n": 1})
    assert repo.list_jobs(owner_id="u1") == []
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 20, "step": 0.2})
    assert job.params == {"to": 20, "step": 0.2}


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    account_id: str = Field(alias="accountId")
    full: bool = Field(default=False, validation_alias=AliasChoices("full", "fullSync"))


class AliasOnly(BaseModel):
    account_id: str = Field(alias="accountId")


class KeepsExtras(BaseModel):
    model_config = ConfigDict(extra="allow")

    n: int = 0


class ForbidsExtras(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = 0


class IgnoresExtras(BaseModel):
    model_config = ConfigDict(extra="ignore")

    n: int = 0


def _noop(ctx: JobContext, p: BaseModel) -> None:
    return None


def test_field_aliases_count_as_declared(make_app: AppFactory, test_registry: Registry) -> None:
    job_type("t.aliased", params=Aliased, registry=test_registry)(_noop)
    job_type("t.alias_only", params=AliasOnly, registry=test_registry)(_noop)
    app = make_app()
    for params in ({"accountId": "a1", "fullSync": True}, {"account_id": "a1", "full": True}):
        job = app.submit("t.aliased", owner_id="u1", params=params)
        assert job.params == {"account_id": "a1", "full": True}
    assert app.submit("t.alias_only", owner_id="u1", params={"accountId": "a1"}).params == {
        "account_id": "a1"
    }
    with pytest.raises(InvalidInputError) as by_name:  # pydantic would not read it by name
        app.submit("t.alias_only", owner_id="u1", params={"account_id": "a1"})
    assert [e["loc"] for e in by_name.value.errors] == [["account_id"], ["accountId"]]
    assert "did you mean 'accountId'?" in str(by_name.value)


def test_a_model_that_sets_extra_itself_decides(
    make_app: AppFactory, test_registry: Registry
) -> None:
    job_type("t.keeps", params=KeepsExtras, registry=test_registry)(_noop)
    job_type("t.forbids", params=ForbidsExtras, registry=test_registry)(_noop)
    job_type("t.ignores", params=IgnoresExtras, registry=test_registry)(_noop)
    app = make_app()
    kept = app.submit("t.keeps", owner_id="u1", params={"n": 1, "note": "hi"})
    assert kept.params == {"n": 1, "note": "hi"}
    with pytest.raises(InvalidInputError) as forbidden:
        app.submit("t.forbids", owner_id="u1", params={"n": 1, "note": "hi"})
    assert forbidden.value.errors == [
        {"loc": ["note"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]
    assert "note: Extra inputs are not permitted" in str(forbidden.value)
    ignored = app.submit("t.ignores", owner_id="u1", params={"n": 1, "note": "hi"})
    assert ignored.params == {"n": 1}


def test_a_job_type_may_opt_in_to_ignoring_undeclared_params(
    make_app: AppFactory, test_registry: Registry
) -> None:
    job_type("t.lenient", params=Numbers, extra_params="ignore", registry=test_registry)(_noop)
    assert test_registry.get("t.lenient").extra_params == "ignore"
    assert test_registry.get("syncjobs.count").extra_params == "reject"
    app = make_app()
    job = app.submit("t.lenient", owner_id="u1", params={"n": 2, "delay": 0.2})
    assert job.params == {"n": 2, "label": "x"}
    drop: Any = "drop"
    with pytest.raises(ConfigurationError, match="extra_params must be 'reject' or 'ignore'"):
        job_type("t.bad", params=Numbers, extra_params=drop, registry=test_registry)
    with pytest.raises(ConfigurationError, match="extra_params must be 'reject' or 'ignore'"):
        test_registry.add(JobType("t.bad", _noop, Numbers, extra_params=drop))
    with pytest.raises(ConfigurationError, match="contradicts its params model's extra='forbid'"):
        job_type("t.bad", params=ForbidsExtras, extra_params="ignore", registry=test_registry)
    assert "t.bad" not in test_registry


def test_same_idempotency_key_returns_the_same_job(make_app: AppFactory, jobs: Any) -> None:
    app = make_app()
    a = app.submit("t.square", owner_id="u1", params={"n": 1}, idempotency_key="sync-42")
    b = app.submit("t.square", owner_id="u1", params={"n": 1}, idempotency_key="sync-42")
    assert a.id == b.id
    assert len(app.jobs("u1")) == 1


def test_the_active_job_limit_is_per_owner(make_app: AppFactory, jobs: Any) -> None:
    app = make_app(max_active_jobs_per_owner=2)
    app.submit("t.square", owner_id="u1", params={"n": 1})
    app.submit("t.square", owner_id="u1", params={"n": 1})
    with pytest.raises(ConcurrencyLimitError):
        app.submit("t.square", owner_id="u1", params={"n": 1})
    app.submit("t.square", owner_id="u2", params={"n": 1})
    run_until_idle(app)
    app.submit("t.square", owner_id="u1", params={"n": 1})  # finished jobs free the slots


def test_another_owners_job_is_not_found_and_leaks_nothing(make_app: AppFactory, jobs: Any) -> None:
    app = make_app()
    job = app.submit("t.square", owner_id="alice", params={"n": 1})
    for call in (app.status, app.cancel, app.retry, app.log):
        with pytest.raises(JobNotFoundError) as info:
            call(job.id, owner_id="mallory")
        assert "alice" not in str(info.value)
    with pytest.raises(JobNotFoundError):
        app.status(str(uuid.uuid4()), owner_id="alice")
    with pytest.raises(InvalidInputError, match="malformed job id"):
        app.status("1; DROP TABLE jobs", owner_id="alice")


def test_transient_errors_retry_with_backoff_then_complete(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=2, error=ProviderUnavailableError("503 from provider"))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and done.result == 3
    assert (done.retry_count, done.attempts) == (2, 3)


def test_a_job_out_of_retries_fails_and_is_dead_lettered(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=99, error=ProviderUnavailableError("still down"))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 7})
    run_until_idle(app)
    failed = app.status(job.id, owner_id="u1")
    assert failed.status is JobStatus.FAILED
    assert (failed.error_code, failed.error_message) == ("provider_unavailable", "still down")
    assert jobs["calls"] == 3  # the first run and max_retries=2 retries
    [letter] = app.dead_letters(owner_id="u1")
    assert (letter.job_id, letter.params, letter.error_code) == (
        job.id,
        {"n": 7, "label": "x"},
        "provider_unavailable",
    )


def test_fatal_errors_fail_at_once(make_app: AppFactory, jobs: dict[str, Any]) -> None:
    jobs.update(fail_times=1, error=PermissionDeniedError("no access", provider="youtube"))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    failed = app.status(job.id, owner_id="u1")
    assert (failed.status, failed.error_code, jobs["calls"]) == (
        JobStatus.FAILED,
        "permission_denied",
        1,
    )


def test_unexpected_exceptions_are_retried_with_their_type_in_the_message(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=1, error=KeyError("missing"))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and done.retry_count == 1
    [line] = app.log(job.id, owner_id="u1")
    assert line.level == "warning"
    assert "attempt 1 failed (internal_error: KeyError: 'missing'); retry at" in line.message


def test_rate_limits_wait_exactly_retry_after_without_spending_a_retry(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=3, error=RateLimitedError("slow down", retry_after=0.3))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    started = time.monotonic()
    with app.worker(threads=1):
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            current = app.status(job.id, owner_id="u1")
            if current.status is JobStatus.PENDING and current.error_code == "rate_limited":
                wait = (current.scheduled_for - current.updated_at).total_seconds()
                assert wait == pytest.approx(0.3, abs=0.01)
                break
            time.sleep(0.01)
        else:
            pytest.fail("the rate-limited job was not rescheduled")
        run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and done.result == 4
    assert done.retry_count == 0  # three rate limits, max_retries=2: none was spent
    assert time.monotonic() - started >= 0.9


def test_cancelling_a_pending_job_means_it_never_runs(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    cancelled = app.cancel(job.id, owner_id="u1")
    assert cancelled.status is JobStatus.CANCELLED
    run_until_idle(app)
    assert jobs["calls"] == 0
    assert app.status(job.id, owner_id="u1").status is JobStatus.CANCELLED


def test_cancelling_a_running_job_stops_it_at_its_next_check(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    app = make_app()
    job = app.submit("t.wait", owner_id="u1", params={"n": 1})
    with app.worker(threads=1):
        assert jobs["started"].wait(10)
        app.cancel(job.id, owner_id="u1")
        final = list(app.watch(job.id, owner_id="u1", timeout=10))[-1]
    assert final.status is JobStatus.CANCELLED and final.error_code == "cancelled"


def test_job_cancelled_error_raised_by_the_body_ends_cancelled(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=1, error=JobCancelledError())
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    assert app.status(job.id, owner_id="u1").status is JobStatus.CANCELLED


def test_retry_runs_a_failed_job_again(make_app: AppFactory, jobs: dict[str, Any]) -> None:
    jobs.update(fail_times=1, error=PermissionDeniedError("denied"))
    app = make_app()
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    assert app.status(job.id, owner_id="u1").status is JobStatus.FAILED
    with pytest.raises(InvalidInputError):
        app.retry(str(app.submit("t.square", owner_id="u1", params={"n": 0}).id), owner_id="u1")
    again = app.retry(job.id, owner_id="u1")
    assert again.status is JobStatus.PENDING and again.error_code is None
    run_until_idle(app)
    assert app.status(job.id, owner_id="u1").result == 2


def test_a_job_whose_worker_keeps_dying_fails_after_its_attempts(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    repo = InMemoryRepository()
    app = make_app(repo)
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    for _ in range(3):  # three starts that never finished: killed workers
        long_ago = utcnow() - timedelta(minutes=5)
        assert (
            repo.claim_job(job.id, worker_id="dead", now=long_ago, stale_before=utcnow())
            is not None
        )
    run_until_idle(app)
    failed = app.status(job.id, owner_id="u1")
    assert failed.status is JobStatus.FAILED and failed.error_code == "attempts_exhausted"
    assert jobs["calls"] == 0
    assert [d.job_id for d in app.dead_letters()] == [job.id]


def test_a_job_that_expired_before_it_started_fails_as_expired(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    app = make_app(job_expiry=0.05)
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    time.sleep(0.1)
    run_until_idle(app)
    expired = app.status(job.id, owner_id="u1")
    assert (expired.status, expired.error_code, jobs["calls"]) == (JobStatus.FAILED, "expired", 0)


def test_delayed_jobs_wait_for_their_time(make_app: AppFactory, jobs: Any) -> None:
    app = make_app()
    job = app.submit("t.square", owner_id="u1", params={"n": 2}, delay=0.4)
    assert job.scheduled_for is not None
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED
    assert done.started_at >= job.scheduled_for


def test_a_follow_up_job_runs_after_its_parent_and_is_linked(
    make_app: AppFactory, jobs: Any
) -> None:
    app = make_app()
    parent = app.submit("t.parent", owner_id="u1", params={"n": 4})
    run_until_idle(app)
    [child] = app.jobs("u1", job_type="t.child")
    assert child.parent_id == parent.id
    assert child.status is JobStatus.COMPLETED and child.result == 50


def test_a_follow_up_gets_only_the_fields_it_declares_from_its_parents_result(
    make_app: AppFactory, jobs: Any
) -> None:
    app = make_app()
    parent = app.submit("t.report", owner_id="u1", params={"n": 4})
    run_until_idle(app)
    done = app.status(parent.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and "rows" in done.result
    [child] = app.jobs("u1", job_type="t.child")
    assert child.parent_id == parent.id and child.params == {"n": 4, "label": "from-report"}
    assert child.status is JobStatus.COMPLETED and child.result == 40


def test_an_unknown_follow_up_is_a_configuration_error_in_the_log(
    make_app: AppFactory, jobs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    with caplog.at_level(logging.ERROR, logger="syncjobs"):
        parent = app.submit("t.orphan", owner_id="u1", params={"n": 4})
        run_until_idle(app)
    assert app.status(parent.id, owner_id="u1").status is JobStatus.COMPLETED
    assert app.jobs("u1", job_type="t.chlid") == [] and len(app.jobs("u1")) == 1
    [record] = [r for r in caplog.records if "could not submit follow-up" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is ConfigurationError
    assert str(record.exc_info[1]) == (
        "unknown job type 't.chlid' (then= of 't.orphan'); did you mean 't.child'?"
    )


def test_a_ledger_job_of_an_undeclared_type_is_a_configuration_error(
    make_app: AppFactory, jobs: Any
) -> None:
    app = make_app()
    job = app.submit("t.square", owner_id="u1", params={"n": 1}, delay=3600)
    gone = dataclasses.replace(job, job_type="t.retired")
    with pytest.raises(ConfigurationError) as info:
        app.send(gone)
    assert str(info.value) == f"unknown job type 't.retired' (job {job.id} in the ledger)"


def test_jobs_lists_an_owners_jobs_with_filters(make_app: AppFactory, jobs: Any) -> None:
    app = make_app()
    a = app.submit("t.square", owner_id="u1", params={"n": 1})
    b = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    app.submit("t.square", owner_id="u2", params={"n": 1})
    assert {j.id for j in app.jobs("u1")} == {a.id, b.id}
    assert [j.id for j in app.jobs("u1", job_type="t.flaky")] == [b.id]
    assert app.jobs("u1", status="completed") == []
    with pytest.raises(InvalidInputError):
        app.jobs("u1", status="finished")


def test_disabled_background_jobs_refuse_submits(make_app: AppFactory, jobs: Any) -> None:
    app = make_app(enabled=False)
    with pytest.raises(ConfigurationError, match="disabled"):
        app.submit("t.square", owner_id="u1", params={"n": 1})


def test_eta_follows_the_progress_rate() -> None:
    from syncjobs.core.models import Job

    now = utcnow()
    job = Job(
        id="j",
        owner_id="o",
        job_type="t",
        queue="q",
        priority=5,
        params={},
        status=JobStatus.PROCESSING,
        created_at=now,
        updated_at=now,
        started_at=now - timedelta(seconds=10),
        progress_done=25,
        progress_total=100,
    )
    assert job.eta_seconds(now) == 30.0
    assert job.to_dict(now)["eta_seconds"] == 30.0
    assert Job(**{**job.__dict__, "progress_done": 0}).eta_seconds(now) is None
    assert Job(**{**job.__dict__, "status": JobStatus.COMPLETED}).eta_seconds(now) is None


def test_importing_syncjobs_creates_no_broker() -> None:
    code = (
        "import dramatiq.broker as b, syncjobs, syncjobs.builtin_jobs, syncjobs.storage;"
        "assert b.global_broker is None, b.global_broker"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_syncjobs_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, syncjobs;"
        "heavy = ('sqlalchemy', 'dramatiq', 'httpx', 'cryptography', 'pydantic', 'redis',"
        " 'psycopg', 'periodiq', 'rich', 'typer');"
        "loaded = sorted(m for m in heavy if m in sys.modules);"
        "assert not loaded, loaded;"
        "assert syncjobs.JobStatus.PENDING == 'pending' and callable(syncjobs.submit)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_api_is_pinned() -> None:
    assert sorted(syncjobs.__all__) == sorted(
        [
            "Account",
            "AccountState",
            "Notification",
            "TokenSet",
            "accounts",
            "connect_account",
            "disconnect_account",
            "sync_account",
            "health",
            "schedules",
            "AccountNotFoundError",
            "ConcurrencyLimitError",
            "ConfigurationError",
            "Deps",
            "FatalError",
            "InvalidInputError",
            "Job",
            "JobCancelledError",
            "JobContext",
            "JobNotFoundError",
            "JobSpec",
            "JobStatus",
            "LogLine",
            "PermissionDeniedError",
            "ProviderError",
            "ProviderUnavailableError",
            "RateLimitedError",
            "ReauthorizationRequiredError",
            "RetriableError",
            "SchemaOutdatedError",
            "Settings",
            "SyncJobs",
            "SyncJobsError",
            "UnexpectedResponseError",
            "__version__",
            "cancel",
            "create_app",
            "job_type",
            "jobs",
            "log",
            "register_actors",
            "retry",
            "status",
            "submit",
            "submit_many",
            "watch",
            # the extras: analysis, trust, usage, notifications
            "Analyzer",
            "Notifier",
            "Decision",
            "DigestFrequency",
            "Preferences",
            "QueuedItem",
            "TrustScore",
            "UsagePeriod",
            "UsageRecord",
            "Verdict",
            "notify",
            "notifications",
            "mark_read",
            "preferences",
            "set_preferences",
            "trust_scores",
            "usage",
            # connect flows
            "begin_connect",
            "complete_connect",
            "ConnectStart",
            "Connected",
            "AccountMismatchError",
            "ConnectStateError",
            "ConsentDeniedError",
            "MissingScopesError",
        ]
    )
    for name in syncjobs.__all__:
        assert hasattr(syncjobs, name)
    for module in ("builtin_jobs", "api", "app", "core", "connections", "insights", "storage"):
        importlib.import_module(f"syncjobs.{module}")  # a submodule must not shadow a function
    assert callable(syncjobs.jobs) and callable(syncjobs.log)


def test_a_job_waiting_out_a_rate_limit_does_not_expire(
    make_app: AppFactory, jobs: dict[str, Any]
) -> None:
    jobs.update(fail_times=1, error=RateLimitedError("quota", retry_after=0.4))
    app = make_app(job_expiry=0.2)
    job = app.submit("t.flaky", owner_id="u1", params={"n": 1})
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and done.result == 2


def test_an_empty_expiry_setting_means_never(monkeypatch: pytest.MonkeyPatch) -> None:
    from syncjobs.settings import Settings

    monkeypatch.setenv("SYNCJOBS_JOB_EXPIRY", "")
    assert Settings().job_expiry is None
