"""examples/host_repository.py: a sqlite3 job ledger that keeps syncjobs' repository contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.host_repository import HostSQLiteRepository

from syncjobs import JobStatus
from syncjobs.core.ledger.store import JobRepository
from syncjobs.testing.contract import JobRepositoryContract

from ..conftest import AppFactory, run_until_idle


@pytest.fixture
def host_repo(tmp_path: Path) -> Iterator[HostSQLiteRepository]:
    repo = HostSQLiteRepository(tmp_path / "host-ledger.db", poll_interval=0.05)
    yield repo
    repo.close()


class TestHostSQLiteRepository(JobRepositoryContract):  # as docs/writing-a-repository.md shows
    @pytest.fixture
    def repository(self, tmp_path: Path) -> Iterator[JobRepository]:
        repo = HostSQLiteRepository(tmp_path / "host-ledger.db", poll_interval=0.05)
        yield repo
        repo.close()


def test_it_is_a_job_repository(host_repo: HostSQLiteRepository) -> None:
    assert isinstance(host_repo, JobRepository)


def test_an_app_on_it_runs_jobs_their_follow_ups_and_watch(
    make_app: AppFactory, host_repo: HostSQLiteRepository
) -> None:
    app = make_app(host_repo)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 4})
    report = app.submit("example.nightly_report", owner_id="u1", params={})
    run_until_idle(app)
    seen = list(app.watch(job.id, owner_id="u1", timeout=30))
    assert seen[-1].status is JobStatus.COMPLETED and seen[-1].result == {"counted": 4}
    assert app.status(report.id, owner_id="u1").status is JobStatus.COMPLETED
    [ready] = app.jobs("u1", job_type="example.report_ready")
    assert ready.parent_id == report.id and ready.status is JobStatus.COMPLETED
    assert [line.message for line in app.log(report.id, owner_id="u1")][-1].startswith(
        "report for "
    )


def test_the_file_survives_a_reopen(tmp_path: Path) -> None:
    from syncjobs.testing.contract import new_job

    first = HostSQLiteRepository(tmp_path / "ledger.db")
    job, _ = first.create_job(new_job(), active_limit=None)
    first.close()
    again = HostSQLiteRepository(tmp_path / "ledger.db")
    try:
        assert again.get_job(job.id) == job
    finally:
        again.close()


def test_submit_many_on_a_ledger_without_create_jobs_is_still_all_or_nothing(
    make_app: AppFactory, host_repo: HostSQLiteRepository
) -> None:
    from syncjobs import ConcurrencyLimitError, JobSpec
    from syncjobs.core.ledger.store import JobBatchStore

    assert not isinstance(host_repo, JobBatchStore)  # submit_many creates the rows one by one
    app = make_app(host_repo, max_active_jobs_per_owner=2)
    first = app.submit_many(
        [
            JobSpec("syncjobs.count", owner_id="u1", params={"to": 1}, idempotency_key="k"),
            JobSpec("syncjobs.count", owner_id="u1", params={"to": 1}, idempotency_key="k"),
            JobSpec("syncjobs.count", owner_id="u2", params={"to": 2}),
        ]
    )
    assert first[0].id == first[1].id != first[2].id
    with pytest.raises(ConcurrencyLimitError):
        app.submit_many(
            [
                JobSpec("syncjobs.count", owner_id="u2", params={"to": 3}),
                JobSpec("syncjobs.count", owner_id="u1", params={"to": 3}),
                JobSpec("syncjobs.count", owner_id="u1", params={"to": 3}),
            ]
        )
    assert len(app.jobs("u1")) == 1 and len(app.jobs("u2")) == 1  # the refused batch undone
    run_until_idle(app)
    assert [app.status(j.id, owner_id=j.owner_id).status for j in first] == [
        JobStatus.COMPLETED
    ] * 3
