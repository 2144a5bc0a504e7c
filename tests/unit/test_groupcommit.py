"""The group commit's hand-offs: who writes a group, what goes in it, and how failures split.

No database here: ``apply`` is a plain function that records each group and can be held at a
gate, so the tests decide exactly which writes are waiting when a group is taken.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from syncjobs.core.groupcommit import GroupCommit


class Store:
    """Records each group it applies and the thread that applied it; may be held or refuse."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.refused: set[int] = set()

    def apply(self, writes: Sequence[int]) -> list[str]:
        self.entered.set()
        self.gate.wait(30)
        if self.refused & set(writes):
            raise ValueError(f"refused {sorted(self.refused & set(writes))}")
        self.groups.append(list(writes))
        self.threads.append(threading.current_thread().name)
        return [f"r{w}" for w in writes]


def test_a_lone_write_is_applied_at_once_by_the_writer_thread() -> None:
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.apply, name="writer")
    assert group.write(7) == "r7"
    assert store.groups == [[7]]
    # Not the calling thread: a time limit that interrupts a worker thread cannot stop the
    # writes of the others.
    assert store.threads == ["writer"]
    assert (group.commits, group.writes) == (1, 1)
    group.stop()


Writers = tuple[list[threading.Thread], dict[int, object]]


def _writers(group: GroupCommit[int, str], ns: range) -> Writers:
    results: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            results[n] = group.write(n)
        except Exception as exc:  # the test reads what each thread got
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,), name=f"w{n}") for n in ns]
    return threads, results


def _wait_queued(group: GroupCommit[int, str], count: int) -> None:
    done = threading.Event()
    for _ in range(3000):
        with group._cond:
            if len(group._queue) >= count:
                done.set()
                break
        done.wait(0.01)
    assert done.is_set(), f"fewer than {count} writes queued"


def _behind_a_held_commit(
    group: GroupCommit[int, str],
    store: Store,
    later: range,
    meanwhile: Callable[[list[threading.Thread]], None] = lambda threads: None,
) -> dict[int, object]:
    """Write 0, held at the gate; queue the ``later`` writes behind it; release; each result."""
    store.gate.clear()
    first, first_results = _writers(group, range(1))
    first[0].start()
    assert store.entered.wait(30)  # write 0 is being applied, held at the gate
    others, results = _writers(group, later)
    for t in others:
        t.start()
    _wait_queued(group, len(later))
    meanwhile(others)
    store.gate.set()
    for t in first + others:
        t.join(30)
    return {**first_results, **results}


def test_writes_arriving_during_a_commit_go_together_in_the_next_one() -> None:
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.apply, name="writer")
    results = _behind_a_held_commit(group, store, range(1, 8))
    assert results == {n: f"r{n}" for n in range(8)}
    assert [sorted(g) for g in store.groups] == [[0], [1, 2, 3, 4, 5, 6, 7]]
    assert store.threads == ["writer", "writer"]
    assert (group.commits, group.writes) == (2, 8)


def test_a_thread_interrupted_while_waiting_does_not_stop_the_others() -> None:
    """Dramatiq's time limit raises in a worker thread; the group is written all the same."""
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.apply)
    results = _behind_a_held_commit(
        group, store, range(1, 4), meanwhile=lambda threads: _interrupt(threads[0])
    )
    assert sorted(w for g in store.groups for w in g) == [0, 1, 2, 3]
    assert isinstance(results[1], TimeoutError)
    assert {n: results[n] for n in (2, 3)} == {2: "r2", 3: "r3"}
    assert group.write(9) == "r9"


def _interrupt(thread: threading.Thread) -> None:
    """Raise TimeoutError in ``thread`` as Dramatiq's time limit does (an async exception)."""
    import ctypes

    ident = thread.ident
    assert ident is not None
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(TimeoutError)
    )
    assert done == 1


def test_a_refused_write_fails_only_its_own_thread() -> None:
    store = Store()
    store.refused = {3}
    group: GroupCommit[int, str] = GroupCommit(store.apply)
    results = _behind_a_held_commit(group, store, range(1, 6))
    assert isinstance(results.pop(3), ValueError)
    assert results == {n: f"r{n}" for n in (0, 1, 2, 4, 5)}
    # The group was refused as a whole, then each write was tried alone.
    assert sorted(w for g in store.groups[1:] for w in g) == [1, 2, 4, 5]
    assert all(len(g) == 1 for g in store.groups[1:])


def test_after_a_failed_lone_write_the_next_write_still_commits() -> None:
    store = Store()
    store.refused = {1}
    group: GroupCommit[int, str] = GroupCommit(store.apply)
    with pytest.raises(ValueError, match="refused"):
        group.write(1)
    assert group.write(2) == "r2"
    assert group.write(3) == "r3"


def test_groups_hold_at_most_max_jobs() -> None:
    store = Store()
    group: GroupCommit[int, str] = GroupCommit(store.apply, max_jobs=3)
    results = _behind_a_held_commit(group, store, range(1, 8))
    assert results == {n: f"r{n}" for n in range(8)}
    assert [len(g) for g in store.groups] == [1, 3, 3, 1]
