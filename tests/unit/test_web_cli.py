"""``syncjobs dashboard``: refuses unsafe options, and serves the dashboard behind its token."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from syncjobs.cli import app as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-auth", "--host", "0.0.0.0"], "--no-auth serves only on a loopback address"),
        (["--no-auth", "--token", "abc"], "give --token or --no-auth, not both"),
        (["--token", " "], "the token is empty"),
    ],
)
def test_unsafe_or_contradictory_options_are_refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["dashboard", *args])

    assert result.exit_code == 2
    assert message in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment minus SYNCJOBS_* settings, with an upgraded SQLite ledger."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("SYNCJOBS_")}
    values["SYNCJOBS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade = subprocess.run(
        [sys.executable, "-m", "syncjobs", "db", "upgrade"],
        env=values,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    return values


@contextmanager
def _serve(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``syncjobs dashboard`` and yield it with the first line it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncjobs", "dashboard", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(20)


def _get(url: str, **options: object) -> httpx.Response:
    """GET ``url`` once the server listens (it is starting in another process)."""
    for _ in range(300):
        try:
            return httpx.get(url, timeout=10, **options)  # type: ignore[arg-type]
        except httpx.ConnectError:
            threading.Event().wait(0.05)
    raise AssertionError(f"nothing listens at {url}")


def test_the_command_prints_a_token_url_that_opens_the_dashboard(env: dict[str, str]) -> None:
    port = _free_port()
    with _serve(env, "--port", str(port)) as (proc, line):
        found = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
        assert found is not None, line
        base, token = found.groups()

        refused = _get(base)
        with httpx.Client(timeout=10, follow_redirects=True) as browser:
            entered = browser.get(f"{base}?token={token}")
            again = browser.get(f"{base}schedules")

        assert refused.status_code == 401
        assert entered.status_code == 200 and 'id="job-counts"' in entered.text
        assert entered.url.query == b""
        assert again.status_code == 200 and "maintain_jobs" in again.text
        assert proc.poll() is None


def test_the_token_may_come_from_the_environment(env: dict[str, str]) -> None:
    port = _free_port()
    env = {**env, "SYNCJOBS_DASHBOARD_TOKEN": "token-from-the-env"}
    with _serve(env, "--port", str(port)) as (_, line):
        assert "token-from-the-env" not in line and "<your token>" in line
        base = f"http://127.0.0.1:{port}/"
        bearer = _get(base + "schedules", headers={"authorization": "Bearer token-from-the-env"})
        assert bearer.status_code == 200
        assert _get(base + "schedules").status_code == 401
