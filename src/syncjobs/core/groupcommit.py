"""Group commit: a worker process's terminal writes, many jobs in one durable commit.

Each worker thread that ends a job hands its terminal write (``Finish``) to the process's
``GroupCommit`` and waits. One writer thread takes every write waiting at that moment (up to
``max_jobs``), commits them with ``BatchFinisher.finish_jobs`` (one statement and one WAL flush
on PostgreSQL, one transaction on SQLite), and only then releases each waiting thread, which
only then lets Dramatiq acknowledge its message. So a job's end is durable before its message
is acknowledged, as with one commit per job; while a commit is in flight the next writes
queue up and go together in the next one. Nothing waits on a timer: a lone job is written at
once, and a busy process batches by itself. See docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from .ledger.store import BatchFinisher
from .models import Finish, Job

__all__ = ["MAX_GROUP", "GroupCommit"]

logger = logging.getLogger("syncjobs.tracking")

#: The most terminal writes one commit takes.
MAX_GROUP = 128


@dataclass
class _Waiting:
    """One thread's terminal write, and what became of it."""

    finish: Finish
    done: threading.Event = field(default_factory=threading.Event)
    job: Job | None = None
    error: BaseException | None = None


class GroupCommit:
    """Commits the terminal writes of a process's worker threads together."""

    def __init__(self, store: BatchFinisher, *, max_jobs: int = MAX_GROUP) -> None:
        self.store = store
        self.max_jobs = max(1, max_jobs)
        self._cond = threading.Condition()
        self._queue: list[_Waiting] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        #: How many commits and terminal writes this process made (for tests and benchmarks).
        self.commits = 0
        self.writes = 0

    def finish(self, finish: Finish) -> Job | None:
        """Write one job's end; return once it is durable (as ``finish_job``), or raise why not."""
        waiting = _Waiting(finish)
        with self._cond:
            self._ensure_writer()
            self._queue.append(waiting)
            self._cond.notify()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.job

    def _ensure_writer(self) -> None:
        """Start the writer thread (again in a forked child, whose parent's thread is gone)."""
        if self._pid != os.getpid():
            self._pid, self._thread, self._queue = os.getpid(), None, []
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._write_forever, name="syncjobs-group-commit", daemon=True
            )
            self._thread.start()

    def _write_forever(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                batch = self._queue[: self.max_jobs]
                del self._queue[: self.max_jobs]
            self._write(batch)

    def _write(self, batch: list[_Waiting]) -> None:
        """Commit one group; tell each waiting thread how its write went.

        When a group fails, each of its writes is tried alone, so that one write the database
        refuses does not fail the others with it.
        """
        try:
            ended = self.store.finish_jobs([w.finish for w in batch])
            if len(ended) != len(batch):
                raise RuntimeError(f"finish_jobs gave {len(ended)} results for {len(batch)} writes")
        except BaseException as exc:
            if len(batch) > 1:
                for waiting in batch:
                    self._write([waiting])
                return
            logger.debug("the terminal write of job %s failed", batch[0].finish.job_id)
            batch[0].error = exc  # its thread retries it (a database outage) or reports it
            batch[0].done.set()
            return
        self.commits += 1
        self.writes += len(batch)
        for waiting, job in zip(batch, ended, strict=True):
            waiting.job = job
            waiting.done.set()
