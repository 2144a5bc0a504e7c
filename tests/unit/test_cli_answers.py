"""The command line answers honestly: short ids, operator mode, and no silent outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncjobs._version import __version__
from syncjobs.clock import utcnow
from syncjobs.connections.credentials import generate_key

from .cli_support import (
    OTHER,
    WORKER,
    fits_80,
    invoke,
    ledger,
    repo_of,
    seed,
    twin_ids,
    use_ledger,
)

__all__ = ["ledger"]  # the fixture, imported for these tests


def one_line_error(result_output: str, *needles: str) -> None:
    lines = result_output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result_output
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- ids: whole, or a unique prefix ------------------------------------------------------------


def test_a_short_id_names_a_job_and_an_ambiguous_one_lists_the_candidates(ledger: Path) -> None:
    jobs = seed(ledger)
    short = jobs["pending"].id[:8]
    shown = invoke("status", short, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == jobs["pending"].id
    assert invoke("status", short, "--owner", OTHER).exit_code == 0
    theirs = invoke("status", short, "--owner", "someone-else")
    assert theirs.exit_code == 1
    one_line_error(theirs.output, f"no job id starts with '{short}' for owner someone-else")
    twins = twin_ids(ledger)
    ambiguous = invoke("status", twins[0][:8])
    assert ambiguous.exit_code == 1
    one_line_error(ambiguous.output, "is ambiguous", twins[0], twins[1], "give more characters")
    assert invoke("status", twins[1]).exit_code == 0
    listed = invoke("jobs", "--owner", OTHER).stdout
    assert twins[0] in listed and twins[1] in listed  # shown whole: no shorter prefix is unique
    fits_80(listed)
    missing = invoke("status", "ffff0000")
    one_line_error(missing.output, "no job id starts with 'ffff0000'")
    malformed = invoke("status", "not-an-id")
    one_line_error(malformed.output, "malformed job id 'not-an-id'")


def test_a_short_account_id_is_accepted(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCJOBS_ENCRYPTION_KEY", generate_key())
    made = invoke(
        "accounts",
        "connect",
        "gmail",
        "--owner",
        "o1",
        "--tokens",
        '{"access_token": "a"}',
        "--display-name",
        "Mail of o1",
        "--sync-interval",
        "3600",
        "--json",
    )
    assert made.exit_code == 0, made.output
    account = json.loads(made.stdout)
    assert (account["display_name"], account["sync_interval"]) == ("Mail of o1", 3600)
    listed = invoke("accounts", "--owner", "o1")  # no subcommand: list
    assert listed.exit_code == 0 and account["id"][:8] in listed.stdout
    assert "Mail of o1" in listed.stdout and "never" in listed.stdout
    queued = invoke("sync", account["id"][:8], "--owner", "o1", "--json")
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.stdout)["params"]["account_id"] == account["id"]
    assert "in-memory" in queued.stderr
    gone = invoke("accounts", "disconnect", account["id"][:10], "--owner", "o1")
    assert gone.exit_code == 0 and account["id"] in gone.stdout
    one_line_error(invoke("sync", account["id"][:8], "-o", "o1").output, "no account id starts")


# -- operator mode: no --owner -----------------------------------------------------------------


def test_an_operator_reads_and_changes_any_owners_job(ledger: Path) -> None:
    jobs = seed(ledger)
    pending, running, failed = jobs["pending"], jobs["running"], jobs["failed"]
    listed = json.loads(invoke("jobs", "--json").stdout)
    assert {j["owner_id"] for j in listed} == {OTHER}
    assert OTHER[:10] in invoke("jobs").stdout  # a long owner id folds in its column
    assert "started syncing" in invoke("log", running.id[:8]).stdout
    watched = invoke("watch", failed.id[:8], "--json")
    assert watched.exit_code == 1 and json.loads(watched.stdout.splitlines()[-1])["status"] == (
        "failed"
    )
    retried = invoke("retry", failed.id[:8], "--json")
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout)["status"] == "pending"
    cancelled = invoke("cancel", pending.id[:8])
    assert cancelled.exit_code == 0 and f"cancelled job {pending.id}" in cancelled.stdout
    flagged = invoke("cancel", running.id[:8])
    assert flagged.exit_code == 0 and "cancel requested" in flagged.stdout
    assert "stops at its next check" in flagged.stdout
    assert invoke("dead-letter", "list", "--json").stdout.count(failed.id) == 1
    assert invoke("status", running.id, "--owner", "not-them").exit_code == 1


# -- no silent or misleading answers -----------------------------------------------------------


def test_a_read_names_the_missing_database_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_ledger(monkeypatch, tmp_path / "missing.db")
    monkeypatch.setenv("SYNCJOBS_DATABASE_URL", "sqlite:///syncjobs.db")
    for args in (
        ["jobs"],
        ["status", "abcd1234"],
        ["health"],
        ["submit", "syncjobs.noop", "-o", "x"],
    ):
        result = invoke(*args)
        assert result.exit_code != 0  # a configuration error
        one_line_error(result.output, f"no database at {tmp_path / 'syncjobs.db'}", "db upgrade")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "syncjobs.db").touch()
    empty = invoke("jobs")
    one_line_error(empty.output, f"({tmp_path / 'syncjobs.db'})", "not created", "db upgrade")


def test_submit_on_the_in_memory_broker_warns_that_nothing_will_run_it(ledger: Path) -> None:
    made = invoke("submit", "syncjobs.count", "--owner", "o1", "--json")
    assert made.exit_code == 0
    assert json.loads(made.stdout)["status"] == "pending"
    assert "warning: the broker is in-memory" in made.stderr
    assert "only a worker in this process" in made.stderr


def test_watch_says_it_timed_out(ledger: Path) -> None:
    job = json.loads(invoke("submit", "syncjobs.count", "-o", "o1", "--json").stdout)
    watched = invoke("watch", job["id"][:8], "--timeout", "0.3")
    assert watched.exit_code == 2
    assert f"timed out after 0s: job {job['id']} is still pending (0%)" in watched.stderr


def test_log_of_a_job_without_lines_says_so(ledger: Path) -> None:
    job = json.loads(invoke("submit", "syncjobs.count", "-o", "o1", "--json").stdout)
    shown = invoke("log", job["id"])
    assert shown.exit_code == 0
    assert shown.stdout.strip() == f"job {job['id']} (pending) has no log lines"
    assert json.loads(invoke("log", job["id"], "--json").stdout) == []


def test_cancelling_a_finished_job_is_an_error(ledger: Path) -> None:
    job = json.loads(invoke("submit", "syncjobs.count", "-o", "o1", "--json").stdout)
    assert invoke("cancel", job["id"], "-o", "o1").exit_code == 0
    again = invoke("cancel", job["id"], "-o", "o1")
    assert again.exit_code == 1
    one_line_error(again.output, f"job {job['id']} already cancelled: there is nothing to cancel")


def test_job_type_and_status_filters_are_checked(ledger: Path) -> None:
    bogus = invoke("jobs", "--type", "bogus")
    assert bogus.exit_code == 1
    one_line_error(bogus.output, "unknown job type 'bogus'", "registered:", "sync_account")
    close = invoke("jobs", "--type", "sync_acount")
    one_line_error(close.output, "did you mean 'sync_account'?")
    assert invoke("jobs", "--type", "sync_account").exit_code == 0
    status = invoke("jobs", "--status", "bogus")
    assert status.exit_code == 2 and "'pending', 'processing', 'completed'" in status.output
    assert "<pending|processing|completed|failed|cancelled>" in invoke("jobs", "-h").stdout


def test_schedules_that_never_fired_say_never(ledger: Path) -> None:
    listed = invoke("schedules")
    assert listed.exit_code == 0
    rows = [line for line in listed.stdout.splitlines() if "maintain_jobs" in line]
    assert len(rows) == 1 and "never" in rows[0] and "in " in rows[0]


def test_version_and_short_help(ledger: Path) -> None:
    assert invoke("--version").stdout.strip() == f"syncjobs {__version__}"
    assert invoke("-V").stdout.strip() == f"syncjobs {__version__}"
    shown = invoke("-h")
    assert shown.exit_code == 0 and "top" in shown.stdout and "--version" in shown.stdout
    assert "--unread" in invoke("notifications", "-h").stdout


def test_top_shows_queues_running_jobs_and_workers(ledger: Path) -> None:
    jobs = seed(ledger)
    frame = invoke("top", "--once")
    assert frame.exit_code == 0, frame.output
    for shown in (
        "queue (job type)",
        "syncjobs.count",
        jobs["running"].id[:8],
        "page 3 of 10",
        WORKER,
    ):
        assert shown in frame.stdout
    assert "scheduler ticked never" in frame.stdout
    snap = json.loads(invoke("top", "--json").stdout)
    assert snap["queues"]["syncjobs.count"]["pending"] == 1
    assert [j["id"] for j in snap["running"]] == [jobs["running"].id]
    assert snap["workers"] == [
        {"id": WORKER, "seen_at": snap["workers"][0]["seen_at"], "running": 1}
    ]
    assert snap["scheduler_seen_at"] is None


def test_a_running_job_without_a_total_shows_its_count_not_a_percent(ledger: Path) -> None:
    jobs = seed(ledger)
    repo = repo_of(ledger)
    try:
        repo.update_progress(
            jobs["running"].id, done=42, total=None, percent=0.0, message="page 5", now=utcnow()
        )
    finally:
        repo.close()
    listed = invoke("jobs", "--owner", OTHER)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "sync_account" in line)
    assert "42/?" in row and "0%" not in row
    shown = invoke("status", jobs["running"].id[:8])
    assert "42/?" in shown.stdout
    assert (
        json.loads(invoke("status", jobs["running"].id, "--json").stdout)["progress_percent"]
        is None
    )
