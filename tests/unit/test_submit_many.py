"""submit_many: all or nothing on bad input, idempotency, the owner limit, and due syncs in bulk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import syncjobs
from syncjobs import (
    ConcurrencyLimitError,
    ConfigurationError,
    InvalidInputError,
    JobSpec,
    JobStatus,
    SyncJobs,
)
from syncjobs.connections import service
from syncjobs.core import bulk
from syncjobs.core.maintenance import maintain
from syncjobs.core.models import Job
from syncjobs.storage import InMemoryRepository

from ..conftest import AppFactory, run_until_idle


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def app(request: pytest.FixtureRequest, make_app: AppFactory) -> SyncJobs:
    repo: Any = InMemoryRepository()
    if request.param != "memory":
        repo = request.getfixturevalue("pg_repo" if request.param == "postgres" else "sqlite_repo")
    return make_app(repo, max_active_jobs_per_owner=5)


def queued(app: SyncJobs, queue: str) -> int:
    """Messages waiting on the stub broker's queue (delayed ones included)."""
    broker: Any = app.broker
    return sum(q.qsize() for name, q in broker.queues.items() if name.startswith(queue))


def count_spec(owner: str = "u1", n: int = 1, **kw: Any) -> JobSpec:
    return JobSpec("syncjobs.count", owner_id=owner, params={"to": n}, **kw)


def every_job(app: SyncJobs) -> list[Job]:
    return app.repository.list_jobs(limit=1000)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"job_type": "syncjobs.count", "owner_id": "u1", "params": {"to": "lots"}}, "to"),
        ({"job_type": "no.such.type", "owner_id": "u1"}, "no.such.type"),
        ({"job_type": "syncjobs.count", "owner_id": ""}, "owner_id"),
        ({"job_type": "syncjobs.count", "owner_id": "u1", "colour": "red"}, "colour"),
        ({"owner_id": "u1"}, "job_type"),
        (count_spec(priority=11), "priority"),
        (count_spec(delay=timedelta(days=30)), "delay"),
        ("syncjobs.count", "JobSpec or a dict"),
    ],
)
def test_one_bad_spec_writes_and_sends_nothing(app: SyncJobs, bad: Any, says: str) -> None:
    specs = [count_spec(n=1), count_spec("u2", n=2), bad, count_spec(n=3)]
    with pytest.raises(InvalidInputError, match=f"spec 2: .*{says}") as caught:
        app.submit_many(specs)
    assert "nothing was submitted" in str(caught.value)
    assert every_job(app) == []
    assert queued(app, "syncjobs") == 0


def test_specs_as_objects_or_dicts_become_jobs_in_order_and_run(app: SyncJobs) -> None:
    jobs = app.submit_many(
        [
            count_spec(n=2),
            {"job_type": "syncjobs.count", "owner_id": "u2", "params": {"to": 3}, "priority": 9},
            {"job_type": "syncjobs.noop", "owner_id": "u1"},
        ]
    )
    assert [(j.job_type, j.owner_id, j.params) for j in jobs] == [
        ("syncjobs.count", "u1", {"to": 2, "step": 0.0}),
        ("syncjobs.count", "u2", {"to": 3, "step": 0.0}),
        ("syncjobs.noop", "u1", {}),
    ]
    assert jobs[1].priority == 9 and all(j.status is JobStatus.PENDING for j in jobs)
    assert queued(app, "syncjobs") == 3
    run_until_idle(app)
    done = [app.status(j.id, owner_id=j.owner_id) for j in jobs]
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 3
    assert done[0].result == {"counted": 2} and done[1].result == {"counted": 3}


def test_keys_collapse_within_a_batch_and_return_the_job_across_batches(app: SyncJobs) -> None:
    first = app.submit_many(
        [count_spec(idempotency_key="a"), count_spec(idempotency_key="a"), count_spec()]
    )
    assert first[0].id == first[1].id != first[2].id
    single = app.submit("syncjobs.count", owner_id="u1", params={"to": 1}, idempotency_key="b")
    second = app.submit_many(
        [
            count_spec(idempotency_key="a"),
            count_spec(idempotency_key="b"),
            count_spec("u2", idempotency_key="a"),  # keys are per owner
        ]
    )
    assert second[0].id == first[0].id and second[1].id == single.id
    assert second[2].id not in {first[0].id, single.id}
    assert len(every_job(app)) == 4
    assert queued(app, "syncjobs") == 4  # one message per job, none for the repeats


def test_a_batch_past_the_owner_limit_is_refused_whole(app: SyncJobs) -> None:
    app.submit_many([count_spec() for _ in range(3)])
    with pytest.raises(ConcurrencyLimitError, match="u1"):
        app.submit_many([count_spec("u2"), count_spec(), count_spec(), count_spec()])
    assert len(every_job(app)) == 3 and queued(app, "syncjobs") == 3
    app.submit_many([count_spec("u2"), count_spec(), count_spec()])  # exactly at the limit
    assert len(app.jobs("u1")) == 5
    system = app.submit_many([count_spec() for _ in range(4)], enforce_limit=False)
    assert len(system) == 4


def test_delayed_specs_wait_on_the_delay_queue(app: SyncJobs) -> None:
    jobs = app.submit_many([count_spec(delay=60), count_spec()])
    assert jobs[0].scheduled_for is not None and jobs[1].scheduled_for is None
    broker: Any = app.broker
    assert broker.queues["syncjobs.DQ"].qsize() == 1 and broker.queues["syncjobs"].qsize() == 1


def test_a_failed_send_leaves_no_job_recorded(app: SyncJobs) -> None:
    sender: Any = app.sender

    class Down:
        def send_many(self, jobs: Any) -> None:
            raise ConnectionError("broker down")

        def send(self, job: Any, *, delay_ms: int | None = None) -> None:
            raise ConnectionError("broker down")

    app.sender = Down()
    with pytest.raises(ConnectionError):
        app.submit_many([count_spec(), count_spec("u2")])
    assert every_job(app) == []
    app.sender = sender
    assert len(app.submit_many([count_spec()])) == 1


def test_rows_whose_messages_were_lost_are_sent_again_by_upkeep(app: SyncJobs) -> None:
    jobs = app.submit_many([count_spec(n=i) for i in range(1, 4)])
    broker: Any = app.broker
    broker.flush_all()  # the messages are lost (a crash after the commit, a flushed Redis)
    later = jobs[0].created_at + timedelta(seconds=app.settings.resend_pending_after + 1)
    assert maintain(app, now=later)["resent"] == 3
    run_until_idle(app)
    assert [app.status(j.id, owner_id="u1").result for j in jobs] == [
        {"counted": 1},
        {"counted": 2},
        {"counted": 3},
    ]


def test_an_empty_batch_and_a_disabled_app(app: SyncJobs, make_app: AppFactory) -> None:
    assert app.submit_many([]) == []
    with pytest.raises(InvalidInputError, match="list"):
        app.submit_many(count_spec())  # type: ignore[arg-type]
    off = make_app(enabled=False)
    with pytest.raises(ConfigurationError, match="disabled"):
        off.submit_many([count_spec()])


def test_the_module_level_submit_many_uses_the_current_app(app: SyncJobs) -> None:
    jobs = syncjobs.submit_many([count_spec(), {"job_type": "syncjobs.noop", "owner_id": "u2"}])
    assert [app.status(j.id, owner_id=j.owner_id).id for j in jobs] == [j.id for j in jobs]


# -- due syncs: one submit_many per batch of due accounts ------------------------------------


def due_accounts(app: SyncJobs, n: int) -> list[str]:
    store: Any = app.deps.accounts
    from syncjobs.clock import utcnow

    return [
        store.create_account(
            owner_id=f"owner-{i % 7}",
            provider="gmail",
            external_id=f"acct-{i}",
            display_name=None,
            sync_interval=900,
            now=utcnow() - timedelta(hours=1),
        ).id
        for i in range(n)
    ]


def test_due_syncs_queue_one_sync_per_account_and_none_while_they_wait(
    app: SyncJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "DUE_BATCH", 10)  # 25 accounts: three batches
    ids = due_accounts(app, 25)
    assert app.accounts.due_syncs(limit=1000) == (25, 25)
    syncs = app.repository.list_jobs(job_type="sync_account", limit=1000)
    assert sorted(j.params["account_id"] for j in syncs) == sorted(ids)
    assert queued(app, "sync") == 25
    assert app.accounts.due_syncs(limit=1000) == (25, 25)  # the same waiting jobs
    assert len(app.repository.list_jobs(job_type="sync_account", limit=1000)) == 25
    assert queued(app, "sync") == 25
    cancelled = syncs[0]
    app.cancel(cancelled.id, owner_id=cancelled.owner_id)
    app.accounts.due_syncs(limit=1000)
    after = app.repository.list_jobs(job_type="sync_account", limit=1000)
    assert len(after) == 26  # only the cancelled one's account gets a new sync
    fresh = [j for j in after if j.id not in {s.id for s in syncs}]
    assert fresh[0].params["account_id"] == cancelled.params["account_id"]
    assert fresh[0].idempotency_key == f"{cancelled.idempotency_key}:{cancelled.id}"


def test_a_limited_batch_names_a_bounded_number_of_owners(
    app: SyncJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_LIMITED_OWNERS", 3)
    specs = [count_spec(f"u{i}") for i in range(4)]
    with pytest.raises(InvalidInputError, match="at most 3 owners"):
        app.submit_many(specs)
    assert every_job(app) == []
    assert len(app.submit_many(specs, enforce_limit=False)) == 4
