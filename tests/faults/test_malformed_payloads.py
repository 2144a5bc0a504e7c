"""Malformed provider payloads: the sync fails clearly, dead-lettered, and stored data stays."""

from __future__ import annotations

import dataclasses

import pytest

from syncjobs import JobStatus, SyncJobs
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import MALFORMED_VARIANTS, CombinedFakes

from ..conftest import AppFactory, run_until_idle
from ._support import PROVIDERS, cursor_problem, holding
from .conftest import Reporter

ROOT = "http://fakes.test"
#: Answers the adapter reads no id from (Gmail's profile: historyId and messagesTotal;
#: Instagram's ``me``: media_count), so stripping ids from them breaks nothing.
NO_ID_READ = {("gmail", "profile"), ("instagram", "me")}


def snapshot(app: SyncJobs, account_id: str) -> tuple[object, ...]:
    """Everything stored for an account that a failed sync must leave as it was."""
    assert app.deps.accounts is not None
    items = app.deps.accounts.list_items(account_id, include_deleted=True, limit=100_000)
    account = app.deps.accounts.get_account(account_id)
    assert account is not None
    return tuple(items), account.cursor


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_payloads_fail_clearly_and_keep_stored_data(
    make_app: AppFactory, sqlite_repo: SQLAlchemyRepository, provider: str, report: Reporter
) -> None:
    fakes = CombinedFakes(items_per_provider=80, seed=31)
    fake = fakes[provider]
    app = make_app(
        sqlite_repo,
        transport=fakes.transport(),
        **{provider: dataclasses.asdict(fakes.config(provider, ROOT))},
    )
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    first = app.accounts.sync(account.id, owner_id="u1")
    run_until_idle(app)
    assert app.status(first.id, owner_id="u1").status is JobStatus.COMPLETED
    assert holding(app, account.id, fake) == (0, 0)

    # Which endpoints an incremental and a full re-sync call (each gets every variant).
    calls: dict[bool, list[str]] = {}
    for full in (False, True):
        fake.add_items(2)
        fake.reset_counters()
        probe = app.accounts.sync(account.id, owner_id="u1", full=full)
        run_until_idle(app)
        assert app.status(probe.id, owner_id="u1").status is JobStatus.COMPLETED
        calls[full] = sorted(name for name in fake.calls if name != "token")
    cases = [
        (v, e, full)
        for full in (False, True)
        for e in calls[full]
        for v in sorted(MALFORMED_VARIANTS)
    ]
    assert len(cases) >= 8

    problems: list[str] = []
    jobs = lost = duplicated = faults = 0
    for variant, endpoint, full in cases:
        case = f"{variant} on {endpoint}{' (full)' if full else ''}"
        before = snapshot(app, account.id)
        fake.add_items(3)  # so that the re-sync has pages and details to read
        fake.reset_counters()
        fake.inject("malformed", count=50, variant=variant, endpoint=endpoint)
        job = app.accounts.sync(account.id, owner_id="u1", full=full)
        run_until_idle(app)
        done = app.status(job.id, owner_id="u1")
        taken = 50 - fake.injected_remaining("malformed")
        fake.clear_faults()
        jobs, faults = jobs + 1, faults + (1 if taken else 0)
        dead = [d for d in app.dead_letters(owner_id="u1", limit=1000) if d.job_id == job.id]
        if not taken:
            problems.append(f"{case}: the endpoint was not called")
        elif variant == "missing_ids" and (provider, endpoint) in NO_ID_READ:
            if done.status is not JobStatus.COMPLETED or holding(app, account.id, fake) != (0, 0):
                problems.append(f"{case}: harmless, yet ended {done.status} {done.error_code}")
        elif (done.status, done.error_code) != (JobStatus.FAILED, "unexpected_response"):
            problems.append(f"{case}: ended {done.status} {done.error_code} ({done.error_message})")
        elif not done.error_message or provider not in done.error_message or not dead:
            problems.append(f"{case}: unclear or not dead-lettered: {done.error_message!r}")
        elif done.attempts != 1 or done.retry_count != 0:
            problems.append(f"{case}: a malformed payload was retried ({done.attempts})")
        if done.status is not JobStatus.COMPLETED and snapshot(app, account.id) != before:
            lost += 1
            problems.append(f"{case}: the failed sync changed what was stored")

    # Once the provider answers properly again, the next sync catches up exactly.
    final = app.accounts.sync(account.id, owner_id="u1")
    run_until_idle(app)
    jobs += 4  # the first, the two probes and the final sync
    done = app.status(final.id, owner_id="u1")
    missing, dups = holding(app, account.id, fake)
    lost, duplicated = lost + missing, duplicated + dups
    report(
        f"malformed_payloads[{provider}]",
        jobs=jobs,
        faults=faults,
        lost=lost,
        duplicated=duplicated,
    )
    assert problems == []
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert cursor_problem(provider, app.accounts.list("u1")[0].cursor, fake) is None
    assert (lost, duplicated) == (0, 0)
