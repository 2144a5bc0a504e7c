"""The command line: the demo, job commands, JSON output, and one-line user errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from syncjobs import demo
from syncjobs.cli import app
from syncjobs.core import current as _current
from syncjobs.testing.fakes import CombinedFakes

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("SYNCJOBS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SYNCJOBS_BROKER_URL", "memory://")
    monkeypatch.chdir(tmp_path)
    _current.set_app(None)
    yield db
    _current.set_app(None)


def test_the_demo_syncs_four_accounts_then_resyncs_incrementally(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[CombinedFakes] = []

    class Recorded(CombinedFakes):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            served.append(self)

    monkeypatch.setattr(demo, "CombinedFakes", Recorded)
    first = runner.invoke(app, ["demo", "--items", "60"])
    assert first.exit_code == 0, first.output
    for label in ("YouTube", "Gmail", "Instagram", "TikTok", "trust scores", "usage", "cleanup"):
        assert label in first.output
    assert first.output.count("completed") >= 4
    # Each account was connected through its consent page and the code exchange.
    assert first.output.count(" connected: ") == 4
    for name in ("youtube", "gmail", "instagram", "tiktok"):
        assert served[0][name].calls["authorize"] == 1, name
    _current.set_app(None)
    again = runner.invoke(app, ["demo", "--items", "60"])
    assert again.exit_code == 0, again.output
    # The same provider accounts: the flow reconnects the accounts of the first run.
    assert again.output.count(" connected again: ") == 4
    assert all(served[1][n].calls["authorize"] == 1 for n in served[1].fakes)
    listed = runner.invoke(app, ["jobs", "--owner", "demo-user", "--json", "--limit", "100"])
    jobs = json.loads(listed.stdout)
    assert len(jobs) == 16 and {j["status"] for j in jobs} == {"completed"}
    by_type = [j["job_type"] for j in jobs]
    for kind in (
        "sync_account",
        "analyze_items",
        "update_trust_scores",
        "aggregate_usage",
        "cleanup_old_data",
    ):
        assert kind in by_type
    resyncs = [j for j in jobs if j["job_type"] == "sync_account"][:4]
    assert all(j["result"]["api_calls"] <= 2 for j in resyncs), resyncs
    analyses = [j for j in jobs if j["job_type"] == "analyze_items"]
    first_run, second_run = analyses[1]["result"], analyses[0]["result"]
    assert first_run["analysed"] + first_run["skipped"] == 4 * 60
    assert first_run["block"] > 0 and first_run["skipped"] > 0  # a blocked word, a trusted sender
    assert first_run["remaining"] == 0
    assert second_run["analysed"] < 20  # only what the incremental sync brought
    _current.set_app(None)
    shown = runner.invoke(app, ["trust", "--owner", "demo-user", "--json"])
    assert shown.exit_code == 0, shown.output
    scores = json.loads(shown.stdout)
    assert scores and all(0.0 <= s["score"] <= 1.0 for s in scores)
    used = json.loads(runner.invoke(app, ["usage", "--owner", "demo-user", "--json"]).stdout)
    assert sum(u["api_calls"] for u in used) >= 8 and sum(u["items_analysed"] for u in used)


def test_submit_status_and_cancel_print_json(sqlite_env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(
        app, ["submit", "syncjobs.count", "--owner", "o1", "--params", '{"to": 3}', "--json"]
    )
    assert made.exit_code == 0, made.output
    job = json.loads(made.stdout)
    assert job["status"] == "pending" and job["job_type"] == "syncjobs.count"
    shown = runner.invoke(app, ["status", job["id"], "--owner", "o1", "--json"])
    assert json.loads(shown.stdout)["id"] == job["id"]
    cancelled = runner.invoke(app, ["cancel", job["id"], "--owner", "o1", "--json"])
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "not-a-uuid", "--owner", "o1"], "malformed job id"),
        (["status", "abcd1234", "--owner", "o1"], "no job id starts with 'abcd1234'"),
        (["status", "00000000-0000-0000-0000-000000000000", "--owner", "o1"], "no job"),
        (["submit", "no.such.type", "--owner", "o1"], "unknown job type 'no.such.type'"),
        (
            ["submit", "syncjobs.cont", "--owner", "o1"],
            "unknown job type 'syncjobs.cont'; did you mean 'syncjobs.count'?",
        ),
        (["submit", "syncjobs.count", "--owner", "o1", "--params", "{bad"], "not valid JSON"),
        (["submit", "syncjobs.count", "--owner", "o1", "--params", '{"to": -1}'], "to:"),
        (
            ["submit", "syncjobs.count", "--owner", "o1", "--params", '{"to":20,"delay":0.2}'],
            "invalid params for syncjobs.count: delay: unknown field (the fields are: step, to)",
        ),
        (
            ["submit", "syncjobs.count", "--owner", "o1", "--params", '{"to":20,"stpe":0.2}'],
            "stpe: unknown field; did you mean 'step'?",
        ),
    ],
)
def test_user_errors_are_one_line_and_exit_1(
    sqlite_env: Path, args: list[str], message: str
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert message in result.output
    assert result.output.strip().startswith("error:")
    assert len(result.output.strip().splitlines()) == 1, result.output
    if args[0] == "submit":
        listed = runner.invoke(app, ["jobs", "--owner", "o1", "--json"])
        assert json.loads(listed.stdout) == []


def test_schedules_health_keygen_and_accounts(sqlite_env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["schedules", "--json"]).stdout)
    assert {s["job_type"] for s in listed} >= {"sync_due_accounts", "maintain_jobs"}
    sick = runner.invoke(app, ["health"])
    assert sick.exit_code == 1 and "no worker heartbeat yet" in sick.output
    key = runner.invoke(app, ["keygen"]).output.strip()
    assert len(key) == 44
    missing_key = runner.invoke(
        app, ["accounts", "connect", "gmail", "--owner", "o1", "--tokens", '{"access_token": "a"}']
    )
    assert missing_key.exit_code == 3 and "SYNCJOBS_ENCRYPTION_KEY" in missing_key.output
    assert (
        json.loads(runner.invoke(app, ["accounts", "list", "--owner", "o1", "--json"]).stdout) == []
    )
