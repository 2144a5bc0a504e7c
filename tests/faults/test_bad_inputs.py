"""A corpus of bad inputs against the public API, on SQLite and PostgreSQL.

Every bad input must be answered with a ``SyncJobsError`` subclass carrying a message (never
a raw ``TypeError``, ``KeyError``, ``UnicodeEncodeError`` or SQLAlchemy error) and must write
no row anywhere. A bad ``submit`` (an unknown job type, undeclared or invalid params…) is the
caller's mistake: an ``InvalidInputError``. SQL-looking strings that are valid data are
accepted and round-trip exactly.

The FAULT line counts, for this case: jobs = API calls made, faults = bad inputs among them,
lost = calls answered wrongly (a raw exception, no error at all, or an empty message),
duplicated = rejected calls that still wrote rows.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import func, inspect, select

import syncjobs
from syncjobs import InvalidInputError, JobStatus, SyncJobs, SyncJobsError, TokenSet
from syncjobs.connections.credentials import SQLCredentialStore, TokenCipher, generate_key
from syncjobs.core.registry import JobType, Registry
from syncjobs.storage import SQLAlchemyRepository

from ..conftest import AppFactory
from .conftest import Reporter

SQLISH = "'; DROP TABLE x; --"
HUGE = "x" * 10_000
SURROGATE = "\udcff"
#: Values that are no job id, account id or owner id at all.
NOT_IDS: list[Any] = [
    "",
    "not-a-uuid",
    SQLISH,
    "1 OR 1=1",
    "%",
    "*",
    HUGE,
    SURROGATE,
    "\x00",
    "a\nb",
    "00000000-0000-0000-0000-00000000000g",
    None,
    123,
    4.5,
    True,
    b"bytes",
    ["list"],
    {"a": 1},
    object(),
]
BAD_OWNERS: list[Any] = [
    "",
    None,
    5,
    "x" * 256,
    "a\x00b",
    "line\nbreak",
    "tab\there",
    SURROGATE,
    f"u{SURROGATE}1",
    b"u1",
    ["u1"],
    {"owner": "u1"},
]
MAX_PARAMS = 4096


class EchoParams(BaseModel):
    """Free text to carry SQL-looking strings and to grow past the size limit."""

    text: str = ""
    tags: list[str] = Field(default_factory=list)


def echo(ctx: Any, params: EchoParams) -> dict[str, Any]:
    return params.model_dump()


@dataclass
class Case:
    label: str
    call: Callable[[], Any]


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.integration)])
def repo(request: pytest.FixtureRequest) -> SQLAlchemyRepository:
    found: SQLAlchemyRepository = request.getfixturevalue(f"{request.param}_repo")
    return found


@pytest.fixture
def app(make_app: AppFactory, repo: SQLAlchemyRepository, test_registry: Registry) -> SyncJobs:
    test_registry.add(JobType("faults.echo", echo, EchoParams, queue="syncjobs"))
    credentials = SQLCredentialStore(repo.engine, repo.tables, TokenCipher(generate_key()))
    return make_app(repo, credentials=credentials, max_params_bytes=MAX_PARAMS)


def row_counts(repo: SQLAlchemyRepository) -> dict[str, int]:
    t = repo.tables
    tables = [
        t.jobs,
        t.job_log,
        t.dead_letters,
        t.accounts,
        t.credentials,
        t.items,
        t.notifications,
    ]
    with repo.engine.connect() as conn:
        return {
            tb.name: conn.execute(select(func.count()).select_from(tb)).scalar_one()
            for tb in tables
        }


def first(value: Any) -> Any:
    """Run a call; iterate one step into what ``watch`` returns."""
    return next(iter(value)) if isinstance(value, Iterator) else value


def corpus(
    app: SyncJobs, job_id: str, failed_id: str, account_id: str, other_account_id: str
) -> list[Case]:
    s = syncjobs
    cases: list[Case] = []

    def add(label: str, call: Callable[[], Any]) -> None:
        cases.append(Case(label, call))

    # submit: job types, params, owners, priorities, idempotency keys, delays
    for jt in [
        "nope",
        "",
        None,
        5,
        SQLISH,
        HUGE,
        SURROGATE,
        b"syncjobs.noop",
        ["syncjobs.noop"],
        "syncjobs.noop@schedule",
        "syncjobs.nop",
        "sync_acount",
        "Syncjobs.Noop",
    ]:
        add(f"submit(job_type={jt!r:.40})", lambda jt=jt: s.submit(jt, owner_id="u1"))
    count_params: list[Any] = [
        {"to": "abc"},
        {"to": -1},
        {"to": 10**7},
        {"to": None},
        {"to": 1.5},
        {"to": [1]},
        {"step": "fast"},
        {"step": math.nan},
        {"step": math.inf},
        {"to": 20, "delay": 0.2},
        {"to": 3, "stpe": 0.1},
        {"To": 3},
        {SQLISH: 1},
        {"to": 3, "": 1},
        [],
        "to=3",
        5,
        ("to", 3),
        b"{}",
    ]
    for p in count_params:
        add(
            f"submit(count, params={p!r:.40})",
            lambda p=p: s.submit("syncjobs.count", owner_id="u1", params=p),
        )
    echo_params: list[Any] = [
        {"text": "x" * (MAX_PARAMS + 1)},
        {"tags": ["y" * 100] * 60},
        {"text": SURROGATE},
        {"tags": ["ok", f"bad{SURROGATE}"]},
        {"text": b"\xff\xfe"},
        {"text": None},
        {"text": 5},
        {"tags": "not-a-list"},
        {"text": {"nested": SQLISH}},
        {"text": "ok", "tag": ["a"]},
        {"text": "ok", "extra": "x" * (MAX_PARAMS + 1)},
    ]
    for p in echo_params:
        add(
            f"submit(echo, params={p!r:.40})",
            lambda p=p: s.submit("faults.echo", owner_id="u1", params=p),
        )
    for owner in BAD_OWNERS:
        add(
            f"submit(owner_id={owner!r:.40})",
            lambda owner=owner: s.submit("syncjobs.noop", owner_id=owner),
        )
    for prio in [0, 11, -1, "5", True, 5.5, math.nan]:
        add(
            f"submit(priority={prio!r})",
            lambda prio=prio: s.submit("syncjobs.noop", owner_id="u1", priority=prio),
        )
    for key in ["", "x" * 256, 5, "a\x00b", "new\nline", SURROGATE, b"key", ["k"]]:
        add(
            f"submit(idempotency_key={key!r:.40})",
            lambda key=key: s.submit("syncjobs.noop", owner_id="u1", idempotency_key=key),
        )
    for delay in [
        -1,
        "10",
        math.nan,
        math.inf,
        -math.inf,
        10**9,
        1e300,
        timedelta(days=8),
        True,
        [1],
    ]:
        add(
            f"submit(delay={delay!r:.40})",
            lambda delay=delay: s.submit("syncjobs.noop", owner_id="u1", delay=delay),
        )

    # status, cancel, retry, log, watch: job ids and owners
    job_calls: dict[str, Callable[..., Any]] = {
        "status": s.status,
        "cancel": s.cancel,
        "retry": s.retry,
        "log": s.log,
        "watch": s.watch,
    }
    for name, fn in job_calls.items():
        for bad in NOT_IDS:
            add(f"{name}(job_id={bad!r:.40})", lambda fn=fn, bad=bad: first(fn(bad, owner_id="u1")))
        add(f"{name}(unknown uuid)", lambda fn=fn: first(fn(str(uuid.uuid4()), owner_id="u1")))
        for owner in [*BAD_OWNERS, "u2"]:
            add(
                f"{name}(owner_id={owner!r:.40})",
                lambda fn=fn, owner=owner: first(fn(job_id, owner_id=owner)),
            )
    add("retry(a pending job)", lambda: s.retry(job_id, owner_id="u1"))
    for limit in [-1, "10", None, 10**20, 2.5, math.nan]:
        add(f"log(limit={limit!r})", lambda limit=limit: s.log(job_id, owner_id="u1", limit=limit))
    for after in [-(10**20), "0", None, 10**20, 1.5]:
        add(
            f"log(after_id={after!r})",
            lambda after=after: s.log(job_id, owner_id="u1", after_id=after),
        )
    for timeout in ["soon", math.nan, [1]]:
        add(
            f"watch(timeout={timeout!r})",
            lambda timeout=timeout: list(s.watch(job_id, owner_id="u1", timeout=timeout)),
        )

    # jobs: owners, filters, paging
    for owner in BAD_OWNERS:
        add(f"jobs(owner_id={owner!r:.40})", lambda owner=owner: s.jobs(owner))
    for status in ["bogus", 5, ["pending"], SURROGATE]:
        add(f"jobs(status={status!r})", lambda status=status: s.jobs("u1", status=status))
    for jt in [5, b"syncjobs.noop", ["syncjobs.noop"], SURROGATE]:
        add(f"jobs(job_type={jt!r:.40})", lambda jt=jt: s.jobs("u1", job_type=jt))
    for limit in [0, 1001, -1, "10", None, 2.5, math.nan]:
        add(f"jobs(limit={limit!r})", lambda limit=limit: s.jobs("u1", limit=limit))
    for offset in [-1, "0", None, 10**20, 1.5, math.nan]:
        add(f"jobs(offset={offset!r})", lambda offset=offset: s.jobs("u1", offset=offset))

    # connect_account: owners, providers, tokens, external ids, names, intervals
    good = {"access_token": "at-good", "refresh_token": "rt-good"}
    for owner in BAD_OWNERS:
        add(
            f"connect_account(owner_id={owner!r:.40})",
            lambda owner=owner: s.connect_account(owner, "gmail", good),
        )
    for provider in [
        "myspace",
        "",
        None,
        5,
        SQLISH,
        "GMAIL",
        " gmail",
        HUGE,
        SURROGATE,
        b"gmail",
        ["gmail"],
    ]:
        add(
            f"connect_account(provider={provider!r:.40})",
            lambda provider=provider: s.connect_account("u1", provider, good),
        )
    bad_tokens: list[Any] = [
        {},
        {"access_token": ""},
        {"access_token": None},
        {"access_token": 5},
        {"refresh_token": "rt-only"},
        "at-string",
        None,
        5,
        [],
        b"at",
        {"access_token": "at", "expires_at": "never"},
        {"access_token": "at", "scope": 5},
        {"access_token": SURROGATE},
        {"access_token": "at", "refresh_token": f"r{SURROGATE}"},
        TokenSet.model_construct(access_token=None),
    ]
    for tokens in bad_tokens:
        add(
            f"connect_account(tokens={tokens!r:.40})",
            lambda tokens=tokens: s.connect_account("u1", "gmail", tokens),
        )
    for ext in ["", "has space", "x" * 256, 5, SURROGATE, SQLISH, b"ext", ["e"]]:
        add(
            f"connect_account(external_id={ext!r:.40})",
            lambda ext=ext: s.connect_account("u1", "gmail", good, external_id=ext),
        )
    for name in [5, ["n"], SURROGATE, b"name"]:
        add(
            f"connect_account(display_name={name!r:.40})",
            lambda name=name: s.connect_account("u1", "gmail", good, display_name=name),
        )
    for interval in [59, 0, -60, "60", 10**12, 10**20, 60.5, math.nan, True, [60]]:
        add(
            f"connect_account(sync_interval={interval!r})",
            lambda interval=interval: s.connect_account(
                "u1", "gmail", good, sync_interval=interval
            ),
        )

    # sync_account, disconnect_account: account ids and owners
    account_calls: dict[str, Callable[..., Any]] = {
        "sync_account": s.sync_account,
        "disconnect_account": s.disconnect_account,
    }
    for name, fn in account_calls.items():
        for bad in NOT_IDS:
            add(f"{name}(account_id={bad!r:.40})", lambda fn=fn, bad=bad: fn(bad, owner_id="u1"))
        add(f"{name}(unknown uuid)", lambda fn=fn: fn(str(uuid.uuid4()), owner_id="u1"))
        add(f"{name}(another owner's account)", lambda fn=fn: fn(other_account_id, owner_id="u1"))
        for owner in [*BAD_OWNERS, "u2"]:
            add(
                f"{name}(owner_id={owner!r:.40})",
                lambda fn=fn, owner=owner: fn(account_id, owner_id=owner),
            )
    for full in ["maybe", None, 5, [True], math.nan]:
        add(
            f"sync_account(full={full!r})",
            lambda full=full: s.sync_account(account_id, owner_id="u1", full=full),
        )
    return cases


def test_bad_inputs_get_clear_errors_and_write_nothing(
    app: SyncJobs, repo: SQLAlchemyRepository, report: Reporter
) -> None:
    job = syncjobs.submit("syncjobs.noop", owner_id="u1")
    failed = syncjobs.submit("syncjobs.noop", owner_id="u1")
    repo.finish_job(
        failed.id,
        status=JobStatus.FAILED,
        now=failed.created_at,
        error_code="x",
        error_message="x",
        dead_letter=False,
    )
    account = syncjobs.connect_account("u1", "gmail", {"access_token": "at-1"})
    other = syncjobs.connect_account("u2", "youtube", {"access_token": "at-2"})
    tables = set(inspect(repo.engine).get_table_names())

    wrong: list[str] = []
    wrote: list[str] = []
    cases = corpus(app, job.id, failed.id, account.id, other.id)
    for case in cases:
        before = row_counts(repo)
        try:
            outcome = case.call()
        except SyncJobsError as exc:
            if not exc.message.strip():
                wrong.append(f"{case.label}: {type(exc).__name__} with an empty message")
            if case.label.startswith("submit(") and not isinstance(exc, InvalidInputError):
                wrong.append(f"{case.label}: {type(exc).__name__}, not InvalidInputError")
        except Exception as exc:
            wrong.append(
                f"{case.label}: raw {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]!r}"
            )
        else:
            wrong.append(f"{case.label}: accepted, answered {outcome!r:.80}")
        after = row_counts(repo)
        if after != before:
            changed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
            wrote.append(f"{case.label}: wrote {changed}")
            # put things back so that the next case starts from the same state
            with repo.engine.begin() as conn:
                t = repo.tables
                keep_jobs = [job.id, failed.id]
                conn.execute(t.jobs.delete().where(t.jobs.c.id.not_in(keep_jobs)))
                keep_acc = [account.id, other.id]
                conn.execute(t.accounts.delete().where(t.accounts.c.id.not_in(keep_acc)))
                conn.execute(
                    t.credentials.delete().where(t.credentials.c.account_id.not_in(keep_acc))
                )

    assert set(inspect(repo.engine).get_table_names()) == tables
    report(
        f"bad_inputs[{repo.engine.dialect.name}]",
        jobs=len(cases),
        faults=len(cases),
        lost=len(wrong),
        duplicated=len(wrote),
    )
    assert (wrong, wrote) == ([], []), "\n".join([*wrong, "-- rows written:", *wrote])


SQL_STRINGS = [
    SQLISH,
    "Robert'); DROP TABLE students;--",
    "1' OR '1'='1",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "$1",
    "?",
    ":name",
    "ユーザー🙂",
    "a\u202eb",
]


def test_sql_looking_strings_are_plain_data_and_round_trip(
    app: SyncJobs, repo: SQLAlchemyRepository, report: Reporter
) -> None:
    tables = set(inspect(repo.engine).get_table_names())
    checked = 0
    for n, text in enumerate(SQL_STRINGS):
        owner = f"{text}#{n}"
        params = {"text": text, "tags": [text, f"{text}%", "x"]}
        job = syncjobs.submit(
            "faults.echo", owner_id=owner, params=params, idempotency_key=f"{text}:{n}"
        )
        again = syncjobs.status(job.id, owner_id=owner)
        assert (again.owner_id, again.params) == (owner, params)
        assert [j.id for j in syncjobs.jobs(owner)] == [job.id]
        assert syncjobs.jobs(owner, job_type=text) == []
        assert (
            syncjobs.submit(
                "faults.echo", owner_id=owner, params=params, idempotency_key=f"{text}:{n}"
            ).id
            == job.id
        )
        tokens = TokenSet(access_token=f"at{text}", refresh_token=f"rt{text}")
        account = syncjobs.connect_account(
            owner, "tiktok", tokens, display_name=text, external_id=f"ext{n}"
        )
        [listed] = syncjobs.accounts(owner)
        assert (listed.id, listed.display_name) == (account.id, text)
        assert app.deps.credentials is not None
        stored = app.deps.credentials.load_tokens(account.id)
        assert stored is not None and stored.access_token == f"at{text}"
        assert stored.refresh_token == f"rt{text}"
        checked += 1
    assert set(inspect(repo.engine).get_table_names()) == tables
    counts = row_counts(repo)
    assert counts[repo.tables.jobs.name] == counts[repo.tables.accounts.name] == checked
    report(
        f"sql_strings_as_data[{repo.engine.dialect.name}]",
        jobs=checked,
        faults=0,
        lost=0,
        duplicated=0,
    )


def test_text_a_backend_may_not_hold_is_stored_exactly_or_refused_clearly(
    app: SyncJobs, repo: SQLAlchemyRepository, report: Reporter
) -> None:
    """NUL characters and over-long names: either kept exactly, or a clear error, no rows."""
    assert app.deps.credentials is not None

    def job_text(text: str) -> Callable[[], bool]:
        def run() -> bool:
            job = syncjobs.submit("faults.echo", owner_id="u1", params={"text": text})
            return syncjobs.status(job.id, owner_id="u1").params["text"] == text

        return run

    def display_name(name: str) -> Callable[[], bool]:
        def run() -> bool:
            account = syncjobs.connect_account(
                "u1", "gmail", {"access_token": "at"}, display_name=name
            )
            return [a.display_name for a in syncjobs.accounts("u1") if a.id == account.id] == [name]

        return run

    def access_token(token: str) -> Callable[[], bool]:
        def run() -> bool:
            account = syncjobs.connect_account("u1", "gmail", {"access_token": token})
            stored = app.deps.credentials.load_tokens(account.id)  # type: ignore[union-attr]
            return stored is not None and stored.access_token == token

        return run

    cases = {
        "params text with NUL": job_text("nul\x00byte"),
        "params text with every control character": job_text("".join(map(chr, range(32)))),
        "display_name with NUL": display_name("a\x00b"),
        "display_name of 256 characters": display_name("n" * 256),
        "display_name of 10 kB": display_name(HUGE),
        "access_token with NUL": access_token("at\x00x"),
        "access_token of 100 kB": access_token("t" * 100_000),
    }
    wrong = []
    for label, run in cases.items():
        before = row_counts(repo)
        try:
            exact = run()
        except SyncJobsError as exc:
            if row_counts(repo) != before:
                wrong.append(f"{label}: refused ({type(exc).__name__}) but wrote rows")
        except Exception as exc:
            wrong.append(
                f"{label}: raw {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]!r}"
            )
        else:
            if not exact:
                wrong.append(f"{label}: accepted but did not round-trip exactly")
    report(
        f"text_limits[{repo.engine.dialect.name}]",
        jobs=len(cases),
        faults=len(cases),
        lost=len(wrong),
        duplicated=0,
    )
    assert wrong == [], "\n".join(wrong)
