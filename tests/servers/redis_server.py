"""A private ``redis-server`` on a free loopback port, without persistence."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.process import (
    INSTALL_HINT,
    START_TIMEOUT,
    ServerProcess,
    free_port,
    log_tail,
)


class RedisServer(ServerProcess):
    """A private ``redis-server`` on 127.0.0.1, without persistence."""

    _stop_signal = signal.SIGTERM

    def __init__(self, executable: str | None = None) -> None:
        super().__init__()
        self._executable = executable

    @property
    def url(self) -> str:
        """The redis URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path | None:
        """The server's log file while it exists."""
        return None if self._workdir is None else self._workdir / "redis.log"

    def _binary(self) -> str:
        found = shutil.which(self._executable or "redis-server")
        if found is None:
            raise RuntimeError(f"redis-server not found: {INSTALL_HINT}")
        return found

    def start(self) -> None:
        """Launch redis-server on a free port (the same port again after a stop) and wait."""
        if self.pid is not None:
            return
        binary = self._binary()
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="syncjobs-redis-"))
        if self._port is None:
            self._port = free_port()
        self._register_atexit()
        self._launch(binary)

    def _launch(self, binary: str) -> None:
        assert self._workdir is not None and self._port is not None
        log_path = self._workdir / "redis.log"
        self._log_file = log_path.open("ab")
        cmd = [
            binary,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self._port),
            "--protected-mode",
            "no",
            "--dir",
            str(self._workdir),
        ]
        self._proc = subprocess.Popen(
            cmd,
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(log_path)

    def _wait_ready(self, log_path: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._shutdown()
                raise RuntimeError(
                    f"redis-server exited with code {code} on port {self._port}:\n"
                    f"{log_tail(log_path)}"
                )
            if self._command(b"PING", timeout=0.5) == b"+PONG":
                return
            if time.monotonic() > deadline:
                self._shutdown()
                raise RuntimeError(
                    f"redis-server on port {self._port} did not answer PING within "
                    f"{START_TIMEOUT:.0f} s:\n{log_tail(log_path)}"
                )
            time.sleep(0.05)

    def _command(self, command: bytes, timeout: float = 5.0) -> bytes | None:
        """Send one inline command; return the first reply line, or None if unreachable."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.sendall(command + b"\r\n")
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.strip()
        except OSError:
            return None

    def flushall(self) -> None:
        """Delete every key in every database."""
        reply = self._command(b"FLUSHALL")
        if reply != b"+OK":
            raise RuntimeError(f"redis FLUSHALL on port {self.port} failed: {reply!r}")
