"""The worker's log: one INFO line per job start and end, and the JSON log format."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from syncjobs import JobContext, JobStatus, SyncJobs
from syncjobs.core.registry import Registry, job_type
from syncjobs.errors import FatalError
from syncjobs.logs import JOB_FIELDS, JsonFormatter, apply_log_format
from syncjobs.settings import Settings

from ..conftest import AppFactory, run_until_idle


class NoParams(BaseModel):
    pass


@pytest.fixture
def app(make_app: AppFactory, test_registry: Registry) -> SyncJobs:
    @job_type("test.boom", params=NoParams, max_retries=0, registry=test_registry)
    def boom(ctx: JobContext, params: NoParams) -> None:
        raise FatalError("the provider said no")

    return make_app()


def worker_records(caplog: pytest.LogCaptureFixture, job_id: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "syncjobs.worker" and r.__dict__["job_id"] == job_id
    ]


def test_a_job_logs_one_info_line_when_it_starts_and_one_when_it_ends(
    app: SyncJobs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncjobs.worker")
    job = app.submit("syncjobs.count", owner_id="o1", params={"to": 2})
    run_until_idle(app)
    assert app.status(job.id, owner_id="o1").status is JobStatus.COMPLETED
    started, ended = worker_records(caplog, job.id)
    assert (started.levelno, ended.levelno) == (logging.INFO, logging.INFO)
    assert started.getMessage() == f"job {job.id} started: syncjobs.count for owner o1, attempt 1"
    assert ended.getMessage().startswith(
        f"job {job.id} completed: syncjobs.count for owner o1, attempt 1, "
    )
    for record in (started, ended):
        fields = record.__dict__
        assert (fields["job_id"], fields["job_type"], fields["owner_id"], fields["attempt"]) == (
            job.id,
            "syncjobs.count",
            "o1",
            1,
        )
    assert ended.__dict__["outcome"] == "completed" and ended.__dict__["error_code"] is None
    assert isinstance(ended.__dict__["duration"], float) and ended.__dict__["duration"] >= 0


def test_a_failed_job_logs_its_outcome_and_error_code(
    app: SyncJobs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="syncjobs.worker")
    job = app.submit("test.boom", owner_id="o2")
    run_until_idle(app)
    assert app.status(job.id, owner_id="o2").status is JobStatus.FAILED
    _, ended = worker_records(caplog, job.id)
    assert ended.__dict__["outcome"] == "failed"
    assert ended.__dict__["error_code"] == FatalError.code
    assert f"job {job.id} failed ({FatalError.code}): test.boom" in ended.getMessage()


def test_a_retried_job_logs_retrying_then_a_second_attempt(
    make_app: AppFactory, test_registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    @job_type("test.flaky", params=NoParams, max_retries=2, registry=test_registry)
    def flaky(ctx: JobContext, params: NoParams) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt breaks")
        return "ok"

    app = make_app()
    caplog.set_level(logging.INFO, logger="syncjobs.worker")
    job = app.submit("test.flaky", owner_id="o3")
    run_until_idle(app)
    assert app.status(job.id, owner_id="o3").status is JobStatus.COMPLETED
    records = worker_records(caplog, job.id)
    ends = [
        (r.__dict__["attempt"], r.__dict__["outcome"]) for r in records if "outcome" in r.__dict__
    ]
    assert ends == [(1, "retried"), (2, "completed")]
    assert records[1].__dict__["error_code"] == "internal_error"


def test_the_json_formatter_writes_one_object_per_line_with_the_job_fields() -> None:
    record = logging.LogRecord(
        "syncjobs.worker", logging.INFO, __file__, 1, "job %s completed", ("j1",), None
    )
    values = {
        "job_id": "j1",
        "job_type": "sync_account",
        "owner_id": "o1",
        "attempt": 2,
        "duration": 1.25,
        "outcome": "completed",
    }
    record.__dict__.update(values)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "job j1 completed"
    assert (data["level"], data["logger"]) == ("INFO", "syncjobs.worker")
    assert {k: data[k] for k in values} == values
    assert "error_code" not in data  # unset fields are left out
    assert data["time"].endswith("+00:00")
    assert set(values) < set(JOB_FIELDS)


def test_the_json_formatter_keeps_a_traceback_on_its_one_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.LogRecord(
            "syncjobs.tracking", logging.ERROR, __file__, 1, "oops", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    data = json.loads(line)
    assert "ValueError: bad" in data["exception"] and "Traceback" in data["exception"]


@pytest.fixture
def root_handler() -> Iterator[logging.Handler]:
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def test_log_format_json_gives_the_root_handlers_the_json_formatter(
    root_handler: logging.Handler,
) -> None:
    apply_log_format(Settings(log_format="text"))
    assert not isinstance(root_handler.formatter, JsonFormatter)
    apply_log_format(Settings(log_format="json"))
    assert isinstance(root_handler.formatter, JsonFormatter)
