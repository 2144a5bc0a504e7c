"""Group commit: a worker process's ledger writes of one kind, many jobs in one commit.

Each worker thread that claims or ends a job hands the write to the process's ``GroupCommit``
for that kind of write and waits. One writer thread takes every write waiting at that moment
(up to ``max_jobs``), applies them with one store call (``BatchFinisher.finish_jobs`` for the
ends: one statement and one WAL flush on PostgreSQL, one transaction on SQLite;
``BatchClaimer.claim_jobs`` for the claims), and only then releases each waiting thread. An
ending thread only then lets Dramatiq acknowledge its message, so a job's end is durable
before its message is acknowledged, as with one commit per job. While a commit is in flight
the next writes queue up and go together in the next one. Nothing waits on a timer: a lone
job is written at once, and a busy process batches by itself. See docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["MAX_GROUP", "GroupCommit"]

logger = logging.getLogger("syncjobs.tracking")

#: The most writes one commit takes.
MAX_GROUP = 128

W = TypeVar("W")
R = TypeVar("R")


class _Waiting(Generic[W, R]):
    """One thread's write, and what became of it."""

    __slots__ = ("done", "error", "result", "write")

    def __init__(self, write: W) -> None:
        self.write = write
        #: Held until the write is applied: a plain lock is the cheapest hand-off between two
        #: threads (an ``Event`` builds a condition and a lock for each wait).
        self.done = threading.Lock()
        self.done.acquire()
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[W, R]):
    """Applies the writes of a process's worker threads together, one group per store call."""

    def __init__(
        self,
        apply: Callable[[Sequence[W]], Sequence[R | None]],
        *,
        name: str = "syncjobs-group-commit",
        max_jobs: int = MAX_GROUP,
    ) -> None:
        self.apply = apply
        self.name = name
        self.max_jobs = max(1, max_jobs)
        self._cond = threading.Condition()
        self._queue: list[_Waiting[W, R]] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._stopping = False
        #: How many store calls and writes this process made (for tests and benchmarks).
        self.commits = 0
        self.writes = 0

    def write(self, write: W) -> R | None:
        """Apply one write with others; return its result once committed, or raise why not."""
        waiting: _Waiting[W, R] = _Waiting(write)
        with self._cond:
            self._ensure_writer()
            self._queue.append(waiting)
            self._cond.notify()
        waiting.done.acquire()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def start(self) -> None:
        """Start the writer thread now (a worker at boot), not at the first write."""
        with self._cond:
            self._ensure_writer()

    def _ensure_writer(self) -> None:
        """Start the writer thread (again in a forked child, whose parent's thread is gone)."""
        if self._pid != os.getpid():
            self._pid, self._thread, self._queue = os.getpid(), None, []
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._write_forever, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the writer thread finish the waiting writes and end (a later write restarts it)."""
        with self._cond:
            self._stopping = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _write_forever(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if self._stopping:
                        self._thread = None
                        return
                    self._cond.wait()
                batch = self._queue[: self.max_jobs]
                del self._queue[: self.max_jobs]
            self._write(batch)

    def _write(self, batch: list[_Waiting[W, R]]) -> None:
        """Apply one group; tell each waiting thread how its write went.

        When a group fails, each of its writes is tried alone, so that one write the database
        refuses does not fail the others with it.
        """
        try:
            results = self.apply([w.write for w in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} writes")
        except BaseException as exc:
            if len(batch) > 1:
                for waiting in batch:
                    self._write([waiting])
                return
            logger.debug("a grouped ledger write failed: %r", exc)
            batch[0].error = exc  # its thread retries it (a database outage) or reports it
            batch[0].done.release()
            return
        self.commits += 1
        self.writes += len(batch)
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result
            waiting.done.release()
