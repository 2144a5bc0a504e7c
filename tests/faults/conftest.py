"""Fixtures of the fault suite, and the ``FAULT …`` summary it prints at the end of the run.

Every case reports one line, ``FAULT <case>: jobs=N faults=N lost=N duplicated=N``: printed
as it happens (seen with ``-s``) and repeated in the terminal summary of every run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..integration.conftest import Workers, broker, broker_url, client, env, workers

__all__ = [
    "FileWorkers",
    "Reporter",
    "broker",
    "broker_url",
    "client",
    "env",
    "file_workers",
    "report",
    "workers",
]

_LINES: list[str] = []

Reporter = Callable[..., str]


@pytest.fixture
def report() -> Reporter:
    """``report(case, jobs=, faults=, lost=, duplicated=[, recovery_max_s=])``: print and keep
    the FAULT line (``recovery_max_s``: the slowest recovery after a fault, in seconds)."""

    def emit(
        case: str,
        *,
        jobs: int,
        faults: int,
        lost: int,
        duplicated: int,
        recovery_max_s: float | None = None,
    ) -> str:
        line = f"FAULT {case}: jobs={jobs} faults={faults} lost={lost} duplicated={duplicated}"
        if recovery_max_s is not None:
            line += f" recovery_max_s={recovery_max_s:.1f}"
        print(line, flush=True)
        _LINES.append(line)
        return line

    return emit


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _LINES:
        terminalreporter.section("fault suite")
        for line in _LINES:
            terminalreporter.write_line(line)


class FileWorkers(Workers):
    """``dramatiq syncjobs.actors`` processes whose stderr goes to a file (never a full pipe).

    With ``isolated=True`` the processes see no ``SYNCJOBS_*`` variable of this process and run
    in the log directory (no ``.env`` file there): their settings are exactly ``env``.
    """

    def __init__(self, env: dict[str, str], logs: Path, *, isolated: bool = False) -> None:
        super().__init__(env)
        self.logs = logs
        self.isolated = isolated
        self.log_files: list[Path] = []

    def start(
        self,
        queues: str | None = "syncjobs",
        *,
        processes: int = 1,
        threads: int = 2,
        **overrides: str,
    ) -> subprocess.Popen[bytes]:
        """Start ``dramatiq syncjobs.actors`` (every declared queue when ``queues`` is None)."""
        command = [sys.executable, "-m", "dramatiq", "syncjobs.actors"]
        command += ["--processes", str(processes), "--threads", str(threads)]
        if queues is not None:
            command += ["--queues", *queues.split(",")]
        return self._spawn(command, "worker", overrides)

    def start_scheduler(self, **overrides: str) -> subprocess.Popen[bytes]:
        """Start ``periodiq syncjobs.actors``, the scheduler that sends the minute tick."""
        periodiq = Path(sys.executable).with_name("periodiq")
        return self._spawn([str(periodiq), "syncjobs.actors"], "scheduler", overrides)

    def _spawn(
        self, command: list[str], kind: str, overrides: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        path = self.logs / f"{kind}-{len(self.log_files)}.log"
        self.log_files.append(path)
        inherited = dict(os.environ)
        if self.isolated:
            inherited = {k: v for k, v in inherited.items() if not k.startswith("SYNCJOBS_")}
        with path.open("wb") as sink:
            proc = subprocess.Popen(
                command,
                env={**inherited, **self.env, **overrides},
                cwd=self.logs if self.isolated else None,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop one worker gracefully (SIGTERM), killing it if it does not exit."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def log_text(self) -> str:
        """Everything every worker wrote to stderr so far."""
        return "\n".join(p.read_text("utf-8", "replace") for p in self.log_files if p.exists())


@pytest.fixture
def file_workers(env: dict[str, str], tmp_path: Path) -> Iterator[FileWorkers]:
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    workers = FileWorkers(env, logs)
    yield workers
    workers.stop_all()
