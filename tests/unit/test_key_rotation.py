"""Key rotation end to end: rotate while a sync runs, then drop the old key; every account syncs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncjobs import JobStatus, SyncJobs
from syncjobs.connections.credentials import SQLCredentialStore, TokenCipher, generate_key
from syncjobs.connections.store import RotationReport
from syncjobs.storage.sql import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes

from ..conftest import AppFactory, run_until_idle
from .cli_support import invoke, use_ledger

ROOT = "http://fakes.test"
PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]


class RotateOnFirstRequest(httpx.BaseTransport):
    """The fakes' transport; the first provider request runs a key rotation first."""

    def __init__(self, inner: httpx.BaseTransport, store: SQLCredentialStore) -> None:
        self.inner, self.store = inner, store
        self.report: RotationReport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.report is None:
            self.report = self.store.rotate_tokens(batch_size=2)
        return self.inner.handle_request(request)


def build(make_app: AppFactory, repo: Any, fakes: CombinedFakes, keys: str, **kw: Any) -> Any:
    store = SQLCredentialStore(repo.engine, repo.tables, TokenCipher(keys))
    transport = kw.pop("transport", None) or fakes.transport()
    configs = {name: dataclasses.asdict(fakes.config(name, ROOT)) for name in PROVIDERS}
    return make_app(repo, credentials=store, transport=transport, **configs), store


def sync_all(app: SyncJobs, ids: list[str]) -> list[JobStatus]:
    jobs = [app.accounts.sync(account_id, owner_id="u1") for account_id in ids]
    run_until_idle(app)
    return [app.status(job.id, owner_id="u1").status for job in jobs]


def test_rotating_during_a_sync_then_dropping_the_old_key_keeps_every_account(
    make_app: AppFactory, sql_repo: Any
) -> None:
    fakes = CombinedFakes(items_per_provider=40, seed=3)
    key_a, key_b = generate_key(), generate_key()
    app, _ = build(make_app, sql_repo, fakes, key_a)
    ids = [app.accounts.connect("u1", p, fakes[p].issue_tokens()).id for p in PROVIDERS]
    app.broker.close()

    both = SQLCredentialStore(sql_repo.engine, sql_repo.tables, TokenCipher(f"{key_b},{key_a}"))
    hooked = RotateOnFirstRequest(fakes.transport(), both)
    app, _ = build(make_app, sql_repo, fakes, f"{key_b},{key_a}", transport=hooked)
    fakes.tiktok.inject("unauthorized")  # a worker rewrites its tokens while rotation runs
    assert sync_all(app, ids) == [JobStatus.COMPLETED] * 4
    assert hooked.report is not None and hooked.report.rotated + hooked.report.skipped == 4
    assert fakes.tiktok.refreshes == 1
    app.broker.close()

    app, only_b = build(make_app, sql_repo, fakes, key_b)
    assert all(only_b.load_tokens(account_id) is not None for account_id in ids)
    assert sync_all(app, ids) == [JobStatus.COMPLETED] * 4


def test_keys_rotate_command_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cli.db"
    use_ledger(monkeypatch, db)
    key_a, key_b = generate_key(), generate_key()
    monkeypatch.setenv("SYNCJOBS_ENCRYPTION_KEY", key_a)
    assert invoke("db", "upgrade").exit_code == 0
    for n in range(3):
        tokens = f'{{"access_token": "at-{n}"}}'
        connected = invoke("accounts", "connect", "gmail", "--owner", "o1", "--tokens", tokens)
        assert connected.exit_code == 0, connected.output
    monkeypatch.setenv("SYNCJOBS_ENCRYPTION_KEY", f"{key_b},{key_a}")
    rotated = invoke("keys", "rotate", "--batch-size", "2")
    assert rotated.exit_code == 0, rotated.output
    assert "rotated 2/3 token sets" in rotated.output and "rotated 3/3" in rotated.output
    assert "done: 3 re-encrypted" in rotated.output
    repo = SQLAlchemyRepository(f"sqlite:///{db}")
    try:
        only_b = SQLCredentialStore(repo.engine, repo.tables, TokenCipher(key_b))
        ids = [a.id for a in repo.list_accounts(owner_id="o1")]
        opened = {only_b.load_tokens(i).access_token for i in ids}  # type: ignore[union-attr]
        assert opened == {"at-0", "at-1", "at-2"}
    finally:
        repo.close()
    monkeypatch.setenv("SYNCJOBS_ENCRYPTION_KEY", "nope")
    bad = invoke("keys", "rotate")
    assert bad.exit_code != 0 and "SYNCJOBS_ENCRYPTION_KEY is not a valid" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
