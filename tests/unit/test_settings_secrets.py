"""Secrets stay secret: hidden from repr and str; a ``.env`` file is read only when asked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from syncjobs.connections.credentials import generate_key
from syncjobs.insights.analyzers.build import build_analyzer
from syncjobs.settings import AnalyzerSettings, ProviderSettings, Settings

KEY = generate_key()
SECRETS = {
    "encryption": KEY,
    "webhook": "whsec-very-secret-1",
    "youtube": "yt-client-secret-2",
    "plugin": "plugin-client-secret-3",
    "openai": "sk-openai-secret-4",
}


def secret_settings() -> Settings:
    return Settings(
        encryption_key=f"{KEY},{generate_key()}",
        webhook_secret=SECRETS["webhook"],
        youtube=ProviderSettings(client_id="yt-id", client_secret=SECRETS["youtube"]),
        providers={"plug": ProviderSettings(client_secret=SECRETS["plugin"])},
        openai=AnalyzerSettings(api_key=SECRETS["openai"]),
        analyzer="openai",
    )


def test_repr_and_str_never_show_a_secret() -> None:
    settings = secret_settings()
    for shown in (repr(settings), str(settings), repr(settings.youtube), str(settings.openai)):
        assert "**********" in shown
        for secret in SECRETS.values():
            assert secret not in shown
    assert "yt-id" in repr(settings)  # what is not secret still shows


def test_every_reader_gets_the_secret_value() -> None:
    settings = secret_settings()
    assert settings.webhook_secret.get_secret_value() == SECRETS["webhook"]
    assert build_analyzer(settings) is not None  # the key was read, not "**********"


def test_secrets_come_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCJOBS_WEBHOOK_SECRET", "from-env-secret")
    monkeypatch.setenv("SYNCJOBS_GMAIL__CLIENT_SECRET", "gmail-env-secret")
    settings = Settings()
    assert settings.webhook_secret.get_secret_value() == "from-env-secret"
    assert settings.gmail.client_secret.get_secret_value() == "gmail-env-secret"
    assert "from-env-secret" not in repr(settings) and "gmail-env-secret" not in repr(settings)


@pytest.fixture
def dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNCJOBS_ENV_FILE", raising=False)
    monkeypatch.delenv("SYNCJOBS_TABLE_PREFIX", raising=False)
    path = tmp_path / ".env"
    path.write_text("SYNCJOBS_TABLE_PREFIX=from_dotenv_\nSYNCJOBS_WEBHOOK_SECRET=dotenv-secret\n")
    return path


def test_a_dotenv_in_the_working_directory_is_ignored_by_default(dotenv: Path) -> None:
    settings = Settings()
    assert settings.table_prefix == "syncjobs_"
    assert settings.webhook_secret.get_secret_value() == ""


def test_a_dotenv_is_read_when_the_host_asks(
    dotenv: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert Settings(_env_file=dotenv).table_prefix == "from_dotenv_"  # type: ignore[call-arg]
    caplog.set_level(logging.WARNING, logger="syncjobs.settings")
    monkeypatch.setenv("SYNCJOBS_ENV_FILE", str(dotenv))
    settings = Settings()
    assert settings.table_prefix == "from_dotenv_"
    assert settings.webhook_secret.get_secret_value() == "dotenv-secret"
    assert not [r for r in caplog.records if "SYNCJOBS_ENV_FILE" in r.getMessage()]
    monkeypatch.setenv("SYNCJOBS_TABLE_PREFIX", "from_env_")  # the environment wins
    assert Settings().table_prefix == "from_env_"
