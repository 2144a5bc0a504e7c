"""The extras' job types on real workers: Redis, PostgreSQL, fake AI and webhook over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.insights.notifiers import verify_webhook
from syncjobs.providers.types import Item
from syncjobs.testing.fakes import FakeCompletions, FakeWebhookReceiver, serve

from .conftest import Workers, wait_for

pytestmark = pytest.mark.integration

SECRET = "whsec-integration"
QUEUES = "analysis,notify,syncjobs"


@pytest.fixture
def services() -> Iterator[tuple[FakeCompletions, FakeWebhookReceiver, str, str]]:
    ai, hooks = FakeCompletions(api_key="sk-int"), FakeWebhookReceiver(SECRET)
    with serve(ai) as ai_root, serve(hooks) as hooks_root:
        yield ai, hooks, ai_root, hooks_root


@pytest.fixture
def seed_env(
    env: dict[str, str], services: tuple[FakeCompletions, FakeWebhookReceiver, str, str]
) -> dict[str, str]:
    _, _, ai_root, hooks_root = services
    env.update(
        {
            "SYNCJOBS_ANALYZER": "openai",
            "SYNCJOBS_OPENAI__BASE_URL": ai_root,
            "SYNCJOBS_OPENAI__API_KEY": "sk-int",
            "SYNCJOBS_OPENAI__MODEL": "fake-model",
            "SYNCJOBS_NOTIFIERS": json.dumps(["in_app", "webhook"]),
            "SYNCJOBS_WEBHOOK_URL": f"{hooks_root}/hooks",
            "SYNCJOBS_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on loopback
            "SYNCJOBS_WEBHOOK_SECRET": SECRET,
            "SYNCJOBS_RETRY_MIN_BACKOFF": "0.2",
            "SYNCJOBS_RETRY_MAX_BACKOFF": "0.5",
            "SYNCJOBS_ALLOW_PLAINTEXT_TOKENS": "true",
        }
    )
    return env


def _client(client: Callable[..., SyncJobs], env: dict[str, str]) -> SyncJobs:
    """The submitting side, with the same settings as the workers' environment."""
    return client(SYNCJOBS_NOTIFIERS=json.loads(env["SYNCJOBS_NOTIFIERS"]))


def _seed(app: SyncJobs, count: int) -> str:
    repo: Any = app.repository
    acc = repo.create_account(
        owner_id="u1",
        provider="youtube",
        external_id="chan",
        display_name="Channel",
        sync_interval=1800,
        now=utcnow(),
    )
    items = [
        Item(
            external_id=f"v{n:04d}",
            kind="video",
            title=f"video {n}",
            text="explicit violence" if n % 4 == 0 else "a calm walk",
            author="Chan",
        )
        for n in range(count)
    ]
    repo.save_page(acc.id, items=items, deleted_ids=[], cursor={}, now=utcnow())
    return str(acc.id)


def test_analysis_killed_mid_run_resumes_and_judges_every_item_once(
    seed_env: dict[str, str],
    services: tuple[FakeCompletions, FakeWebhookReceiver, str, str],
    client: Callable[..., SyncJobs],
    workers: Workers,
) -> None:
    ai = services[0]
    ai.latency = 0.03
    app = _client(client, seed_env)
    account_id = _seed(app, 400)
    first = workers.start(queues=QUEUES)
    job = app.submit("analyze_items", owner_id="system")
    wait_for(lambda: (app.status(job.id, owner_id="system").progress_done or 0) >= 60, 90)
    workers.kill(first)
    assert app.status(job.id, owner_id="system").status is JobStatus.PROCESSING
    ai.latency = 0.0
    # Claims of the killed worker are taken again once stale.
    workers.start(queues=QUEUES, SYNCJOBS_ANALYSIS_STALE_AFTER="1")
    final = list(app.watch(job.id, owner_id="system", timeout=180))[-1]
    assert final.status is JobStatus.COMPLETED, final.error_message
    assert final.attempts == 2 and final.result["remaining"] == 0
    repo: Any = app.repository
    items = repo.list_items(account_id, limit=1000)
    analyses = [repo.get_analysis(i.id) for i in items]
    assert len(items) == 400 and all(a is not None for a in analyses)
    blocked = {
        i.external_id for i, a in zip(items, analyses, strict=True) if a.decision.value == "block"
    }
    assert blocked == {f"v{n:04d}" for n in range(0, 400, 4)}
    assert all(a.tokens and a.ai_calls == 1 and a.analyzer == "openai" for a in analyses)
    assert ai.calls >= 400  # a few items were in flight when the worker died


def test_notifications_reach_the_webhook_once_each_through_failures(
    seed_env: dict[str, str],
    services: tuple[FakeCompletions, FakeWebhookReceiver, str, str],
    client: Callable[..., SyncJobs],
    workers: Workers,
) -> None:
    hooks = services[1]
    app = _client(client, seed_env)
    hooks.fail_next(503, count=3)
    workers.start(queues=QUEUES)
    sent = [
        app.insights.notify("u1", kind="news", title=f"n{i}", body="hello", data={"i": i})
        for i in range(20)
    ]
    wait_for(lambda: len(hooks.by_delivery) == 20, 90)
    assert hooks.duplicates() == {} and hooks.rejected == 0
    assert sorted(int(k) for k in hooks.by_delivery) == sorted(n.id for n in sent)
    assert sorted(b["data"]["i"] for b in hooks.received) == list(range(20))
    assert all(h["x-syncjobs-signature"].startswith("sha256=") for h in hooks.headers)
    insights: Any = app.repository
    wait_for(
        lambda: all(
            (d := insights.get_delivery(n.id, "webhook")) is not None and d.delivered for n in sent
        ),
        30,
    )
    body = json.dumps(hooks.received[0], sort_keys=True, separators=(",", ":")).encode()
    first = hooks.headers[0]
    assert verify_webhook(
        SECRET,
        body,
        timestamp=first["x-syncjobs-timestamp"],
        signature=first["x-syncjobs-signature"],
    )


def test_a_job_failing_for_good_notifies_the_operator_over_the_webhook(
    seed_env: dict[str, str],
    services: tuple[FakeCompletions, FakeWebhookReceiver, str, str],
    client: Callable[..., SyncJobs],
    workers: Workers,
) -> None:
    hooks = services[1]
    app = _client(client, seed_env)
    workers.start(queues=QUEUES)
    # A sync of an account whose tokens are gone fails at once (reauthorization).
    repo: Any = app.repository
    acc = repo.create_account(
        owner_id="u2",
        provider="tiktok",
        external_id="x",
        display_name="x",
        sync_interval=3600,
        now=utcnow(),
    )
    job = app.submit("sync_account", owner_id="u2", params={"account_id": acc.id})
    workers.start(queues="sync")
    final = list(app.watch(job.id, owner_id="u2", timeout=60))[-1]
    assert final.status is JobStatus.FAILED and final.error_code == "reauthorization_required"
    wait_for(lambda: any(b["kind"] == "dead_letter" for b in hooks.received), 60)
    posted = next(b for b in hooks.received if b["kind"] == "dead_letter")
    assert posted["owner_id"] == "operator" and posted["data"]["job_id"] == job.id
    assert [n.kind for n in app.insights.notifications("operator")] == ["dead_letter"]
