"""Group commit: a worker process's ledger writes of one kind, many jobs in one commit.

Each worker thread that claims or ends a job hands the write to the process's ``GroupCommit``
for that kind of write. When no group is being written, the thread leads: it applies every
write waiting at that moment (up to ``max_jobs``, its own among them) with one store call
(``BatchFinisher.finish_jobs`` for the ends: one statement and one WAL flush on PostgreSQL,
one transaction on SQLite; ``BatchClaimer.claim_jobs`` for the claims). Threads that arrive
while a group is in flight queue up; when it is written, each of its threads is released, and
the first thread still queued leads the next group. So a lone job is written at once by its
own thread, with no hand-off to another thread, and a busy process batches by itself;
nothing waits on a timer. A thread returns only once its write is committed, and an ending
thread only then lets Dramatiq acknowledge its message, so a job's end is durable before its
message is acknowledged, as with one commit per job. See docs/architecture.md.
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
    """One thread's write, and what became of it (or that the thread leads the next group)."""

    __slots__ = ("error", "lead", "ready", "result", "write")

    def __init__(self, write: W) -> None:
        self.write = write
        #: Held until the write is applied or its thread is made leader: a plain lock is the
        #: cheapest hand-off between two threads.
        self.ready = threading.Lock()
        self.ready.acquire()
        self.lead = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[W, R]):
    """Applies the writes of a process's worker threads together, one group per store call."""

    def __init__(
        self,
        apply: Callable[[Sequence[W]], Sequence[R | None]],
        *,
        max_jobs: int = MAX_GROUP,
    ) -> None:
        self.apply = apply
        self.max_jobs = max(1, max_jobs)
        self._lock = threading.Lock()
        self._queue: list[_Waiting[W, R]] = []
        self._leading = False
        self._pid = os.getpid()
        #: How many store calls and writes this process made (for tests and benchmarks).
        self.commits = 0
        self.writes = 0

    def write(self, write: W) -> R | None:
        """Apply one write with others; return its result once committed, or raise why not."""
        waiting: _Waiting[W, R] = _Waiting(write)
        with self._lock:
            if self._pid != os.getpid():  # a forked child: its parent's threads are gone
                self._pid, self._queue, self._leading = os.getpid(), [], False
            self._queue.append(waiting)
            lead = not self._leading
            self._leading = True
        if not lead:
            waiting.ready.acquire()
        if lead or waiting.lead:
            self._lead()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def _lead(self) -> None:
        """Write the waiting group (this thread's write is first in it); pass the lead on."""
        with self._lock:
            batch = self._queue[: self.max_jobs]
            del self._queue[: self.max_jobs]
        try:
            self._write(batch)
        finally:
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.ready.release()
                else:
                    self._leading = False

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
            batch[0].ready.release()
            return
        self.commits += 1
        self.writes += len(batch)
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result
            waiting.ready.release()
