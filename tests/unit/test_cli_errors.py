"""Every failure a person can cause is one line and a documented exit code, never a traceback.

The database and the brokers are real addresses with nothing listening (a closed free port),
exactly what a person meets when PostgreSQL, Redis or RabbitMQ is down.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncjobs.cli import app
from syncjobs.core import current as _current
from syncjobs.demo import run_demo
from syncjobs.errors import ConfigurationError, InvalidInputError
from syncjobs.failures import (
    EXIT_BROKER,
    EXIT_CONFIG,
    EXIT_DATABASE,
    EXIT_FAILED,
    EXIT_USAGE,
)

runner = CliRunner()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    db = tmp_path / "cli.db"
    for key in list(os.environ):
        if key.startswith("SYNCJOBS_") and not key.startswith("SYNCJOBS_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SYNCJOBS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("SYNCJOBS_BROKER_URL", "memory://")
    monkeypatch.chdir(tmp_path)
    _current.set_app(None)
    yield db
    _current.set_app(None)


def one_line_error(output: str) -> str:
    """The single ``error: …`` line of ``output``; fails if there is more, or a traceback."""
    assert "Traceback" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


def test_postgresql_down_names_the_url_without_its_password(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "SYNCJOBS_DATABASE_URL", f"postgresql+psycopg://app:s3cret@127.0.0.1:{port}/app"
    )
    result = runner.invoke(app, ["jobs", "--owner", "o1"])
    assert result.exit_code == EXIT_DATABASE
    line = one_line_error(result.output)
    assert f"cannot reach the database at postgresql+psycopg://app:***@127.0.0.1:{port}/app" in line
    assert "s3cret" not in result.output


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_broker_down_during_submit_names_the_url_and_leaves_no_job(
    env: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    port = closed_port()
    url = f"{scheme}://guest:s3cret@127.0.0.1:{port}/"
    monkeypatch.setenv("SYNCJOBS_BROKER_URL", url)
    result = runner.invoke(app, ["submit", "syncjobs.count", "--owner", "o1"])
    assert result.exit_code == EXIT_BROKER
    line = one_line_error(result.output)
    assert f"cannot reach the broker at {scheme}://guest:***@127.0.0.1:{port}/" in line
    assert "s3cret" not in result.output
    _current.set_app(None)
    listed = runner.invoke(app, ["jobs", "--owner", "o1", "--json"])
    assert listed.exit_code == 0 and listed.output.strip() == "[]"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SYNCJOBS_BROKER_MAINTENANCE_CHANCE",
            "abc",
            "bad setting: SYNCJOBS_BROKER_MAINTENANCE_CHANCE='abc': Input should be a valid "
            "integer",
        ),
        (
            "SYNCJOBS_YOUTUBE__TIMEOUT",
            "-1",
            "bad setting: SYNCJOBS_YOUTUBE__TIMEOUT='-1': Input should be greater than 0",
        ),
        (
            "SYNCJOBS_JOB_STALE_AFTER",
            "1",
            "SYNCJOBS_JOB_STALE_AFTER (1 s) must be at least twice SYNCJOBS_HEARTBEAT_INTERVAL",
        ),
        ("SYNCJOBS_IMPORTS", "myapp.jobs", "bad setting SYNCJOBS_IMPORTS: not valid JSON"),
        ("SYNCJOBS_LOG_FORMAT", "yaml", "SYNCJOBS_LOG_FORMAT='yaml': Input should be 'text'"),
    ],
)
def test_a_bad_setting_names_its_variable_and_what_is_wrong(
    env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["jobs", "--owner", "o1"])
    assert result.exit_code == EXIT_CONFIG
    assert message in one_line_error(result.output)


@pytest.mark.parametrize("command", [["jobs", "--owner", "o1"], ["db", "upgrade"]])
def test_an_unknown_job_module_is_one_line_naming_it(
    env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("SYNCJOBS_IMPORTS", '["nosuch_jobs_mod"]')
    result = runner.invoke(app, command)
    assert result.exit_code == EXIT_CONFIG
    line = one_line_error(result.output)
    assert "cannot import job module 'nosuch_jobs_mod': No module named 'nosuch_jobs_mod'" in line
    assert not env.exists()  # db upgrade refused before touching the database


def test_debug_shows_the_traceback_instead(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCJOBS_IMPORTS", '["nosuch_jobs_mod"]')
    result = runner.invoke(app, ["--debug", "db", "upgrade"])
    assert isinstance(result.exception, ConfigurationError)
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--items", "-3"], "Invalid value for '--items'"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["--bogus", "jobs"], "No such option: --bogus"),
        (["status"], "Missing argument"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(env: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_USAGE
    assert message in one_line_error(result.output)


def test_the_demo_refuses_a_negative_item_count_from_python_too() -> None:
    from rich.console import Console

    with pytest.raises(InvalidInputError, match="items must be at least 1"):
        run_demo(Console(), items=-3)


def test_syncjobs_errors_keep_exit_code_1(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["status", "not-a-uuid", "--owner", "o1"])
    assert result.exit_code == EXIT_FAILED
    assert "malformed job id" in one_line_error(result.output)


def test_a_worker_with_an_unknown_job_module_says_so_in_one_line(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNCJOBS_")}
    environ.update(
        SYNCJOBS_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
        SYNCJOBS_IMPORTS='["nosuch_jobs_mod"]',
    )
    done = subprocess.run(
        [sys.executable, "-m", "dramatiq", "syncjobs.actors", "-p", "1", "-t", "1"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 2, log
    assert "Traceback" not in log
    cannot = [line for line in log.splitlines() if "syncjobs cannot start" in line]
    assert len(cannot) == 1, log
    assert "cannot import job module 'nosuch_jobs_mod'" in cannot[0]
