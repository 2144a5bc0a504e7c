"""Every command's output fits an 80-column terminal: no line wider, no header or id cut."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncjobs.core.models import Job

from .cli_support import OTHER, fits_80, invoke, repo_of, seed, use_ledger

#: A table row that starts with an id as shown (8 hex characters or more).
SHOWN_ID = re.compile(r"^([0-9a-f]{8}[0-9a-f-]*)\s")


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A ledger the demo filled (at 80 columns), plus another owner's jobs; the demo output."""
    db = tmp_path_factory.mktemp("cli80") / "syncjobs.db"
    with pytest.MonkeyPatch.context() as mp:
        use_ledger(mp, db)
        shown = invoke("demo", "--items", "20")
    assert shown.exit_code == 0, shown.output
    yield db, shown.output


@pytest.fixture(scope="module")
def seeded(demo_ledger: tuple[Path, str]) -> dict[str, Job]:
    return seed(demo_ledger[0])


@pytest.fixture
def at_80(
    demo_ledger: tuple[Path, str], seeded: dict[str, Job], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Job]:
    use_ledger(monkeypatch, demo_ledger[0])
    return seeded


def test_the_demo_fits_80_columns(demo_ledger: tuple[Path, str]) -> None:
    output = demo_ledger[1]
    fits_80(output)
    for title in ("synced, per provider", "analysed, per provider", "after the sync", "usage"):
        assert title in output


@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["jobs", "--owner", "demo-user"],
        ["jobs", "--status", "failed"],
        ["dead-letter", "list"],
        ["accounts"],
        ["accounts", "list", "--owner", "demo-user"],
        ["schedules"],
        ["health"],
        ["trust", "--owner", "demo-user"],
        ["usage", "--owner", "demo-user"],
        ["usage", "--owner", "demo-user", "--period", "hour"],
        ["notifications", "--owner", "demo-user"],
        ["top", "--once"],
    ],
    ids=" ".join,
)
def test_tables_fit_80_columns_with_headers_and_ids_whole(
    at_80: dict[str, Job], args: list[str]
) -> None:
    result = invoke(*args)
    assert result.exit_code in (0, 1), result.output  # health: 1 with no live scheduler
    assert "Traceback" not in result.output
    fits_80(result.output)


def test_every_id_a_table_shows_is_unique_and_accepted(
    demo_ledger: tuple[Path, str], at_80: dict[str, Job]
) -> None:
    listed = invoke("jobs", "--limit", "100").stdout
    shown = [m.group(1) for line in listed.splitlines() if (m := SHOWN_ID.match(line))]
    repo = repo_of(demo_ledger[0])
    try:
        ids = [j.id for j in repo.list_jobs(limit=1000)]
    finally:
        repo.close()
    assert len(shown) == len(ids) > 10
    for short in shown:
        assert len(short) >= 8 and [i for i in ids if i.startswith(short)] != []
        assert len([i for i in ids if i.startswith(short)]) == 1, short
    status = invoke("status", shown[0])
    assert status.exit_code == 0 and shown[0] in status.stdout


def test_status_and_log_of_a_running_job_fit(at_80: dict[str, Job]) -> None:
    running = at_80["running"]
    shown = invoke("status", running.id[:8])
    assert shown.exit_code == 0, shown.output
    fits_80(shown.output)
    assert running.id in shown.stdout and OTHER in shown.stdout and "30% (3 of 10)" in shown.stdout
    failed = invoke("status", at_80["failed"].id[:8])
    fits_80(failed.output)
    assert "provider_unavailable: the provider answered 503" in " ".join(failed.stdout.split())
    logged = invoke("log", running.id[:8])
    fits_80(logged.output)
    assert "started syncing" in logged.stdout


def test_help_fits_80_columns_and_shows_no_bool_metavar(at_80: dict[str, Job]) -> None:
    commands = [
        [],
        ["jobs"],
        ["status"],
        ["watch"],
        ["top"],
        ["sync"],
        ["notifications"],
        ["accounts"],
        ["accounts", "connect"],
        ["dead-letter", "list"],
    ]
    for command in commands:
        shown = invoke(*command, "-h")
        assert shown.exit_code == 0, shown.output
        fits_80(shown.output)
        assert "<bool>" not in shown.output
        if "Commands:" in shown.output:  # each command's summary whole
            assert "..." not in shown.output.split("Commands:")[1]
        assert "-h, --help" in shown.output
