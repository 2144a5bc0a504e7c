"""The host's own broker: its actors, its middleware and syncjobs on one Redis or RabbitMQ.

A real ``dramatiq`` worker runs the host module ``tests.integration.host_app`` (its broker,
its middleware, its own actor named ``sync_account``) with syncjobs bound to that broker, two
ways: ``dramatiq tests.integration.host_app syncjobs.actors``, and the host module calling
``syncjobs.create_app(broker=broker)`` itself. Both ``sync_account``s run: the host's actor,
and syncjobs' job type over loopback HTTP from the fake TikTok API.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import dramatiq
import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.connections.credentials import generate_key
from syncjobs.factory import create_broker
from syncjobs.settings import Settings
from syncjobs.testing.fakes import CombinedFakes, serve

from .conftest import Workers, on_both_brokers, wait_for

pytestmark = pytest.mark.integration

HOST = "tests.integration.host_app"


@pytest.fixture
def tiktok_env(env: dict[str, str]) -> Iterator[CombinedFakes]:
    fakes = CombinedFakes(items_per_provider=30, seed=5)
    with serve(fakes) as root:
        env["SYNCJOBS_ENCRYPTION_KEY"] = generate_key()
        for key, value in dataclasses.asdict(fakes.config("tiktok", root)).items():
            env[f"SYNCJOBS_TIKTOK__{key.upper()}"] = str(value)
        yield fakes


@on_both_brokers
@pytest.mark.parametrize("how", ["dramatiq host_app syncjobs.actors", "host_app binds syncjobs"])
def test_a_host_broker_runs_its_own_sync_account_and_syncjobs_sync_account(
    env: dict[str, str],
    tiktok_env: CombinedFakes,
    client: Callable[..., SyncJobs],
    workers: Workers,
    tmp_path: Path,
    how: str,
) -> None:
    recorded = tmp_path / "record.txt"
    host = {"HOST_BROKER_URL": env["SYNCJOBS_BROKER_URL"], "HOST_RECORD": str(recorded)}
    if how == "host_app binds syncjobs":
        workers.start("host,sync", modules=(HOST,), HOST_BINDS_SYNCJOBS="1", **host)
    else:
        workers.start("host,sync", modules=(HOST, "syncjobs.actors"), **host)
    app = client(**{k: v for k, v in env.items() if k.startswith("SYNCJOBS_")})
    fake = tiktok_env["tiktok"]
    account = app.accounts.connect("u1", "tiktok", fake.issue_tokens())
    job = app.accounts.sync(account.id, owner_id="u1")
    # The web side of the host sends its own sync_account message on the same broker.
    sender = create_broker(Settings(broker_url=env["SYNCJOBS_BROKER_URL"]))
    dramatiq.actor(actor_name="sync_account", queue_name="host", broker=sender)(print).send("u9")
    sender.close()

    final = list(app.watch(job.id, owner_id="u1", timeout=90))[-1]
    assert final.status is JobStatus.COMPLETED, final.error_message
    assert app.deps.accounts is not None
    stored = app.deps.accounts.list_items(account.id, limit=1000)
    assert sorted(i.external_id for i in stored) == sorted(fake.dataset())

    def lines() -> list[str]:
        return recorded.read_text().splitlines() if recorded.exists() else []

    wait_for(lambda: "host sync_account u9" in lines(), 30)
    wait_for(lambda: "middleware saw syncjobs.sync_account" in lines(), 10)
    assert "middleware saw sync_account" in lines()
