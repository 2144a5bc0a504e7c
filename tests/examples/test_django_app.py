"""examples/django_app: the Django project through Django's test client, with a real worker.

Django keeps its own data (the ``Report`` rows) in a SQLite file of the session; syncjobs'
ledger is the test's PostgreSQL and its broker the test's Redis (the ``env`` fixture). The
views run in this process; a ``dramatiq syncjobs.actors`` worker process, with the same
settings and ``SYNCJOBS_IMPORTS='["examples.django_app.jobs"]'``, runs the jobs where a test
needs them to run. Because the ledger is another database than Django's, a job submitted
inside a Django transaction does not roll back with it: ``on_commit`` is the way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.test import Client

import syncjobs
from syncjobs import InvalidInputError, Job, JobStatus
from syncjobs.contrib.transactions import submit_after
from syncjobs.core import current as _current
from syncjobs.core.registry import default_registry

from ..integration.conftest import Workers, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "examples.django_app.settings"
JOBS_MODULE = "examples.django_app.jobs"
IMPORTS = f'["{JOBS_MODULE}"]'
BUILD_REPORT = "example.build_report"


class Rollback(Exception):
    """Raised inside ``transaction.atomic()`` to roll it back."""


@pytest.fixture(scope="session")
def django_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Django set up once with the example's settings, its tables in a SQLite file."""
    path = tmp_path_factory.mktemp("django") / "django.db"
    saved = {key: os.environ.get(key) for key in ("DJANGO_SETTINGS_MODULE", "EXAMPLE_DJANGO_DB")}
    os.environ.update(DJANGO_SETTINGS_MODULE=SETTINGS, EXAMPLE_DJANGO_DB=str(path))
    try:  # the settings are read once, here
        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return path


@pytest.fixture
def django_env(
    env: dict[str, str], django_db: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The settings of the web side (this process) and of the worker.

    The job module is imported afresh in each test and the global registry restored after
    it, so the example's job type never leaks into other tests. The app that the views build
    (the current one) is closed at the end.
    """
    monkeypatch.setattr(default_registry, "_types", dict(default_registry._types))
    sys.modules.pop(JOBS_MODULE, None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SYNCJOBS_IMPORTS", IMPORTS)
    try:
        yield {
            **env,
            "SYNCJOBS_IMPORTS": IMPORTS,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "EXAMPLE_DJANGO_DB": str(django_db),
            "PYTHONPATH": str(ROOT),
        }
    finally:
        app = _current.current_app()
        _current.set_app(None)
        if app is not None:
            app.close()
        sys.modules.pop(JOBS_MODULE, None)


@pytest.fixture
def reports(django_env: dict[str, str]) -> Any:
    """The example's ``Report`` model (importable only once Django is set up)."""
    from examples.django_app.models import Report

    return Report


def start_worker(workers: Workers, django_env: dict[str, str]) -> None:
    workers.start(queues="default,syncjobs", **django_env)


def http(owner: str | None = "u1") -> Client:
    """Django's test client, as the user ``owner`` (no header when None)."""
    return Client(SERVER_NAME="localhost", headers={"X-Owner-Id": owner} if owner else {})


def finished(job_id: str, owner: str) -> Job:
    """The job once it completed, failed or was cancelled."""
    wait_for(lambda: syncjobs.status(job_id, owner_id=owner).is_terminal, 120)
    return syncjobs.status(job_id, owner_id=owner)


def test_a_report_answers_202_with_its_status_url_and_its_job_runs(
    django_env: dict[str, str], workers: Workers, reports: Any
) -> None:
    start_worker(workers, django_env)
    response = http().post(
        "/reports", {"title": "  Weekly numbers report "}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    job_id = body["job_id"]
    assert body["status_url"] == f"http://localhost/jobs/{job_id}"
    assert response["Location"] == body["status_url"]
    assert body["job"]["status"] == "pending" and body["job"]["job_type"] == BUILD_REPORT
    assert syncjobs.status(job_id, owner_id="u1").params == {"report_id": body["report_id"]}
    report = reports.objects.get(pk=body["report_id"])
    assert (report.owner, report.title) == ("u1", "Weekly numbers report")

    finished(job_id, "u1")
    status = http().get(f"/jobs/{job_id}")
    assert status.status_code == 200
    done = status.json()
    assert done["status"] == "completed", done
    assert done["progress_percent"] == 100.0
    summary = {"words": 3, "longest_word": "numbers"}
    assert done["result"] == {"report_id": report.pk, "title": report.title, **summary}
    report.refresh_from_db()  # the worker wrote it, through Django's ORM
    assert report.built_at is not None and report.summary == summary


def test_the_status_view_is_for_the_owner_only(django_env: dict[str, str], reports: Any) -> None:
    accepted = http("bob").post("/reports", {"title": "Mine"}, content_type="application/json")
    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["job_id"]
    assert http("bob").get(f"/jobs/{job_id}").json()["status"] == "pending"  # no worker runs

    other = http("someone-else").get(f"/jobs/{job_id}")
    assert other.status_code == 404
    assert other.json()["error"] == "job_not_found"
    assert http("bob").get("/jobs/6f1c6a52-5b0e-4a43-9a40-0d3e4ad2a0d1").status_code == 404
    assert http("bob").get("/jobs/not-a-uuid").status_code == 404  # the URL does not match
    assert http(None).get(f"/jobs/{job_id}").status_code == 401
    assert http("system").get(f"/jobs/{job_id}").status_code == 403
    assert http("bob").get("/reports").status_code == 405

    for body in ({}, {"title": ""}, {"title": 7}, {"title": "x" * 201}):
        refused = http("bob").post("/reports", body, content_type="application/json")
        assert refused.status_code == 422, body
    assert reports.objects.filter(owner="bob").count() == 1
    assert [job.id for job in syncjobs.jobs("bob")] == [job_id]


def test_on_commit_submits_the_job_after_the_commit(
    django_env: dict[str, str], reports: Any
) -> None:
    with transaction.atomic():
        report = reports.objects.create(owner="u2", title="Quarterly")
        pending = submit_after(
            transaction.on_commit, BUILD_REPORT, owner_id="u2", params={"report_id": report.pk}
        )
        # Plain Django works too: the callback runs after the commit.
        transaction.on_commit(
            functools.partial(
                syncjobs.submit, BUILD_REPORT, owner_id="u2", params={"report_id": report.pk}
            )
        )
        assert pending.job is None and not pending.submitted
        assert syncjobs.jobs("u2") == []  # nothing in the ledger before the commit

    assert pending.job is not None
    assert pending.job.params == {"report_id": report.pk}
    listed = syncjobs.jobs("u2")
    assert len(listed) == 2 and pending.job.id in {job.id for job in listed}
    assert {job.status for job in listed} == {JobStatus.PENDING}
    pending()  # a registrar calling back twice still submits once
    assert len(syncjobs.jobs("u2")) == 2

    # Outside a transaction Django runs the callback at once.
    now = submit_after(
        transaction.on_commit, BUILD_REPORT, owner_id="u2", params={"report_id": report.pk}
    )
    assert now.job is not None and now.job.status is JobStatus.PENDING


def test_nothing_is_submitted_when_the_transaction_rolls_back(
    django_env: dict[str, str], reports: Any
) -> None:
    with pytest.raises(Rollback), transaction.atomic():
        report = reports.objects.create(owner="u3", title="Never committed")
        pending = submit_after(
            transaction.on_commit, BUILD_REPORT, owner_id="u3", params={"report_id": report.pk}
        )
        raise Rollback
    assert pending.job is None
    assert not reports.objects.filter(owner="u3").exists()
    assert syncjobs.jobs("u3") == []

    # A savepoint that rolls back drops its callbacks; the outer transaction keeps its own.
    with transaction.atomic():
        kept = reports.objects.create(owner="u3", title="Kept")
        outer = submit_after(
            transaction.on_commit, BUILD_REPORT, owner_id="u3", params={"report_id": kept.pk}
        )
        with contextlib.suppress(Rollback), transaction.atomic():
            dropped = reports.objects.create(owner="u3", title="Dropped")
            inner = submit_after(
                transaction.on_commit, BUILD_REPORT, owner_id="u3", params={"report_id": dropped.pk}
            )
            raise Rollback
    assert outer.job is not None and inner.job is None
    assert [job.id for job in syncjobs.jobs("u3")] == [outer.job.id]
    assert [r.title for r in reports.objects.filter(owner="u3")] == ["Kept"]

    # The job is validated inside the transaction: a mistake rolls the transaction back too.
    with pytest.raises(InvalidInputError), transaction.atomic():
        reports.objects.create(owner="u3", title="Bad params")
        submit_after(transaction.on_commit, BUILD_REPORT, owner_id="u3", params={"report_id": "x"})
    assert [r.title for r in reports.objects.filter(owner="u3")] == ["Kept"]
    assert len(syncjobs.jobs("u3")) == 1


def test_a_job_submitted_directly_in_a_rolled_back_transaction_runs_anyway(
    django_env: dict[str, str], workers: Workers, reports: Any
) -> None:
    start_worker(workers, django_env)
    with pytest.raises(Rollback), transaction.atomic():
        report = reports.objects.create(owner="u4", title="Rolled back")
        # The ledger is another database, on a connection of its own: this job is written,
        # and its message sent, at once, whatever happens to Django's transaction.
        job = syncjobs.submit(BUILD_REPORT, owner_id="u4", params={"report_id": report.pk})
        raise Rollback
    assert not reports.objects.filter(owner="u4").exists()
    assert [listed.id for listed in syncjobs.jobs("u4")] == [job.id]

    done = finished(job.id, "u4")  # the worker ran it, for a report that never existed
    assert done.status is JobStatus.FAILED
    assert done.error_code == "fatal"
    assert done.error_message == f"report {report.pk} does not exist"


def test_the_view_submits_after_its_own_commit_with_atomic_requests(
    django_env: dict[str, str], reports: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With ATOMIC_REQUESTS every view runs in one transaction that commits after it returns;
    # create_report opts out (@transaction.non_atomic_requests), so its on_commit submit has
    # run by the time it answers.
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    response = http("u5").post("/reports", {"title": "Atomic"}, content_type="application/json")
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    assert [job.id for job in syncjobs.jobs("u5")] == [job_id]
