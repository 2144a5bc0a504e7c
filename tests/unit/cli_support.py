"""What the command-line tests share: a SQLite ledger, 80 columns, and seeded jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syncjobs.cli import app, output
from syncjobs.clock import utcnow
from syncjobs.core import current as _current
from syncjobs.core.ledger.contract import new_job
from syncjobs.core.models import Job, JobStatus
from syncjobs.storage.sql import SQLAlchemyRepository

runner = CliRunner()

#: Another owner than the demo's, long enough to need wrapping in a narrow column.
OTHER = "owner-with-a-rather-long-name-0042"
#: The worker process the seeded running job runs on.
WORKER = "worker-host-a:4242"


def invoke(*args: str) -> Result:
    """Run ``syncjobs args`` (the app is built again from the environment each time)."""
    _current.set_app(None)
    try:
        return runner.invoke(app, list(args))
    finally:
        _current.set_app(None)


def fits_80(text: str) -> None:
    """No line is wider than 80 columns and nothing is cut with an ellipsis."""
    for line in text.splitlines():
        assert len(line) <= 80, f"{len(line)} columns: {line!r}"
    assert "…" not in text, text


def use_ledger(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    """Point the commands at ``db`` on the in-memory broker, 80 columns wide."""
    monkeypatch.setenv("SYNCJOBS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SYNCJOBS_BROKER_URL", "memory://")
    monkeypatch.setenv("COLUMNS", "80")
    for console in (output.out, output.err):
        monkeypatch.setattr(console, "_width", 80)
    monkeypatch.chdir(db.parent)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An upgraded, empty SQLite ledger the commands use."""
    db = tmp_path / "cli.db"
    use_ledger(monkeypatch, db)
    assert invoke("db", "upgrade").exit_code == 0
    yield db


def repo_of(db: Path) -> SQLAlchemyRepository:
    """The SQL repository on ``db``."""
    return SQLAlchemyRepository(f"sqlite:///{db}")


def seed(db: Path) -> dict[str, Job]:
    """Another owner's jobs: pending, running on a live worker (with a log), dead-lettered."""
    repo = repo_of(db)
    try:
        now = utcnow()
        pending, _ = repo.create_job(
            new_job(OTHER, job_type="syncjobs.count", params={"to": 3}), active_limit=None
        )
        running, _ = repo.create_job(
            new_job(OTHER, job_type="sync_account", params={}), active_limit=None
        )
        repo.claim_job(running.id, worker_id=f"{WORKER}:77", now=now)
        repo.update_progress(
            running.id, done=3, total=10, percent=30.0, message="page 3 of 10", now=now
        )
        repo.heartbeat(WORKER, "worker", job_ids=[running.id], now=now)
        repo.append_log(running.id, "info", "started syncing", now=now)
        failed, _ = repo.create_job(
            new_job(OTHER, job_type="update_trust_scores", params={}), active_limit=None
        )
        repo.claim_job(failed.id, worker_id=f"{WORKER}:78", now=now)
        repo.finish_job(
            failed.id,
            status=JobStatus.FAILED,
            now=now,
            error_code="provider_unavailable",
            error_message="the provider answered 503 " * 8,
            dead_letter=True,
        )
        jobs = {"pending": pending, "running": running, "failed": failed}
        return {k: repo.get_job(j.id) or j for k, j in jobs.items()}
    finally:
        repo.close()


def twin_ids(db: Path) -> list[str]:
    """Two pending jobs whose ids share their first 32 characters."""
    repo = repo_of(db)
    stem = f"abcd{uuid.uuid4().hex[:4]}-0000-4000-8000-00000000000"
    try:
        ids = [stem + "1", stem + "2"]
        for job_id in ids:
            repo.create_job(new_job(OTHER, id=job_id, job_type="syncjobs.count"), active_limit=None)
        return ids
    finally:
        repo.close()
