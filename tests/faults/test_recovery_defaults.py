"""The whole worker process group SIGKILLed mid-run, at default settings.

A host would run ``dramatiq syncjobs.actors --processes 2 --threads 4`` and ``periodiq
syncjobs.actors`` on a PostgreSQL ledger and a Redis broker, with every upkeep, heartbeat and
broker setting at its default: the processes here get only the database URL, the table prefix,
the broker URL and the module declaring the job type (``tests.faults.timed_jobs``), and
none of this process's ``SYNCJOBS_*`` variables.

JOBS jobs of 0.5 to 2 s over OWNERS owners are submitted by a loop that waits while an owner is
at its active-job limit (the default, 5), as a host would. The test lets it submit a share of
the jobs before each kill, so the kill comes right after a burst of submits, and half of the
next share while the dead group's jobs are recovered (the jobs held by the dead group keep
their owners' slots until then). The worker group is SIGKILLed KILLS times while jobs run and
while it holds messages it prefetched but has not started, and is restarted at once each time;
the scheduler is SIGKILLed and restarted with the second kill.

After each kill, every job that was pending or processing at the kill must finish within 60 s
of the restart plus its own run time; the slowest is that kill's recovery time. At the end
every job completed, and its effect (a count per job id in Redis) is there exactly once: a run
is counted twice only if its first effect was cut off by a kill before the ledger recorded it.

Larger runs (for example 600 jobs, 8 owners, 5 kills) take ``FAULT_RECOVERY_JOBS``,
``FAULT_RECOVERY_OWNERS`` and ``FAULT_RECOVERY_KILLS``; ``FAULT_RECOVERY_PATIENCE`` (seconds,
default 0) keeps waiting that much longer for a late kill's jobs, to measure how late they are.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from syncjobs import ConcurrencyLimitError, Job, JobStatus, SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core import current as _current
from syncjobs.core.registry import default_registry
from syncjobs.factory import create_app
from syncjobs.settings import Settings
from syncjobs.storage import SQLAlchemyRepository

from .conftest import FileWorkers, Reporter

JOBS = int(os.environ.get("FAULT_RECOVERY_JOBS", "200"))
OWNERS = int(os.environ.get("FAULT_RECOVERY_OWNERS", "4"))
KILLS = int(os.environ.get("FAULT_RECOVERY_KILLS", "3"))
PATIENCE = float(os.environ.get("FAULT_RECOVERY_PATIENCE", "0"))
#: What the docs promise: a job held by a dead worker runs again within a minute.
RECOVERY_LIMIT = 60.0
DURATIONS = (0.5, 1.0, 1.5, 2.0)
THREADS = 2 * 4
#: Polling and start-up slack on top of the limit before a kill's jobs count as stuck.
SLACK = 5.0
_WORK = JOBS * sum(DURATIONS) / len(DURATIONS) / THREADS
_STUCK_AFTER = RECOVERY_LIMIT + max(DURATIONS) + SLACK + PATIENCE
TIMEOUT = 90 + 2 * _WORK + KILLS * _STUCK_AFTER + RECOVERY_LIMIT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(TIMEOUT)]

TIMED_JOBS = "tests.faults.timed_jobs"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def timed_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``tests.faults.timed_jobs``, freshly imported; the global registry is restored after."""
    monkeypatch.setattr(default_registry, "_types", dict(default_registry._types))
    sys.modules.pop(TIMED_JOBS, None)
    try:
        yield importlib.import_module(TIMED_JOBS)
    finally:
        sys.modules.pop(TIMED_JOBS, None)


@pytest.fixture
def default_env(
    redis_server: Any, pg_repo: SQLAlchemyRepository, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Only what a host must set, and what the job type needs; everything else is default."""
    redis.Redis.from_url(redis_server.url).flushall()
    for key in list(os.environ):
        if key.startswith("SYNCJOBS_"):
            monkeypatch.delenv(key)
    return {
        "SYNCJOBS_DATABASE_URL": pg_repo.engine.url.render_as_string(hide_password=False),
        "SYNCJOBS_TABLE_PREFIX": pg_repo.tables.prefix,
        "SYNCJOBS_BROKER_URL": redis_server.url,
        "SYNCJOBS_IMPORTS": json.dumps([TIMED_JOBS]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


@pytest.fixture
def host(default_env: dict[str, str], timed_jobs: ModuleType) -> Iterator[SyncJobs]:
    """The submitting side, in this process, on the same settings as the workers."""
    values = {
        k.removeprefix("SYNCJOBS_").lower(): v
        for k, v in default_env.items()
        if k.startswith("SYNCJOBS_")
    }
    values["imports"] = json.loads(values["imports"])
    app = create_app(Settings(_env_file=None, **values))
    yield app
    _current.set_app(None)
    app.close()


@pytest.fixture
def group_workers(default_env: dict[str, str], tmp_path: Path) -> Iterator[FileWorkers]:
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    workers = FileWorkers(default_env, logs, isolated=True)
    yield workers
    workers.stop_all()


class Submitter(threading.Thread):
    """Submits the jobs in turn, waiting while an owner is at its active-job limit.

    It submits no more than ``allowed`` jobs, which the test raises between kills so that
    every kill finds work in flight whatever the pace of recovery.
    """

    def __init__(self, app: SyncJobs, name: str, plan: list[tuple[str, float]]) -> None:
        super().__init__(name="submitter", daemon=True)
        self.app, self.job_type, self.plan = app, name, plan
        #: Held by the test while it kills and restarts the workers.
        self.gate = threading.Lock()
        self.halt = threading.Event()
        self.allowed = 0
        self.seconds: dict[str, float] = {}  # job id -> its run time
        #: The longest a submit waited for its owner's slot (limit errors, retried).
        self.longest_wait = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for owner, seconds in self.plan:
                while len(self.seconds) >= self.allowed and not self.halt.is_set():
                    time.sleep(0.02)
                began = time.monotonic()
                while not self.halt.is_set():
                    if self._submit(owner, seconds):
                        break
                    time.sleep(0.05)
                self.longest_wait = max(self.longest_wait, time.monotonic() - began)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _submit(self, owner: str, seconds: float) -> bool:
        with self.gate:
            try:
                job = self.app.submit(self.job_type, owner_id=owner, params={"seconds": seconds})
            except ConcurrencyLimitError:
                return False
            self.seconds[job.id] = seconds
            return True


@dataclass
class Kill:
    """One SIGKILL of the worker group and what it held."""

    number: int
    group: int
    killed_at: float  # wall clock
    restart: datetime
    restart_mono: float
    running: set[str]  # processing at the kill
    prefetched: set[str]  # pending, their message fetched by the dead group but not started
    queued: set[str]  # pending, their message still in the queue
    finished: dict[str, float] = field(default_factory=dict)  # job -> s after the restart

    @property
    def held(self) -> set[str]:
        return self.running | self.prefetched | self.queued

    @property
    def recovery_s(self) -> float:
        return max(self.finished.values(), default=0.0)

    def summary(self) -> str:
        unfinished = len(self.held - set(self.finished))
        took = f"recovery_s={self.recovery_s:.1f}"
        if unfinished:
            waited = (utcnow() - self.restart).total_seconds()
            took = f"recovery_s>{waited:.1f} ({unfinished} still unfinished)"
        return (
            f"kill {self.number}: running={len(self.running)} "
            f"prefetched={len(self.prefetched)} queued={len(self.queued)} {took}"
        )


def ledger(app: SyncJobs, name: str) -> dict[str, Job]:
    jobs = app.repository.list_jobs(
        owner_id=None, status=None, job_type=name, limit=100_000, offset=0
    )
    return {j.id: j for j in jobs}


def unacked_job_ids(client: redis.Redis) -> set[str]:
    """Jobs whose message some worker fetched and has not acknowledged yet."""
    found: set[str] = set()
    for key in client.scan_iter(match="dramatiq:__acks__.*"):
        _, _, queue = key.decode().removeprefix("dramatiq:__acks__.").partition(".")
        ids = list(client.smembers(key))
        if not ids:
            continue
        for data in client.hmget(f"dramatiq:{queue}.msgs", ids):
            if data is not None:
                args = json.loads(data).get("args") or [""]
                found.add(str(args[0]))
    return found


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll ``check`` until true (True) or until ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def victims_ready(
    app: SyncJobs, client: redis.Redis, name: str, since: datetime, submitter: Submitter
) -> Callable[[], bool]:
    """True when the live group runs a job mid-way and holds a prefetched, unstarted one."""

    def check() -> bool:
        if submitter.error is not None:
            raise submitter.error
        jobs = ledger(app, name)
        running = [
            j
            for j in jobs.values()
            if j.status is JobStatus.PROCESSING
            and (j.progress_done or 0) > 0
            and j.started_at is not None
            and j.started_at >= since
        ]
        if not running:
            return False
        pending = {i for i, j in jobs.items() if j.status is JobStatus.PENDING}
        return bool(pending & unacked_job_ids(client))

    return check


def lateness(kill: Kill, seconds: dict[str, float], jobs: dict[str, Job]) -> list[str]:
    """Jobs held at ``kill`` that finished (or not yet) later than the limit allows."""
    late = []
    now = (utcnow() - kill.restart).total_seconds()
    for job_id in sorted(kill.held):
        job = jobs[job_id]
        allowed = RECOVERY_LIMIT + seconds[job_id]
        took = kill.finished.get(job_id, now)
        if took > allowed:
            state = "finished" if job_id in kill.finished else f"still {job.status.value}"
            where = "running" if job_id in kill.running else "prefetched"
            where = where if job_id not in kill.queued else "queued"
            late.append(
                f"  {job_id} ({job.owner_id}, {where} at the kill, {seconds[job_id]:g} s job, "
                f"attempts={job.attempts}): {state} {took:.1f} s after the restart, "
                f"{took - allowed:.1f} s over the limit of {allowed:.1f} s"
            )
    return late


def await_recovery(app: SyncJobs, name: str, kill: Kill, seconds: dict[str, float]) -> None:
    """Wait (bounded) until every job the kill held finished; record when each did."""
    deadline = kill.restart_mono + _STUCK_AFTER
    while True:
        jobs = ledger(app, name)
        for job_id in kill.held - set(kill.finished):
            job = jobs[job_id]
            if job.is_terminal:
                end = job.completed_at or utcnow()
                kill.finished[job_id] = (end - kill.restart).total_seconds()
        if kill.held <= set(kill.finished) or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def rerun_analysis(
    client: redis.Redis, timed_jobs: ModuleType, prefix: str, kills: list[Kill]
) -> tuple[dict[str, int], dict[str, list[str]], int]:
    """(effects per job, why each duplicated job counts as one, re-runs explained by a kill)."""
    effects = {
        k.decode(): int(v) for k, v in client.hgetall(timed_jobs.effects_key(prefix)).items()
    }
    lines = [json.loads(x) for x in client.lrange(timed_jobs.runs_key(prefix), 0, -1)]
    killed_at = {k.group: k.killed_at for k in kills}
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        runs[line["job"]].append(line)
    duplicates: dict[str, list[str]] = defaultdict(list)
    explained = 0
    for job_id, seen in runs.items():
        ends = {(x["attempt"], x["group"]): x["at"] for x in seen if x["event"] == "end"}
        starts = sorted((x for x in seen if x["event"] == "start"), key=lambda x: x["at"])
        for earlier, later in itertools.combinations(starts, 2):
            key = (earlier["attempt"], earlier["group"])
            stopped = ends.get(key, killed_at.get(earlier["group"], float("inf")))
            if later["at"] < stopped:
                duplicates[job_id].append(
                    f"  {job_id}: attempt {later['attempt']} started while "
                    f"attempt {earlier['attempt']} still ran"
                )
        # Every effect but the last must have been cut off: its group killed after it, before
        # the ledger recorded the completion (the job then rightly runs again).
        done = sorted((at, group) for (_, group), at in ends.items())
        cut_off = sum(1 for at, group in done[:-1] if killed_at.get(group, 0.0) > at)
        extra = effects.get(job_id, 0) - 1
        if extra > 0 and cut_off >= extra:
            explained += extra
        elif extra > 0:
            duplicates[job_id].append(f"  {job_id}: effect recorded {extra + 1} times")
    return effects, dict(duplicates), explained


class Run:
    """The worker group, the scheduler and the submitter of one test run."""

    def __init__(self, app: SyncJobs, name: str, workers: FileWorkers, client: redis.Redis):
        self.app, self.name, self.workers, self.client = app, name, workers, client
        plan = [
            (f"owner-{i % OWNERS}", DURATIONS[(i // OWNERS) % len(DURATIONS)]) for i in range(JOBS)
        ]
        self.submitter = Submitter(app, name, plan)
        self.group = self._start_group()
        self.since = utcnow()
        self.scheduler = workers.start_scheduler()
        self.kills: list[Kill] = []

    def _start_group(self) -> Any:
        return self.workers.start(queues=None, processes=2, threads=THREADS // 2)

    def wait_submitted(self, n: int) -> None:
        """Until ``n`` jobs are submitted (bounded: the submits may stall on owners' slots)."""
        submitter = self.submitter
        if not wait_until(
            lambda: len(submitter.seconds) >= n or submitter.error is not None,
            RECOVERY_LIMIT + 2 * _WORK,
        ):
            self.fail(f"submits stalled at {len(submitter.seconds)} of {JOBS} jobs")

    def wait_for_victims(self) -> None:
        """Until the live group runs a job mid-way, and (if it comes) holds a prefetched one."""
        ready = victims_ready(self.app, self.client, self.name, self.since, self.submitter)
        if wait_until(ready, 15):
            return

        def running() -> bool:
            return any(
                j.status is JobStatus.PROCESSING and j.started_at and j.started_at >= self.since
                for j in ledger(self.app, self.name).values()
            )

        assert wait_until(running, 30), "no job ran on the worker group"

    def kill(self, number: int) -> Kill:
        """SIGKILL the whole worker group (and, with the second kill, the scheduler); restart."""
        with self.submitter.gate:
            unacked = unacked_job_ids(self.client)
            group = self.group.pid
            self.workers.kill(self.group)
            killed_at = time.time()
            if number == 2:
                self.workers.kill(self.scheduler)
            time.sleep(0.1)  # a statement the group sent just before dying commits now
            jobs = ledger(self.app, self.name)
            self.group = self._start_group()
            restart, restart_mono = utcnow(), time.monotonic()
            if number == 2:
                self.scheduler = self.workers.start_scheduler()
        self.since = restart
        pending = {i for i, j in jobs.items() if j.status is JobStatus.PENDING}
        kill = Kill(
            number=number,
            group=group,
            killed_at=killed_at,
            restart=restart,
            restart_mono=restart_mono,
            running={i for i, j in jobs.items() if j.status is JobStatus.PROCESSING},
            prefetched=pending & unacked,
            queued=pending - unacked,
        )
        self.kills.append(kill)
        return kill

    def figures(self) -> str:
        return "\n".join(k.summary() for k in self.kills)

    def fail(self, why: str) -> None:
        raise AssertionError(
            f"{why}\n{self.figures()}\n--- worker logs (tail) ---\n"
            + self.workers.log_text()[-3000:]
        )


def test_worker_group_sigkilled_at_defaults(
    host: SyncJobs,
    timed_jobs: ModuleType,
    group_workers: FileWorkers,
    default_env: dict[str, str],
    redis_server: Any,
    report: Reporter,
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    run = Run(host, timed_jobs.NAME, group_workers, client)
    submitter = run.submitter
    submitter.start()
    try:
        for number in range(1, KILLS + 1):
            # A burst of submits (the second half of this kill's share), then the kill.
            submitter.allowed = number * JOBS // (KILLS + 1)
            run.wait_submitted(submitter.allowed)
            run.wait_for_victims()
            kill = run.kill(number)
            # Submits go on while the jobs of the dead group are recovered, as a host's would.
            submitter.allowed += JOBS // (KILLS + 1) // 2
            await_recovery(host, timed_jobs.NAME, kill, submitter.seconds)
            print(kill.summary(), flush=True)
            late = lateness(kill, submitter.seconds, ledger(host, timed_jobs.NAME))
            if kill.held - set(kill.finished):
                run.fail(
                    f"kill {number}: {len(kill.held - set(kill.finished))} of "
                    f"{len(kill.held)} jobs held at the kill did not finish within "
                    f"{_STUCK_AFTER:.0f} s of the restart:\n" + "\n".join(late)
                )
            if late:
                print(f"kill {number}: late jobs\n" + "\n".join(late), flush=True)
        submitter.allowed = JOBS
        run.wait_submitted(JOBS)
        if not wait_until(
            lambda: all(j.is_terminal for j in ledger(host, timed_jobs.NAME).values()),
            RECOVERY_LIMIT + _WORK,
        ):
            run.fail("jobs did not finish after the last kill")
    finally:
        submitter.halt.set()
        submitter.join(10)
    if submitter.error is not None:
        raise submitter.error

    jobs = ledger(host, timed_jobs.NAME)
    prefix = default_env["SYNCJOBS_TABLE_PREFIX"]
    effects, duplicates, explained = rerun_analysis(client, timed_jobs, prefix, run.kills)
    lost = [
        f"  {i} {j.status.value} {j.error_code}: {j.error_message}"
        for i, j in jobs.items()
        if j.status is not JobStatus.COMPLETED or effects.get(i, 0) == 0
    ]
    lost += [f"  {i}: submitted, not in the ledger" for i in set(submitter.seconds) - set(jobs)]
    recovery_max = max(k.recovery_s for k in run.kills)
    report(
        "worker_group_sigkilled_at_defaults",
        jobs=len(jobs),
        faults=len(run.kills),
        lost=len(lost),
        duplicated=len(duplicates),
        recovery_max_s=recovery_max,
    )
    print(
        f"{run.figures()}\nre-runs after an effect cut off by a kill: {explained}; "
        f"longest wait for an owner's slot: {submitter.longest_wait:.1f} s",
        flush=True,
    )
    late = [line for k in run.kills for line in lateness(k, submitter.seconds, jobs)]
    assert late == [], (
        f"jobs held at a kill finished more than {RECOVERY_LIMIT:.0f} s (plus their own run "
        f"time) after the restart:\n" + "\n".join(late) + "\n" + run.figures()
    )
    assert all(k.running for k in run.kills), "a kill found no running job\n" + run.figures()
    assert any(k.prefetched for k in run.kills), (
        "no kill found a prefetched, unstarted message\n" + run.figures()
    )
    assert lost == [], "lost:\n" + "\n".join(lost)
    assert duplicates == {}, "duplicated:\n" + "\n".join(
        why for whys in duplicates.values() for why in whys
    )
    assert len(jobs) == JOBS
