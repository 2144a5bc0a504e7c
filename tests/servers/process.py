"""What every throwaway server shares: a free port, its log, stopping it, its lifecycle."""

from __future__ import annotations

import abc
import atexit
import contextlib
import shutil
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import IO, Self

INSTALL_HINT = "run `make services` (scripts/ensure-services.sh) to install it"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a server's log, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def terminate(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send ``sig`` and wait ``timeout`` seconds; kill the process if it is still there."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class ServerProcess(abc.ABC):
    """Shared lifecycle of the throwaway servers: context manager and atexit safety net."""

    _proc: subprocess.Popen[bytes] | None
    _log_file: IO[bytes] | None

    def __init__(self) -> None:
        self._proc = None
        self._log_file = None
        self._port: int | None = None
        self._workdir: Path | None = None
        self._atexit_registered = False

    @property
    def port(self) -> int:
        """The TCP port the server listens on (fixed once started)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._port

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    _stop_signal: int

    @abc.abstractmethod
    def start(self) -> None:
        """Start the server."""

    @abc.abstractmethod
    def _binary(self) -> str:
        """The server executable."""

    @abc.abstractmethod
    def _launch(self, binary: str) -> None:
        """Run the server on ``self._port`` with its files in ``self._workdir``."""

    def _shutdown(self) -> None:
        if self._proc is not None:
            terminate(self._proc, self._stop_signal, STOP_TIMEOUT)
            self._proc = None
        self._close_log()

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self._shutdown()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._unregister_atexit()

    def restart(self) -> None:
        """Stop the server and start it again on the same port, keeping its files."""
        if self._port is None or self._workdir is None:
            raise RuntimeError(f"{type(self).__name__}.restart() before start()")
        self._shutdown()
        self._launch(self._binary())

    def _register_atexit(self) -> None:
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _unregister_atexit(self) -> None:
        if self._atexit_registered:
            atexit.unregister(self.stop)
            self._atexit_registered = False

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
