"""No access or refresh token in worker logs, the ledger, Redis, or plaintext credentials.

Real worker processes sync four accounts whose tokens get refreshed (due, rejected, and
Instagram's refresh that carries the token in its query string), then two accounts whose
refresh is revoked and one whose token expired. Afterwards every token the fakes ever issued
is looked for in the workers' stderr, in every row of every table (read raw as JSON from
PostgreSQL), and in every Redis key; the credentials table must hold Fernet ciphertext only.

The FAULT line counts: jobs = sync jobs, faults = token faults injected (expiries,
rejections, revocations), lost = places where a token leaked, duplicated = credentials
rows that are not ciphertext.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet

from syncjobs import JobStatus, SyncJobs, TokenSet
from syncjobs.connections.credentials import generate_key
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes, serve

from ._support import PROVIDERS
from .conftest import FileWorkers, Reporter

pytestmark = pytest.mark.integration


@pytest.fixture
def served() -> Iterator[tuple[CombinedFakes, str]]:
    fakes = CombinedFakes(items_per_provider=60, seed=51)
    with serve(fakes) as root:
        yield fakes, root


def issued_tokens(fakes: CombinedFakes) -> set[str]:
    """Every access and refresh token the fakes have issued."""
    found: set[str] = set()
    for name in PROVIDERS:
        book = fakes[name]._tokens
        found |= set(book.access) | set(book.refresh)
    return {t for t in found if t}


def sync_all(app: SyncJobs, accounts: list[Any], timeout: float = 90) -> list[Any]:
    jobs = [app.accounts.sync(acc.id, owner_id=acc.owner_id) for acc in accounts]
    deadline = time.monotonic() + timeout
    done = []
    for job in jobs:
        while not (current := app.status(job.id, owner_id=job.owner_id)).is_terminal:
            assert time.monotonic() < deadline, f"sync {job.id} did not finish"
            time.sleep(0.05)
        done.append(current)
    return done


def ledger_rows(repo: SQLAlchemyRepository) -> dict[str, list[str]]:
    """Every row of every syncjobs table, as PostgreSQL's own JSON text."""
    rows: dict[str, list[str]] = {}
    with repo.engine.connect() as conn:
        for table in repo.tables.metadata.sorted_tables:
            result = conn.exec_driver_sql(f'SELECT row_to_json(t)::text FROM "{table.name}" t')
            rows[table.name] = [r[0] for r in result]
    return rows


def redis_dump(url: str) -> str:
    client = redis.Redis.from_url(url)
    parts = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1)
        else:
            value = kind
        parts.append(f"{key!r}: {value!r}")
    return "\n".join(parts)


def test_no_token_anywhere(
    env: dict[str, str],
    served: tuple[CombinedFakes, str],
    client: Any,
    file_workers: FileWorkers,
    pg_repo: SQLAlchemyRepository,
    redis_server: Any,
    report: Reporter,
) -> None:
    fakes, root = served
    key = generate_key()
    env["SYNCJOBS_ENCRYPTION_KEY"] = key
    for name in PROVIDERS:
        for field, value in dataclasses.asdict(fakes.config(name, root)).items():
            env[f"SYNCJOBS_{name.upper()}__{field.upper()}"] = str(value)
    app: SyncJobs = client()
    file_workers.start(queues="sync")
    faults = 0

    # Round 1: every token gets refreshed, for every reason there is.
    tokens = {
        "gmail": fakes.gmail.issue_tokens(expires_in=60),  # due: inside the refresh margin
        "tiktok": fakes.tiktok.issue_tokens(expires_in=60),
        "youtube": fakes.youtube.issue_tokens(),
        "instagram": fakes.instagram.issue_tokens(age=25 * 3600),  # old enough to refresh
    }
    fakes.youtube.inject("unauthorized")  # rejected: refreshed once, then resent
    fakes.tiktok.inject("unauthorized")
    faults += 4
    accounts = [app.accounts.connect("u1", name, tokens[name]) for name in PROVIDERS]
    first = sync_all(app, accounts)
    assert [j.status for j in first] == [JobStatus.COMPLETED] * 4, [j.error_message for j in first]
    assert all(fakes[name].refreshes >= 1 for name in PROVIDERS), {
        name: fakes[name].refreshes for name in PROVIDERS
    }

    # Round 2: revoked refresh tokens, and an expired token that cannot be refreshed.
    for name in ("gmail", "tiktok"):
        fakes[name].inject("unauthorized")
        fakes[name].inject("invalid_grant")
        faults += 1
    expired = app.accounts.connect(
        "u2", "instagram", fakes.instagram.issue_tokens(expires_in=60, age=3600)
    )
    faults += 1
    second = sync_all(app, [accounts[0], accounts[1], expired])
    assert [j.error_code for j in second] == ["reauthorization_required"] * 3

    file_workers.stop_all()  # flush and close every worker's stderr
    secrets = issued_tokens(fakes)
    assert len(secrets) >= 8
    assert app.deps.credentials is not None
    for acc in [*accounts, expired]:  # the stored ones are among them
        stored: TokenSet | None = app.deps.credentials.load_tokens(acc.id)
        assert stored is not None and stored.access_token in secrets

    logs = file_workers.log_text()
    rows = ledger_rows(pg_repo)
    credentials = pg_repo.tables.credentials.name
    places: dict[str, str] = {"worker stderr": logs, "redis": redis_dump(redis_server.url)}
    for table, texts in rows.items():
        places[f"table {table}"] = "\n".join(texts)
    leaks = sorted(
        {
            f"{where}: …{text[max(0, text.find(s) - 80) : text.find(s) + 20]}…"
            for where, text in places.items()
            for s in secrets
            if s in text
        }
    )

    fernet = Fernet(key.encode())
    plain = []
    with pg_repo.engine.connect() as conn:
        for scheme, secret in conn.exec_driver_sql(f'SELECT scheme, secret FROM "{credentials}"'):
            opened = TokenSet.model_validate_json(fernet.decrypt(secret.encode()))
            if scheme != "fernet" or opened.access_token in secret:
                plain.append(scheme)
    jobs = rows[pg_repo.tables.jobs.name]
    report(
        "no_token_anywhere", jobs=len(jobs), faults=faults, lost=len(leaks), duplicated=len(plain)
    )
    assert "reauthorization_required" in places[f"table {pg_repo.tables.jobs.name}"]
    assert "Dramatiq" in logs  # the scan does read the workers' output
    assert len(rows[credentials]) == 5
    assert plain == []
    assert leaks == [], "\n".join(leaks)
