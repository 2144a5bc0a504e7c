"""A misspelt ``SYNCJOBS_*`` variable is logged once, naming the closest real setting."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from syncjobs._envcheck import unknown_variables
from syncjobs.cli import app
from syncjobs.core import current as _current
from syncjobs.settings import Settings


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "syncjobs.settings" and r.levelno == logging.WARNING
    ]


def test_a_typo_is_logged_once_per_process_with_the_closest_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SYNCJOBS_DATABSE_URL", "sqlite:///elsewhere.db")
    caplog.set_level(logging.WARNING, logger="syncjobs.settings")
    settings = Settings()
    Settings()
    assert settings.database_url == "sqlite:///syncjobs.db"  # the typo changed nothing
    assert warnings_of(caplog) == [
        "unknown setting SYNCJOBS_DATABSE_URL is ignored: did you mean SYNCJOBS_DATABASE_URL?"
    ]


def test_the_cli_warns_about_a_typo_and_still_runs(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("SYNCJOBS_DATABASE_URL", "sqlite:///cli.db")
    monkeypatch.setenv("SYNCJOBS_BROKER_URL", "memory://")
    monkeypatch.setenv("SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNR", "9")
    caplog.set_level(logging.WARNING, logger="syncjobs.settings")
    _current.set_app(None)
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        _current.set_app(None)
    assert result.exit_code == 0, result.output
    assert warnings_of(caplog) == [
        "unknown setting SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNR is ignored: "
        "did you mean SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER?"
    ]


def test_nested_names_free_form_keys_and_test_variables() -> None:
    environ = {
        "SYNCJOBS_YOUTUBE__CLIENTID": "x",  # a typo in a provider section
        "SYNCJOBS_YOUTUBE__CLIENT_ID": "x",
        "syncjobs_database_url": "sqlite://",  # names are not case-sensitive
        "SYNCJOBS_SCHEDULES__SYNC_DUE_ACCOUNTS__CRON": "*/5 * * * *",  # keys of an object
        "SYNCJOBS_JOB_MAX_RETRIES__DELIVER_NOTIFICATION": "9",
        "SYNCJOBS_TEST_POSTGRES_URL": "postgresql://",  # the test suite's, not a setting
        "SYNCJOBS_QWERTYUIOP": "1",
        "OTHER_DATABSE_URL": "x",
    }
    assert unknown_variables(Settings, environ) == {
        "SYNCJOBS_YOUTUBE__CLIENTID": "SYNCJOBS_YOUTUBE__CLIENT_ID",
        "SYNCJOBS_QWERTYUIOP": None,
    }


def test_no_warning_when_every_variable_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SYNCJOBS_GMAIL__TIMEOUT", "12")
    monkeypatch.setenv("SYNCJOBS_LOG_FORMAT", "json")
    caplog.set_level(logging.WARNING, logger="syncjobs.settings")
    assert Settings().gmail.timeout == 12
    assert warnings_of(caplog) == []
