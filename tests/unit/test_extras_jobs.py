"""The extras' job types end to end on SQLite and PostgreSQL: analysis, trust, usage, notify."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from syncjobs import JobContext, job_type
from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.connections.models import Account
from syncjobs.core.models import JobStatus
from syncjobs.core.registry import Registry
from syncjobs.errors import InvalidInputError, RateLimitedError, UnexpectedResponseError
from syncjobs.insights.analyzers import OpenAICompatibleAnalyzer
from syncjobs.insights.digests.contract import local_day
from syncjobs.insights.jobs.trust import trust_score
from syncjobs.insights.models import Decision, Preferences, QueuedItem, UsagePeriod, Verdict
from syncjobs.insights.notifiers import InAppNotifier, WebhookNotifier
from syncjobs.providers.types import Item
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.contract import new_job
from syncjobs.testing.fakes import FakeCompletions, FakeWebhookReceiver

from ..conftest import AppFactory, run_until_idle

OWNER = "owner-1"


def seed(
    repo: SQLAlchemyRepository,
    items: Sequence[Item],
    *,
    owner: str = OWNER,
    provider: str = "youtube",
    name: str = "Main channel",
    now: datetime | None = None,
) -> Account:
    """An account holding ``items``, stored as one synced page at ``now``."""
    now = now or utcnow()
    acc = repo.create_account(
        owner_id=owner,
        provider=provider,
        external_id=f"{owner}-{name}",
        display_name=name,
        sync_interval=1800,
        now=now,
    )
    repo.save_page(acc.id, items=items, deleted_ids=[], cursor={"page": 1}, now=now)
    return acc


def video(n: int, title: str, channel: str = "Good Channel") -> Item:
    return Item(external_id=f"v{n}", kind="video", title=title, text="", author=channel)


def item_ids(repo: SQLAlchemyRepository, account: Account) -> dict[str, int]:
    return {i.external_id: i.id for i in repo.list_items(account.id)}


def run_for(app: SyncJobs, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run an in-process worker until ``done()`` holds (jobs may wait on delayed retries)."""
    deadline = time.monotonic() + timeout
    with app.worker(threads=2):
        while not done():
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.02)


# -- analyze_items -------------------------------------------------------------------------


def test_keyword_analysis_judges_items_by_the_owners_preferences(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo)
    acc = seed(
        sql_repo,
        [
            video(1, "Baking bread at home"),
            video(2, "Top ten GORE scenes"),
            video(3, "Anything goes", channel="Trusted Kids TV"),
            video(4, "Fine video", channel="Bad Channel"),
            video(5, "A horror night", channel="Other"),
        ],
    )
    app.insights.set_preferences(
        OWNER,
        blocked_words=["gore"],
        allowed_channels=["trusted kids tv"],
        blocked_channels=["Bad Channel"],
        viewer_age=10,
    )
    job = app.submit("analyze_items", owner_id="system")
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert done.result["analysed"] == 4 and done.result["skipped"] == 1
    assert done.result["remaining"] == 0 and done.progress_percent == 100.0
    ids = item_ids(sql_repo, acc)
    decisions = {
        ext: (a.decision, a.confidence, a.tags, a.analyzer)
        for ext, i in ids.items()
        if (a := sql_repo.get_analysis(i)) is not None
    }
    assert decisions["v1"][0] is Decision.ALLOW
    assert decisions["v2"] == (Decision.BLOCK, 70, ("blocked_word:gore",), "keyword")
    assert decisions["v4"][0] is Decision.BLOCK and "blocked_channel" in decisions["v4"][2]
    assert decisions["v5"][0] is Decision.REVIEW  # a mature word for a 10-year-old
    assert "v3" not in decisions  # allow-listed: skipped, not analysed
    assert sql_repo.item_analysis_state(ids["v3"])[0] == "skipped"  # type: ignore[index]
    stored = sql_repo.get_analysis(ids["v2"])
    assert stored is not None and stored.owner_id == OWNER and stored.channel == "Good Channel"
    assert stored.tokens == 0 and stored.ai_calls == 0


def test_flagged_and_high_priority_items_are_analysed_first(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, analysis_batch_size=2)
    acc = seed(sql_repo, [video(n, f"video {n}") for n in range(1, 7)])
    ids = item_ids(sql_repo, acc)
    sql_repo.queue_for_analysis([ids["v5"]], priority=0, review_flag=True, now=utcnow())
    sql_repo.queue_for_analysis([ids["v6"]], priority=9, review_flag=False, now=utcnow())
    job = app.submit("analyze_items", owner_id="system", params={"max_items": 3})
    run_until_idle(app)
    assert app.status(job.id, owner_id="system").result["analysed"] == 3
    analysed = {ext for ext, i in ids.items() if sql_repo.get_analysis(i) is not None}
    assert analysed == {"v5", "v6", "v1"}  # flagged, then priority, then the oldest


class Flaky:
    """An analyzer that fails on chosen titles and rate-limits once when asked."""

    name = "flaky"

    def __init__(self, bad: set[str], rate_limit_once: bool = False) -> None:
        self.bad, self.rate_limit = bad, rate_limit_once
        self.calls = 0
        self.lock = threading.Lock()

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        with self.lock:
            self.calls += 1
            if self.rate_limit:
                self.rate_limit = False
                raise RateLimitedError("slow down", retry_after=0.05)
        if item.title in self.bad:
            raise UnexpectedResponseError("the model answered nonsense")
        return Verdict(Decision.ALLOW, 90, ("ok",), tokens=None, ai_calls=1)

    def close(self) -> None:
        pass


def test_one_failing_item_does_not_fail_the_batch_and_gives_up_after_max_attempts(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, analyzer=Flaky({"broken"}), analysis_max_attempts=2)
    acc = seed(sql_repo, [video(1, "fine"), video(2, "broken"), video(3, "also fine")])
    ids = item_ids(sql_repo, acc)
    first = app.submit("analyze_items", owner_id="system")
    run_until_idle(app)
    result = app.status(first.id, owner_id="system").result
    assert (result["analysed"], result["failed"], result["remaining"]) == (2, 1, 1)
    state = sql_repo.item_analysis_state(ids["v2"])
    assert state is not None and state[:2] == ("queued", 1) and "nonsense" in (state[2] or "")
    log = [ln.message for ln in app.log(first.id, owner_id="system")]
    assert any("could not be analysed" in line and "v2" in line for line in log)
    # A failed item backs off for analysis_stale_after; once that passed it is tried again.
    later = make_app(
        sql_repo, analyzer=Flaky({"broken"}), analysis_max_attempts=2, analysis_stale_after=0.001
    )
    time.sleep(0.01)
    second = later.submit("analyze_items", owner_id="system")
    run_until_idle(later)
    assert later.status(second.id, owner_id="system").status is JobStatus.COMPLETED
    assert sql_repo.item_analysis_state(ids["v2"])[:2] == ("failed", 2)  # type: ignore[index]
    assert sql_repo.analysis_backlog() == 0


def test_a_rate_limit_releases_the_batch_and_the_job_resumes_after_it(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    analyzer = Flaky(set(), rate_limit_once=True)
    app = make_app(sql_repo, analyzer=analyzer, analysis_concurrency=1)
    acc = seed(sql_repo, [video(n, f"v{n}") for n in range(1, 5)])
    job = app.submit("analyze_items", owner_id="system")
    run_for(app, lambda: app.status(job.id, owner_id="system").is_terminal)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED and done.retry_count == 0  # attempt given back
    assert done.result["analysed"] == 4  # totals carry over the rate-limited attempt
    assert analyzer.calls == 5  # once rate-limited, the rest of the batch was not sent
    assert any("rate_limited" in ln.message for ln in app.log(job.id, owner_id="system"))
    ids = item_ids(sql_repo, acc)
    assert all(sql_repo.item_analysis_state(i)[1] == 0 for i in ids.values())  # type: ignore[index]


def test_the_openai_compatible_analyzer_against_the_fake_completion_server(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    fake = FakeCompletions(api_key="sk-test")
    analyzer = OpenAICompatibleAnalyzer(
        "http://fake", "sk-test", "test-model", transport=fake.transport()
    )
    app = make_app(sql_repo, analyzer=analyzer)
    acc = seed(sql_repo, [video(1, "Gardening tips"), video(2, "explicit violence compilation")])
    job = app.submit("analyze_items", owner_id="system")
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED, done.error_message
    ids = item_ids(sql_repo, acc)
    good, bad = sql_repo.get_analysis(ids["v1"]), sql_repo.get_analysis(ids["v2"])
    assert good is not None and bad is not None
    assert (good.decision, bad.decision) == (Decision.ALLOW, Decision.BLOCK)
    assert good.analyzer == "openai" and good.ai_calls == 1
    assert good.tokens is not None and good.tokens > 0
    assert done.result["tokens"] == good.tokens + (bad.tokens or 0) == fake.tokens_total
    assert done.result["ai_calls"] == 2 == fake.calls


# -- update_trust_scores ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allow", "block", "review", "conf", "expected"),
    [
        (0, 0, 0, 0, 0.0),  # nothing analysed: no trust
        (5, 0, 0, 500, 1.0),  # all allowed, fully confident
        (10, 0, 0, 800, 0.8),  # confidence scales
        (0, 5, 0, 500, 0.0),  # all blocked: clamped at 0
        (0, 0, 6, 600, 0.0),  # only reviews: -0.5, clamped
        (1, 0, 0, 100, 0.2),  # one video: damped to 1/5
        (4, 0, 0, 400, 0.8),  # four videos: 4/5
        (6, 2, 2, 800, pytest.approx((0.6 - 0.2 - 0.1) * 0.8)),
        (3, 1, 0, 400, pytest.approx((0.75 - 0.25) * 1.0 * 4 / 5)),
        (8, 1, 1, 1000, pytest.approx(0.65)),
    ],
)
def test_trust_formula_edges(
    allow: int, block: int, review: int, conf: int, expected: float
) -> None:
    assert trust_score(allow, block, review, conf) == expected


def test_trust_scores_follow_the_analyses_and_a_rerun_changes_nothing(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo)
    seed(
        sql_repo,
        [video(n, "nice", channel="Calm") for n in range(6)]
        + [video(10 + n, "gore fest", channel="Loud") for n in range(2)]
        + [video(20, "nice", channel="Loud")],
    )
    app.insights.set_preferences(OWNER, blocked_words=["gore"])
    app.submit("analyze_items", owner_id="system")
    run_until_idle(app)
    job = app.submit("update_trust_scores", owner_id="system")
    run_until_idle(app)
    assert app.status(job.id, owner_id="system").result == {
        "channels": 2,
        "owners": 1,
        "written": 2,
    }
    scores = {s.channel: s for s in app.insights.trust_scores(OWNER)}
    assert scores["Calm"].score == trust_score(6, 0, 0, 6 * 80) == 0.8
    assert scores["Calm"].videos_analysed == 6
    loud = scores["Loud"]
    assert (loud.allow, loud.block, loud.videos_analysed) == (1, 2, 3)
    assert loud.score == trust_score(1, 2, 0, 80 + 70 + 70) == 0.0
    assert [s.channel for s in app.insights.trust_scores(OWNER)] == [
        "Loud",
        "Calm",
    ]  # least trusted first
    before = [(s.channel, s.score, s.videos_analysed) for s in app.insights.trust_scores(OWNER)]
    app.submit("update_trust_scores", owner_id="system")
    run_until_idle(app)
    assert [
        (s.channel, s.score, s.videos_analysed) for s in app.insights.trust_scores(OWNER)
    ] == before


# -- aggregate_usage -------------------------------------------------------------------------


def test_usage_counts_analyses_and_provider_calls_and_a_rerun_changes_nothing(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, analyzer=Flaky(set()), estimated_tokens_per_item=800)
    acc = seed(sql_repo, [video(n, f"v{n}") for n in range(3)])
    app.submit("analyze_items", owner_id="system")
    run_until_idle(app)
    now = utcnow()
    sql_repo.record_provider_usage(
        owner_id=OWNER,
        account_id=acc.id,
        provider="youtube",
        job_id=None,
        api_calls=7,
        quota_units=9,
        at=now,
    )
    sql_repo.record_provider_usage(
        owner_id=OWNER,
        account_id=acc.id,
        provider="youtube",
        job_id=None,
        api_calls=1,
        quota_units=1,
        at=now - timedelta(days=40),
    )  # outside the window
    job = app.submit("aggregate_usage", owner_id="system")
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED, done.error_message
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    day = app.insights.usage(OWNER, period="day")
    assert [
        (d.period_start, d.items_analysed, d.ai_calls, d.tokens, d.api_calls, d.quota_units)
        for d in day
    ] == [(today, 3, 3, 3 * 800, 7, 9)]
    hours = app.insights.usage(OWNER, period=UsagePeriod.HOUR)
    assert sum(h.items_analysed for h in hours) == 3 and sum(h.api_calls for h in hours) == 7
    week = app.insights.usage(OWNER, period="week")
    assert len(week) == 1 and week[0].period_start.weekday() == 0 and week[0].tokens == 2400
    month = app.insights.usage(OWNER, period="month")
    assert len(month) == 1 and month[0].period_start.day == 1 and month[0].api_calls == 7
    runs = sql_repo.list_rollup_runs()
    assert sorted(r.period.value for r in runs) == ["day", "hour", "month", "week"]
    assert all(r.errors == 0 and r.job_id == job.id for r in runs)
    assert {r.period: r.records for r in runs}[UsagePeriod.DAY] == 4  # 3 analyses + 1 sync
    snapshot = [app.insights.usage(OWNER, period=p) for p in UsagePeriod]
    app.submit("aggregate_usage", owner_id="system")
    run_until_idle(app)
    assert [app.insights.usage(OWNER, period=p) for p in UsagePeriod] == snapshot
    assert len(sql_repo.list_rollup_runs()) == 8


def test_usage_backfills_a_past_day_with_until(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo)
    acc = seed(sql_repo, [])
    day = datetime.now(UTC).date() - timedelta(days=40)  # a past day, relative to today
    at = datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC)
    sql_repo.record_provider_usage(
        owner_id=OWNER,
        account_id=acc.id,
        provider="gmail",
        job_id=None,
        api_calls=3,
        quota_units=15,
        at=at,
    )
    app.submit("aggregate_usage", owner_id="system", params={"until": day.isoformat(), "days": 1})
    run_until_idle(app)
    hours = app.insights.usage(OWNER, period="hour")
    assert [(h.period_start, h.api_calls) for h in hours] == [(at.replace(minute=0), 3)]
    months = app.insights.usage(OWNER, period="month")
    assert [(m.period_start, m.quota_units) for m in months] == [
        (datetime(day.year, day.month, 1, tzinfo=UTC), 15)
    ]


# -- cleanup_old_data ------------------------------------------------------------------------


def test_cleanup_deletes_what_is_past_retention_and_never_blocked_or_unread(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, cleanup_batch_size=2)
    old = utcnow() - timedelta(days=200)
    acc = seed(sql_repo, [video(n, "nice") for n in range(5)] + [video(9, "gore!")], now=old)
    seed(sql_repo, [video(100, "new and nice")], name="Second")
    seed(sql_repo, [video(200, "never analysed")], name="Third", now=old)
    app.insights.set_preferences(OWNER, blocked_words=["gore"])
    # The six old items of the first account go first (oldest, then lowest id).
    app.submit("analyze_items", owner_id="system", params={"max_items": 6})
    run_until_idle(app)
    third = next(a for a in sql_repo.list_accounts(owner_id=OWNER) if a.display_name == "Third")
    assert sql_repo.analysis_backlog() == 2  # the new item and the old never-analysed one
    read_old = sql_repo.add_notification(
        owner_id=OWNER, kind="k", title="t", body="b", data={}, now=old
    )
    unread_old = sql_repo.add_notification(
        owner_id=OWNER, kind="k", title="t", body="b", data={}, now=old
    )
    sql_repo.mark_notifications_read(OWNER, [read_old.id], now=old)
    old_job = _finished_job(sql_repo, days_ago=10)
    sql_repo.append_log(old_job, "info", "old line", now=utcnow() - timedelta(days=10))
    job = app.submit("cleanup_old_data", owner_id="system")
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert done.result["allowed_items"] == 5 and done.result["read_notifications"] == 1
    assert done.result["jobs"] >= 1
    left = {i.external_id for i in sql_repo.list_items(acc.id)}
    assert left == {"v9"}  # the blocked one stays
    assert len(sql_repo.list_items(third.id)) == 1  # never analysed: kept
    notes = {n.id for n in sql_repo.list_notifications(owner_id=OWNER)}
    assert unread_old.id in notes and read_old.id not in notes
    assert sql_repo.get_job(old_job) is None
    assert done.result["total"] == sum(v for k, v in done.result.items() if k != "total")


def _finished_job(repo: SQLAlchemyRepository, days_ago: int) -> str:
    when = utcnow() - timedelta(days=days_ago)
    job, _ = repo.create_job(
        new_job("someone", job_type="syncjobs.noop", params={}, max_retries=0, created_at=when),
        active_limit=None,
    )
    repo.claim_job(job.id, worker_id="w", now=when)
    repo.finish_job(job.id, status=JobStatus.COMPLETED, now=when)
    return job.id


# -- notifications ---------------------------------------------------------------------------

SECRET = "whsec-test"


def _webhook_app(
    make_app: AppFactory, repo: SQLAlchemyRepository, **settings: Any
) -> tuple[SyncJobs, FakeWebhookReceiver]:
    receiver = FakeWebhookReceiver(SECRET)
    notifier = WebhookNotifier(SECRET, "http://hooks.test/in", transport=receiver.transport())
    app = make_app(repo, notifiers=[InAppNotifier(), notifier], **settings)
    return app, receiver


def test_a_notification_is_delivered_once_signed_and_retried_on_failure(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app, receiver = _webhook_app(make_app, sql_repo)
    receiver.fail_next(503, count=2)
    note = app.insights.notify(OWNER, kind="hello", title="Hi", body="there", data={"x": 1})
    run_until_idle(app)
    assert [b["id"] for b in receiver.received] == [note.id]
    assert receiver.received[0]["data"] == {"x": 1} and receiver.rejected == 0
    delivery = sql_repo.get_delivery(note.id, "webhook")
    assert delivery is not None and delivery.delivered and delivery.attempts == 3
    in_app = sql_repo.get_delivery(note.id, "in_app")
    assert in_app is not None and in_app.delivered
    # Delivering again (a replayed job) does not post twice.
    again = app.submit(
        "deliver_notification",
        owner_id=OWNER,
        params={"notification_id": note.id, "notifier": "webhook"},
    )
    run_until_idle(app)
    assert app.status(again.id, owner_id=OWNER).result["already"] is True
    assert receiver.by_delivery[str(note.id)] == 1


def test_the_circuit_breaker_stops_calling_a_notifier_that_keeps_failing(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app, receiver = _webhook_app(make_app, sql_repo, breaker_threshold=2, breaker_cooldown=0.6)
    receiver.fail_next(500, count=1000)
    notes = [app.insights.notify(OWNER, kind="k", title=f"n{i}", body="b") for i in range(4)]
    time.sleep(0.05)
    with app.worker(threads=1):
        deadline = time.monotonic() + 10
        while sql_repo.get_breaker("notifier:webhook").opened_until is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        hits_when_opened = receiver.requests
        assert hits_when_opened == 2  # the threshold
        time.sleep(0.3)  # open: nobody calls the receiver
        assert receiver.requests == hits_when_opened
        receiver.reset()  # the receiver recovers
        deadline = time.monotonic() + 20
        while not all((d := sql_repo.get_delivery(n.id, "webhook")) and d.delivered for n in notes):
            assert time.monotonic() < deadline, "deliveries did not resume"
            time.sleep(0.05)
    assert sql_repo.get_breaker("notifier:webhook").failures == 0
    assert sorted(receiver.by_delivery) == sorted(str(n.id) for n in notes)


def test_a_dead_lettered_job_notifies_the_operator(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository, test_registry: Registry
) -> None:
    class P(BaseModel):
        pass

    @job_type("t.doomed", params=P, max_retries=0, registry=test_registry)
    def doomed(ctx: JobContext, p: P) -> None:
        raise UnexpectedResponseError("the provider sent garbage")

    app = make_app(sql_repo)
    job = app.submit("t.doomed", owner_id="u9")
    run_until_idle(app)
    assert app.status(job.id, owner_id="u9").status is JobStatus.FAILED
    notes = app.insights.notifications("operator")
    assert len(notes) == 1 and notes[0].kind == "dead_letter"
    assert notes[0].data["job_id"] == job.id and "garbage" in notes[0].body


# -- send_digests ----------------------------------------------------------------------------


def test_digests_go_to_due_owners_in_their_timezone_once_and_skip_empty_ones(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, digest_batch_size=50, default_digest="off")
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # a Monday, 09:30 UTC
    yesterday = at - timedelta(hours=12)
    for n in range(120):  # 120 owners with something new: three batches of 50
        seed(sql_repo, [video(1, "hello")], owner=f"o{n:03d}", now=yesterday)
        app.insights.set_preferences(f"o{n:03d}", digest="daily", timezone="Europe/London")
    seed(sql_repo, [], owner="quiet")
    app.insights.set_preferences("quiet", digest="daily")  # nothing to report: skipped
    # (Sunday 12:30 in Tokyo: the local day its Monday digest covers.)
    seed(sql_repo, [video(1, "x")], owner="tokyo", now=at - timedelta(hours=30))
    app.insights.set_preferences("tokyo", digest="daily", timezone="Asia/Tokyo")  # 18:30 there: due
    seed(sql_repo, [video(1, "x")], owner="la", now=yesterday)
    app.insights.set_preferences(
        "la", digest="daily", timezone="America/Los_Angeles"
    )  # 01:30: not yet
    seed(sql_repo, [video(1, "x")], owner="weekly", now=yesterday)
    app.insights.set_preferences("weekly", digest="weekly")  # Monday: due
    seed(sql_repo, [video(1, "x")], owner="nobody", now=yesterday)  # default: off
    job = app.submit("send_digests", owner_id="system", params={"at": at.isoformat()})
    run_until_idle(app)
    done = app.status(job.id, owner_id="system")
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert done.result["owners"] == 125
    assert done.result["sent"] == 122 and done.result["empty"] == 1
    digest = app.insights.notifications("o007")
    assert [n.kind for n in digest] == ["digest_daily"]
    assert digest[0].data["items_synced"] == 1 and digest[0].data["period"] == "2026-11-23"
    assert [n.kind for n in app.insights.notifications("weekly")] == ["digest_weekly"]
    assert app.insights.notifications("la") == [] and app.insights.notifications("quiet") == []
    assert app.insights.notifications("nobody") == []
    again = app.submit("send_digests", owner_id="system", params={"at": at.isoformat()})
    run_until_idle(app)
    assert app.status(again.id, owner_id="system").result["sent"] == 0
    assert len(app.insights.notifications("o007")) == 1


@pytest.mark.parametrize(
    ("zone_name", "hours", "utc_offset"),
    [
        ("America/Los_Angeles", 23, None),  # clocks go forward
        ("America/Los_Angeles", 25, None),  # clocks go back
        ("America/Los_Angeles", 24, -8),  # UTC-8
        ("Pacific/Auckland", 25, None),  # UTC+13 before the change
        ("Pacific/Tongatapu", 24, 13),  # UTC+13
    ],
)
def test_a_daily_digest_reports_the_owners_local_day(
    make_app: AppFactory,
    sql_repo: SQLAlchemyRepository,
    zone_name: str,
    hours: int,
    utc_offset: int | None,
) -> None:
    app = make_app(sql_repo, default_digest="off", digest_hour=9)
    zone = ZoneInfo(zone_name)
    day = local_day(zone, hours, utc_offset)  # the next such day from today

    def local(d: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
        return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=zone)

    after = day + timedelta(days=1)
    # Usage just before, at, and just after the local midnights around ``day``: each calls
    # count tells which instant landed in which digest.
    moments = {
        1: local(day) - timedelta(seconds=1),
        10: local(day),
        100: local(day, 23, 59, 59),
        1000: local(after),
    }
    acc = seed(sql_repo, [], owner="tz", now=local(day - timedelta(days=2)))
    for n, (calls, moment) in enumerate(sorted(moments.items())):
        sql_repo.save_page(acc.id, items=[video(n, "x")], deleted_ids=[], cursor={}, now=moment)
        sql_repo.record_provider_usage(
            owner_id="tz",
            account_id=acc.id,
            provider="youtube",
            job_id=None,
            api_calls=calls,
            quota_units=calls,
            at=moment,
        )
    app.insights.set_preferences("tz", digest="daily", timezone=zone_name)

    def send(at: datetime) -> None:
        job = app.submit("send_digests", owner_id="system", params={"at": at.isoformat()})
        run_until_idle(app)
        assert app.status(job.id, owner_id="system").status is JobStatus.COMPLETED

    send(local(after, 8, 59))  # before the digest hour: nothing yet
    assert app.insights.notifications("tz") == []
    send(local(after, 9, 30))
    send(local(after, 23, 0))  # the same local day: not again
    (digest,) = app.insights.notifications("tz")
    assert digest.title == f"Daily digest for {day.isoformat()}"
    assert digest.data["period"] == after.isoformat()
    assert (digest.data["api_calls"], digest.data["items_synced"]) == (110, 2)
    since, until = (datetime.fromisoformat(digest.data[k]) for k in ("since", "until"))
    assert (since, until) == (local(day), local(after))
    assert until - since == timedelta(hours=hours)
    assert "2 new items synced" in digest.body and "110 provider API calls" in digest.body
    send(local(after + timedelta(days=1), 9, 30))  # the next local day's digest
    newest = app.insights.notifications("tz")[0]
    assert newest.title == f"Daily digest for {after.isoformat()}"
    assert (newest.data["api_calls"], newest.data["items_synced"]) == (1000, 1)


# -- chaining --------------------------------------------------------------------------------


def test_a_follow_up_runs_after_success_only_and_is_linked_to_its_parent(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository, test_registry: Registry
) -> None:
    class P(BaseModel):
        fail: bool = False

    @job_type("t.evaluate", params=P, then="t.tidy", registry=test_registry)
    def evaluate(ctx: JobContext, p: P) -> dict[str, Any]:
        if p.fail:
            raise UnexpectedResponseError("no")
        return {"evaluated": 3}

    class Q(BaseModel):
        evaluated: int = 0

    @job_type("t.tidy", params=Q, registry=test_registry)
    def tidy(ctx: JobContext, q: Q) -> int:
        return q.evaluated * 2

    app = make_app(sql_repo)
    ok = app.submit("t.evaluate", owner_id="u1")
    bad = app.submit("t.evaluate", owner_id="u1", params={"fail": True})
    run_until_idle(app)
    follow = [j for j in app.jobs("u1") if j.job_type == "t.tidy"]
    assert len(follow) == 1
    assert follow[0].parent_id == ok.id and follow[0].result == 6
    assert follow[0].status is JobStatus.COMPLETED
    assert app.status(bad.id, owner_id="u1").status is JobStatus.FAILED


# -- preferences -----------------------------------------------------------------------------


def test_preferences_are_validated_and_round_trip(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo)
    assert app.insights.preferences("new").digest.value == "daily"
    prefs = app.insights.set_preferences(
        "new",
        blocked_words=["a", "A", " b "],
        viewer_age=9,
        timezone="Europe/Paris",
        digest="weekly",
    )
    assert prefs.blocked_words == ("a", "b") and prefs.viewer_age == 9
    assert app.insights.preferences("new") == prefs
    for bad in (
        {"viewer_age": -1},
        {"timezone": "Mars/Base"},
        {"digest": "hourly"},
        {"colour": "red"},
        {"blocked_words": [""]},
        {"webhook_url": "ftp://x"},
        {"blocked_words": "gore"},
    ):
        with pytest.raises(InvalidInputError):
            app.insights.set_preferences("new", **bad)
    assert app.insights.preferences("new") == prefs  # nothing changed by the bad calls
    assert json.dumps(prefs.to_dict())
