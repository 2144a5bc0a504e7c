"""Actor names and registration on a broker: the prefix, clashes, all or nothing, twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel

import syncjobs
from syncjobs import ConfigurationError, JobContext, JobStatus
from syncjobs.app import Deps, SyncJobs, register_actors
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.core import current as _current
from syncjobs.core.binding import ActorBinding, actor_name
from syncjobs.core.middleware import TrackingMiddleware
from syncjobs.core.registry import Registry, job_type
from syncjobs.factory import create_app, create_broker
from syncjobs.settings import Settings
from syncjobs.storage import InMemoryRepository, SQLAlchemyRepository

from ..conftest import run_until_idle


class NoParams(BaseModel):
    pass


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    """A host's broker, as the host built it (no syncjobs on it yet)."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    yield broker
    _current.set_app(None)
    broker.close()


def deps() -> Deps:
    return Deps(
        repository=InMemoryRepository(),
        credentials=InMemoryCredentialStore(TokenCipher(generate_key())),
    )


def bind(broker: dramatiq.Broker, registry: Registry, **settings: Any) -> SyncJobs:
    values: dict[str, Any] = {"progress_interval": 0.0, **settings}
    return register_actors(broker, deps(), Settings(**values), registry=registry)


def state(broker: dramatiq.Broker) -> tuple[Any, ...]:
    """Everything binding may change on a broker."""
    return (
        dict(broker.actors),
        list(broker.middleware),
        set(broker.actor_options),
        dict(broker.queues),
        set(broker.delay_queues),
    )


def trackers(broker: dramatiq.Broker) -> list[TrackingMiddleware]:
    return [m for m in broker.middleware if isinstance(m, TrackingMiddleware)]


def test_actor_names_carry_the_prefix_once() -> None:
    assert actor_name("sync_account", "syncjobs.") == "syncjobs.sync_account"
    assert actor_name("syncjobs.count", "syncjobs.") == "syncjobs.count"  # not syncjobs.syncjobs.
    assert actor_name("syncjobs.count", "acme.") == "acme.syncjobs.count"
    assert actor_name("sync_account", "") == "sync_account"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("syncjobs.", {"syncjobs.sync_account", "syncjobs.maintain_jobs", "syncjobs.count"}),
        ("acme.", {"acme.sync_account", "acme.maintain_jobs", "acme.syncjobs.count"}),
        ("", {"sync_account", "maintain_jobs", "syncjobs.count"}),
    ],
)
def test_every_job_type_runs_as_a_prefixed_actor(
    broker: StubBroker, test_registry: Registry, prefix: str, expected: set[str]
) -> None:
    app = bind(broker, test_registry, actor_prefix=prefix)
    names = set(broker.actors)
    assert expected <= names
    assert len(names) == len(test_registry) + 1  # and the tick
    tick = "syncjobs.tick" if prefix in ("", "syncjobs.") else f"{prefix}syncjobs.tick"
    assert app.binding.tick_actor == tick and tick in names
    assert set(trackers(broker)[0].job_types) == names - {tick}


def test_the_ledger_and_submit_keep_the_job_type_names(
    broker: StubBroker, test_registry: Registry
) -> None:
    app = bind(broker, test_registry)
    job = app.submit("maintain_jobs", owner_id="system")
    [message] = broker.queues["syncjobs"].queue
    assert dramatiq.Message.decode(message).actor_name == "syncjobs.maintain_jobs"
    assert job.job_type == "maintain_jobs"
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED and done.job_type == "maintain_jobs"


def test_a_host_actor_named_sync_account_and_syncjobs_share_one_broker(
    broker: StubBroker, test_registry: Registry
) -> None:
    ran: list[str] = []

    @dramatiq.actor(actor_name="sync_account", queue_name="host", broker=broker)
    def sync_account(user_id: str) -> None:  # the host's own, unrelated to syncjobs'
        ran.append(user_id)

    app = bind(broker, test_registry)
    assert broker.actors["sync_account"] is sync_account
    assert "syncjobs.sync_account" in broker.actors
    sync_account.send("u7")
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 3})
    run_until_idle(app)
    assert ran == ["u7"]
    assert app.status(job.id, owner_id="u1").result == {"counted": 3}


def test_a_taken_actor_name_is_refused_and_the_broker_is_left_as_it_was(
    broker: StubBroker, test_registry: Registry
) -> None:
    dramatiq.actor(actor_name="syncjobs.maintain_jobs", broker=broker)(lambda: None)
    before = state(broker)
    with pytest.raises(ConfigurationError, match=r"'syncjobs\.maintain_jobs'.*ACTOR_PREFIX"):
        bind(broker, test_registry)
    assert state(broker) == before
    assert _current.current_app() is None
    # Another prefix avoids the clash.
    app = bind(broker, test_registry, actor_prefix="sj.")
    assert "sj.maintain_jobs" in broker.actors and app.binding.tick_actor == "sj.syncjobs.tick"


def test_a_taken_tick_name_is_refused(broker: StubBroker, test_registry: Registry) -> None:
    dramatiq.actor(actor_name="syncjobs.tick", broker=broker)(lambda: None)
    before = state(broker)
    with pytest.raises(ConfigurationError, match=r"'syncjobs\.tick'"):
        bind(broker, test_registry)
    assert state(broker) == before


def test_two_job_types_on_one_actor_name_are_refused(
    broker: StubBroker, test_registry: Registry
) -> None:
    @job_type("count", params=NoParams, registry=test_registry)
    def count(ctx: JobContext, p: NoParams) -> None:
        """Would run as syncjobs.count, like the built-in job type of that name."""

    before = state(broker)
    with pytest.raises(ConfigurationError, match=r"'count'.*'syncjobs\.count'"):
        bind(broker, test_registry)
    assert state(broker) == before


def test_a_failure_half_way_leaves_no_actor_and_no_middleware(test_registry: Registry) -> None:
    bare = StubBroker(middleware=[])  # no TimeLimit, no Retries: their actor options fail
    before = state(bare)
    with pytest.raises(ConfigurationError, match="actor options are undefined"):
        bind(bare, test_registry)
    assert state(bare) == before
    assert bare.actors == {} and bare.middleware == [] and bare.queues == {}
    bare.close()


def test_binding_twice_replaces_the_first_binding(
    broker: StubBroker, test_registry: Registry
) -> None:
    shared = deps()
    settings = Settings(progress_interval=0.0)
    first = register_actors(broker, shared, settings, registry=test_registry)
    names = set(broker.actors)
    second = register_actors(broker, shared, settings, registry=test_registry)
    assert trackers(broker) == [second.binding.middleware]
    assert sum("periodic" in m.actor_options for m in broker.middleware) == 1
    assert set(broker.actors) == names
    assert broker.actors["syncjobs.count"] is second.binding.actor("syncjobs.count")
    assert _current.current_app() is second
    jobs = [a.submit("syncjobs.count", owner_id="u1", params={"to": 2}) for a in (first, second)]
    run_until_idle(second)
    assert [second.status(j.id, owner_id="u1").status for j in jobs] == [JobStatus.COMPLETED] * 2


def test_a_failed_second_binding_keeps_the_first(
    broker: StubBroker, test_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = deps()
    first = register_actors(broker, shared, Settings(), registry=test_registry)
    before = state(broker)

    def broken(self: ActorBinding) -> None:
        raise RuntimeError("the tick could not be declared")

    monkeypatch.setattr(ActorBinding, "_declare_tick", broken)
    with pytest.raises(RuntimeError, match="the tick"):
        register_actors(broker, shared, Settings(), registry=test_registry)
    assert state(broker) == before
    assert trackers(broker) == [first.binding.middleware]
    assert _current.current_app() is first
    monkeypatch.undo()
    job = first.submit("syncjobs.count", owner_id="u1", params={"to": 2})
    run_until_idle(first)
    assert first.status(job.id, owner_id="u1").status is JobStatus.COMPLETED


def test_create_app_binds_to_a_given_broker(
    broker: StubBroker, sqlite_repo: SQLAlchemyRepository
) -> None:
    ran: list[int] = []
    dramatiq.actor(actor_name="host_job", broker=broker)(ran.append)
    url = sqlite_repo.engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, table_prefix=sqlite_repo.tables.prefix)
    app = create_app(settings, broker=broker)
    try:
        assert app.broker is broker and "host_job" in broker.actors
        assert "syncjobs.sync_account" in broker.actors
        broker.actors["host_job"].send(5)
        job = app.submit("syncjobs.count", owner_id="u1", params={"to": 2})
        run_until_idle(app)
        assert ran == [5] and app.status(job.id, owner_id="u1").status is JobStatus.COMPLETED
    finally:
        app.close()


def test_amqp_urls_build_a_rabbitmq_broker_with_publisher_confirms() -> None:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    for url in ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqps://u:p@mq.example/vh"):
        broker = create_broker(Settings(broker_url=url))
        assert isinstance(broker, RabbitmqBroker) and broker.confirm_delivery
        broker.close()


def test_a_bad_broker_url_is_refused_without_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_broker(Settings(broker_url="kafka://app:s3cret@mq:9092"))
    assert "amqp://" in str(caught.value) and "s3cret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="bad RabbitMQ URL") as bad:
        create_broker(Settings(broker_url="amqp://app:s3cret@mq:notaport/"))
    assert "s3cret" not in str(bad.value)


def test_the_actor_prefix_setting_is_checked() -> None:
    assert Settings().actor_prefix == "syncjobs."
    with pytest.raises(ValueError, match="actor_prefix"):
        Settings(actor_prefix="has space.")
    assert syncjobs.Settings(actor_prefix="").actor_prefix == ""
