"""syncjobs.contrib.transactions: submit a job only when the host's transaction commits.

A list of callbacks stands in for the host's transaction here; tests/examples/test_django_app.py
runs the helper with Django's ``transaction.on_commit`` on a real database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syncjobs import ConfigurationError, InvalidInputError, JobStatus
from syncjobs.contrib.transactions import PendingSubmit, submit_after

from ..conftest import AppFactory, run_until_idle


class FakeTransaction:
    """Keeps the callbacks registered during the transaction; runs them on commit."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def commit(self) -> None:
        for callback in self.callbacks:
            callback()
        self.callbacks.clear()

    def rollback(self) -> None:
        self.callbacks.clear()


def test_the_job_is_submitted_at_commit_and_runs(make_app: AppFactory) -> None:
    app = make_app()
    tx = FakeTransaction()
    pending = submit_after(tx.on_commit, "syncjobs.count", owner_id="u1", params={"to": 2})
    assert isinstance(pending, PendingSubmit)
    assert pending.job is None and not pending.submitted
    assert tx.callbacks == [pending]
    assert app.jobs("u1") == []

    tx.commit()
    assert pending.job is not None and pending.submitted
    assert pending.job.status is JobStatus.PENDING and pending.job.params == {"to": 2, "step": 0.0}
    run_until_idle(app)
    assert app.status(pending.job.id, owner_id="u1").result == {"counted": 2}

    pending()  # a second call back submits nothing more
    assert len(app.jobs("u1")) == 1


def test_nothing_is_submitted_on_rollback(make_app: AppFactory) -> None:
    app = make_app()
    tx = FakeTransaction()
    pending = submit_after(tx.on_commit, "syncjobs.count", owner_id="u1", params={"to": 1})
    tx.rollback()
    assert pending.job is None
    assert app.jobs("u1") == []


def test_mistakes_raise_before_anything_is_registered(make_app: AppFactory) -> None:
    app = make_app()
    tx = FakeTransaction()
    with pytest.raises(InvalidInputError, match=r"did you mean 'syncjobs\.count'"):
        submit_after(tx.on_commit, "syncjobs.cuont", owner_id="u1")
    with pytest.raises(InvalidInputError) as bad:
        submit_after(tx.on_commit, "syncjobs.count", owner_id="u1", params={"to": "many"})
    assert [e["loc"] for e in bad.value.errors] == [["to"]]
    with pytest.raises(InvalidInputError):
        submit_after(tx.on_commit, "syncjobs.count", owner_id="", params={})
    with pytest.raises(InvalidInputError):
        submit_after(tx.on_commit, "syncjobs.count", owner_id="u1", priority=11)
    assert tx.callbacks == []
    assert app.jobs("u1") == []


def test_disabled_jobs_raise_at_once(make_app: AppFactory) -> None:
    make_app(enabled=False)
    tx = FakeTransaction()
    with pytest.raises(ConfigurationError, match="disabled"):
        submit_after(tx.on_commit, "syncjobs.count", owner_id="u1")
    assert tx.callbacks == []


def test_the_app_may_be_named_and_the_options_reach_submit(make_app: AppFactory) -> None:
    named = make_app()
    make_app()  # now the current app: the named one still gets the job
    tx = FakeTransaction()
    pending = submit_after(
        tx.on_commit,
        "syncjobs.count",
        owner_id="u1",
        params={"to": 1},
        priority=9,
        idempotency_key="order-7",
        delay=3600,
        app=named,
    )
    tx.commit()
    assert pending.job is not None
    job = named.status(pending.job.id, owner_id="u1")
    assert (job.priority, job.scheduled_for is not None) == (9, True)
    again = submit_after(
        tx.on_commit, "syncjobs.count", owner_id="u1", idempotency_key="order-7", app=named
    )
    tx.commit()
    assert again.job is not None and again.job.id == job.id  # the same key: the same job
