"""Storms against the extras' job types: a flaky AI endpoint, a flaky webhook receiver."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.clock import utcnow
from syncjobs.core.models import JobStatus
from syncjobs.insights.analyzers import OpenAICompatibleAnalyzer
from syncjobs.insights.notifiers import InAppNotifier, WebhookNotifier
from syncjobs.providers.types import Item
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import FakeCompletions, FakeWebhookReceiver, serve

from ..conftest import AppFactory, run_until_idle
from .conftest import Reporter

pytestmark = pytest.mark.integration

ITEMS = 150


def test_analysis_through_an_ai_storm_judges_every_item_exactly_once(
    make_app: AppFactory, pg_repo: SQLAlchemyRepository, report: Reporter
) -> None:
    ai = FakeCompletions(api_key="sk-storm")
    with serve(ai) as root:
        analyzer = OpenAICompatibleAnalyzer(root, "sk-storm", "m", timeout=5)
        app = make_app(
            pg_repo, analyzer=analyzer, analysis_max_attempts=10, analysis_stale_after=0.05
        )
        acc = pg_repo.create_account(
            owner_id="u1",
            provider="youtube",
            external_id="c",
            display_name="c",
            sync_interval=1800,
            now=utcnow(),
        )
        pg_repo.save_page(
            acc.id,
            items=[
                Item(
                    external_id=f"v{n}",
                    kind="video",
                    title=f"video {n}",
                    text="gore" if n % 5 == 0 else "calm",
                )
                for n in range(ITEMS)
            ],
            deleted_ids=[],
            cursor={},
            now=utcnow(),
        )
        faults = 0
        jobs = []
        for _ in range(4):  # each run meets a new burst of every kind of fault
            ai.fail_next(500, count=3)
            ai.fail_next(429, count=2, retry_after=0.05)
            ai.malformed_next(count=2)
            ai.fail_next(503, count=2)
            faults += 9
            jobs.append(app.submit("analyze_items", owner_id="system", params={"max_items": 60}))
            run_until_idle(app, timeout=60)
        while pg_repo.analysis_backlog() and len(jobs) < 20:  # failed items back off briefly
            jobs.append(app.submit("analyze_items", owner_id="system"))
            run_until_idle(app, timeout=60)
        items = pg_repo.list_items(acc.id, limit=1000)
        analyses: list[Any] = [pg_repo.get_analysis(i.id) for i in items]
        lost = sum(a is None for a in analyses)
        rows = pg_repo.list_analyses(owner_id="u1", limit=10_000)
        duplicated = len(rows) - len({a.item_id for a in rows})
        report("analysis_storm", jobs=len(jobs), faults=faults, lost=lost, duplicated=duplicated)
        assert all(app.status(j.id, owner_id="system").status is JobStatus.COMPLETED for j in jobs)
        assert (lost, duplicated) == (0, 0)
        blocked = {
            i.external_id
            for i, a in zip(items, analyses, strict=True)
            if a.decision.value == "block"
        }
        assert blocked == {f"v{n}" for n in range(0, ITEMS, 5)}
        analyzer.close()


def test_webhook_deliveries_through_a_receiver_storm_arrive_exactly_once(
    make_app: AppFactory, pg_repo: SQLAlchemyRepository, report: Reporter
) -> None:
    hooks = FakeWebhookReceiver("whsec")
    with serve(hooks) as root:
        notifier = WebhookNotifier("whsec", f"{root}/in", timeout=5, allow_private=True)
        app = make_app(
            pg_repo,
            notifiers=[InAppNotifier(), notifier],
            breaker_threshold=1000,
            job_max_retries={"deliver_notification": 20},
        )
        hooks.fail_next(503, count=6)
        hooks.fail_next(429, count=3, retry_after=0.05)
        hooks.fail_next(500, count=6)
        sent = [
            app.insights.notify(f"u{i % 3}", kind="k", title=f"t{i}", body="b") for i in range(40)
        ]
        run_until_idle(app, timeout=90)
        lost = sum(str(n.id) not in hooks.by_delivery for n in sent)
        duplicated = sum(count - 1 for count in hooks.by_delivery.values())
        report("webhook_storm", jobs=len(sent), faults=15, lost=lost, duplicated=duplicated)
        assert (lost, duplicated) == (0, 0) and hooks.rejected == 0
        assert all((d := pg_repo.get_delivery(n.id, "webhook")) and d.delivered for n in sent)
