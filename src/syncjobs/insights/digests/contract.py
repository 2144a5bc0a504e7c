"""The contract of DigestStore: digest owners, claims and owners' activity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    add_account,
    add_note,
    at,
    claim_batch,
    make_result,
    run_threads,
    save_batch,
    video,
)
from ..models import Decision, DigestFrequency, OwnerActivity, Preferences
from .periods import digest_period, local_day_bounds
from .store import DigestStore

#: (zone, local day's length in hours, UTC offset at its noon or None): daylight-saving
#: changes in Los Angeles (UTC-8 in winter) and Auckland (UTC+13 in summer), an ordinary day
#: in each, and Tonga (UTC+13). The days themselves are found from today (``local_day``).
LOCAL_DAYS = [
    ("America/Los_Angeles", 23, None),
    ("America/Los_Angeles", 25, None),
    ("America/Los_Angeles", 24, -8),
    ("Pacific/Auckland", 25, None),
    ("Pacific/Auckland", 23, None),
    ("Pacific/Auckland", 24, 13),
    ("Pacific/Tongatapu", 24, 13),
]


def local_day(zone: ZoneInfo, hours: int, utc_offset: int | None = None) -> date:
    """The first local day from today that lasts ``hours`` (at ``utc_offset`` hours, if given)."""
    today = datetime.now(zone).date()
    for n in range(400):
        day = today + timedelta(days=n)
        since, until = local_day_bounds(day, zone)
        noon = datetime.combine(day, datetime.min.time()).replace(hour=12, tzinfo=zone)
        offset = noon.utcoffset()
        if until - since == timedelta(hours=hours) and (
            utc_offset is None or offset == timedelta(hours=utc_offset)
        ):
            return day
    raise AssertionError(f"no {hours}-hour day in {zone} within 400 days of {today}")


__all__ = ["LOCAL_DAYS", "DigestStoreContract", "local_day"]


class DigestStoreContract:
    """Digest owners paged by id, one claim per digest period, and owners' activity.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository``, ``PreferencesStore``, ``AnalysisQueueStore``, ``UsageStore`` and
    ``NotificationStore`` too (what an owner's activity counts).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_digest_owners_page_through_owners_with_accounts_or_preferences(
        self, repository: ContractRepository
    ) -> None:
        assert isinstance(repository, DigestStore)
        for owner, external in (("d", "d1"), ("b", "b1"), ("d", "d2")):
            add_account(repository, external, owner_id=owner)
        prefs = {
            o: Preferences(o, digest=DigestFrequency.WEEKLY, timezone="Asia/Tokyo")
            for o in ("e", "a", "d")
        }
        for p in prefs.values():
            repository.save_preferences(p, now=at(0))
        expected = [("a", prefs["a"]), ("b", None), ("d", prefs["d"]), ("e", prefs["e"])]
        assert repository.digest_owners(after=None, limit=10) == expected
        assert repository.digest_owners(after=None, limit=2) == expected[:2]
        assert repository.digest_owners(after="b", limit=2) == expected[2:]
        assert repository.digest_owners(after="e", limit=2) == []

    def test_a_digest_is_claimed_once_per_period(self, repository: ContractRepository) -> None:
        assert repository.claim_digest("a", "daily", "2024-03-10", now=at(0))
        assert not repository.claim_digest("a", "daily", "2024-03-10", now=at(1))
        assert repository.claim_digest("a", "weekly", "2024-03-10", now=at(1))
        assert repository.claim_digest("a", "daily", "2024-03-11", now=at(1))
        assert repository.claim_digest("b", "daily", "2024-03-10", now=at(1))
        repository.release_digest("a", "daily", "2024-03-10")
        repository.release_digest("nobody", "daily", "2024-03-10")
        wins: list[bool] = []

        def claim() -> None:
            wins.append(repository.claim_digest("a", "daily", "2024-03-10", now=at(2)))

        assert run_threads(5, claim) == []
        assert sorted(wins) == [False, False, False, False, True]

    def test_owner_activity_counts_what_happened_in_the_window(
        self, repository: ContractRepository
    ) -> None:
        acc = add_account(repository)
        for i, minutes in enumerate((0, 1, 10, 11, 12, 20)):
            repository.save_page(
                acc.id, items=[video(f"v{i}")], deleted_ids=[], cursor={}, now=at(minutes)
            )
        ids = [it.id for it in repository.list_items(acc.id)]
        other, theirs = account_with_items(
            repository, 1, external="UC-2", owner_id="owner-2", minutes=10
        )
        claim_batch(repository)
        save_batch(
            repository,
            make_result(ids[0], acc, Decision.ALLOW, minutes=5),
            make_result(ids[1], acc, Decision.REVIEW, minutes=5),
            make_result(ids[2], acc, Decision.BLOCK, minutes=15),
            make_result(ids[3], acc, Decision.REVIEW, minutes=15),
            make_result(ids[4], acc, Decision.ALLOW, minutes=19.5),
            make_result(ids[5], acc, Decision.ALLOW, minutes=20),
            make_result(theirs[0], other, Decision.REVIEW, minutes=15),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v3"], cursor={}, now=at(30))
        for minutes in (1, 2, 3):
            add_note(repository, minutes=minutes)
        read = add_note(repository)
        repository.mark_notifications_read("owner-1", [read.id], now=at(4))
        add_note(repository, "owner-2")
        activity = repository.owner_activity("owner-1", since=at(10), until=at(20))
        assert activity == OwnerActivity(
            items_synced=3,
            items_analysed=3,
            allowed=1,
            blocked=1,
            review=1,
            awaiting_review=1,
            unread_notifications=3,
            ai_calls=3,
            tokens=450,
        )
        assert not activity.is_empty
        nothing = repository.owner_activity("nobody", since=at(10), until=at(20))
        assert nothing == OwnerActivity() and nothing.is_empty

    @pytest.mark.parametrize(("zone_name", "hours", "utc_offset"), LOCAL_DAYS)
    def test_owner_activity_over_a_local_day_counts_what_happened_in_that_day(
        self, repository: ContractRepository, zone_name: str, hours: int, utc_offset: int | None
    ) -> None:
        zone = ZoneInfo(zone_name)
        day = local_day(zone, hours, utc_offset)
        since, until = local_day_bounds(day, zone)
        assert until - since == timedelta(hours=hours)
        assert since.astimezone(zone).replace(tzinfo=None) == datetime(day.year, day.month, day.day)
        # The digest sent the next local morning covers exactly that day.
        morning = datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(
            hours=9
        )
        period = digest_period(morning.replace(tzinfo=zone), zone, weekly=False, hour=9, weekday=0)
        assert period is not None and (period.since, period.until) == (since, until)
        acc = add_account(repository, owner_id="owner-1")
        second = timedelta(seconds=1)
        # Each instant's calls tell where it landed: 1 and 1000 are outside the day.
        moments = {1: since - second, 10: since, 100: until - second, 1000: until}
        for n, (calls, moment) in enumerate(sorted(moments.items())):
            repository.record_provider_usage(
                owner_id="owner-1",
                account_id=acc.id,
                provider="youtube",
                job_id=None,
                api_calls=calls,
                quota_units=calls * 2,
                at=moment,
            )
            repository.save_page(
                acc.id, items=[video(f"v{n}")], deleted_ids=[], cursor={}, now=moment
            )
        activity = repository.owner_activity("owner-1", since=since, until=until)
        assert (activity.api_calls, activity.quota_units) == (110, 220)
        assert activity.items_synced == 2
        before = repository.owner_activity("owner-1", since=since - timedelta(days=1), until=since)
        assert (before.api_calls, before.items_synced) == (1, 1)
        assert repository.owner_activity("owner-1", since=since, until=until) == activity
        assert since.tzinfo is UTC and until.tzinfo is UTC
