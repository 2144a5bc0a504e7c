"""Worker metrics of `dramatiq syncjobs.actors --processes 2`: one exporter, both processes."""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.metrics import scrape
from tests.unit.metrics_helpers import Samples, parse, series, value

from .conftest import wait_for

pytestmark = pytest.mark.integration

N_COUNTS = 24
N_FATAL = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dramatiq:
    """`dramatiq syncjobs.actors` with two processes and the metrics exporter."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._log_file = log.open("wb")  # a file, not a pipe: a full pipe blocks the workers
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "syncjobs.actors",
                "--processes",
                "2",
                "--threads",
                "2",
                "--queues",
                "syncjobs",
            ],
            env={**os.environ, **env, "SYNCJOBS_METRICS_PORT": str(port)},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        #: Where the processes share their metrics: named after dramatiq's main process.
        self.shared_dir = Path(tempfile.gettempdir()) / f"syncjobs-metrics-{self.proc.pid}"

    def metrics(self) -> Samples | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                return parse(r.read())
        except OSError:
            return None

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()  # dramatiq's main process stops its workers and the exporter
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log_file.close()
        return self.log.read_text(errors="replace")


@pytest.fixture
def dramatiq(env: dict[str, str], flaky_jobs: str, tmp_path: Path) -> Iterator[Dramatiq]:
    # The default margins before a job or a message counts as a dead worker's: no job runs
    # twice here, so each count is exact.
    env.update(SYNCJOBS_JOB_STALE_AFTER="30", SYNCJOBS_BROKER_HEARTBEAT_TIMEOUT="20")
    workers = Dramatiq(env, free_port(), tmp_path / "dramatiq.log")
    try:
        yield workers
    finally:
        workers.stop()
        shutil.rmtree(workers.shared_dir, ignore_errors=True)


def by_job_type(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    found = {}
    for key, n in series(samples, name).items():
        as_dict = dict(key)
        if all(as_dict.get(k) == v for k, v in labels.items()):
            found[as_dict["job_type"]] = n
    return found


def test_two_worker_processes_are_counted_once_each_by_one_exporter(
    client: Callable[..., SyncJobs], dramatiq: Dramatiq, flaky_jobs: str
) -> None:
    app = client()
    # The exporter starts once every worker process has booted.
    wait_for(lambda: dramatiq.metrics() is not None, 60)
    counts = [
        app.submit("syncjobs.count", owner_id=f"u{i}", params={"to": 3, "step": 0.05})
        for i in range(N_COUNTS)
    ]
    fatal = [
        app.submit(flaky_jobs, owner_id=f"f{i}", params={"fatal": True}) for i in range(N_FATAL)
    ]
    for job in counts + fatal:
        final = list(app.watch(job.id, owner_id=job.owner_id, timeout=90))[-1]
        assert final.is_terminal, final
    finals = [app.status(j.id, owner_id=j.owner_id) for j in counts]
    assert {j.status for j in finals} == {JobStatus.COMPLETED}
    # Both processes ran jobs (worker ids are host:pid:thread) ...
    assert len({j.worker_id.split(":")[1] for j in finals if j.worker_id}) == 2
    assert {j.attempts for j in finals} == {1}
    # ... and the exporter sums them: the counts settle once the last outcome is counted.
    done = "syncjobs_jobs_finished_total"

    def all_counted() -> bool:
        s = dramatiq.metrics()
        if s is None:
            return False
        ended = [n for k, n in series(s, done).items() if dict(k)["outcome"] != "skipped"]
        return sum(ended) == N_COUNTS + N_FATAL

    wait_for(all_counted, 30)
    s = dramatiq.metrics()
    assert s is not None
    started = by_job_type(s, "syncjobs_jobs_started_total")
    assert started == {"syncjobs.count": N_COUNTS, flaky_jobs: N_FATAL}
    assert by_job_type(s, done, outcome="completed") == {"syncjobs.count": N_COUNTS}
    assert by_job_type(s, done, outcome="failed") == {flaky_jobs: N_FATAL}
    timed = by_job_type(s, "syncjobs_job_duration_seconds_count", outcome="completed")
    assert timed == {"syncjobs.count": N_COUNTS}
    assert by_job_type(s, "syncjobs_dead_letters_total") == {flaky_jobs: N_FATAL}
    assert set(by_job_type(s, "syncjobs_jobs_running").values()) == {0.0}
    # The ledger's side, as the dashboard's /metrics renders it.
    ledger = parse(scrape(app)[0])
    jobs = {"job_type": "syncjobs.count", "status": "completed"}
    assert value(ledger, "syncjobs_jobs", **jobs) == N_COUNTS
    assert value(ledger, "syncjobs_ledger_dead_letters", job_type=flaky_jobs) == N_FATAL
    assert math.isfinite(value(ledger, "syncjobs_worker_last_seen_age_seconds"))  # beats seen

    assert dramatiq.shared_dir.is_dir()
    log = dramatiq.stop()
    assert not dramatiq.shared_dir.exists(), log  # the exporter removed it when it stopped
