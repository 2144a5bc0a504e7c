"""Throwaway Redis and PostgreSQL servers for test runs.

Each server runs in its own temporary directory on a free port of 127.0.0.1 and is
removed again by ``stop()``. The binaries come from the Debian packages ``redis-server``
and ``postgresql`` (``make services`` / ``scripts/ensure-services.sh`` installs them);
a missing binary raises ``RuntimeError``.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = ["PostgresServer", "RedisServer", "free_port"]

_INSTALL_HINT = "run `make services` (scripts/ensure-services.sh) to install it"
_PG_ROOT = Path("/usr/lib/postgresql")
_FALLBACK_PG_USER = "syncjobs-pg"
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def _terminate(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class _Server(abc.ABC):
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
            _terminate(self._proc, self._stop_signal, _STOP_TIMEOUT)
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


class RedisServer(_Server):
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
            raise RuntimeError(f"redis-server not found: {_INSTALL_HINT}")
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
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._shutdown()
                raise RuntimeError(
                    f"redis-server exited with code {code} on port {self._port}:\n"
                    f"{_log_tail(log_path)}"
                )
            if self._command(b"PING", timeout=0.5) == b"+PONG":
                return
            if time.monotonic() > deadline:
                self._shutdown()
                raise RuntimeError(
                    f"redis-server on port {self._port} did not answer PING within "
                    f"{_START_TIMEOUT:.0f} s:\n{_log_tail(log_path)}"
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


def _pg_version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_postgres_bin_dir() -> Path:
    """Return ``/usr/lib/postgresql/<highest version>/bin`` holding initdb and postgres."""
    candidates = [
        d for d in _PG_ROOT.glob("*/bin") if (d / "initdb").is_file() and (d / "postgres").is_file()
    ]
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL server binaries not found under {_PG_ROOT}/<version>/bin: {_INSTALL_HINT}"
        )
    return max(candidates, key=_pg_version_key)


def _traversable_by_others(path: Path) -> bool:
    for part in [path, *path.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and result.returncode != 9:  # 9: user already exists
        raise RuntimeError(f"could not create system user {name!r}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


class PostgresServer(_Server):
    """A private PostgreSQL cluster on 127.0.0.1, tuned for speed, with a test database.

    As root, initdb and postgres run as the ``postgres`` system user (or a created
    ``syncjobs-pg`` system user), since PostgreSQL refuses to run as root.
    """

    database = "syncjobs_test"

    def __init__(self, bin_dir: str | Path | None = None, *, durable: bool = False) -> None:
        super().__init__()
        #: With ``durable``, fsync and synchronous commit stay on, as in production
        #: (benchmarks); without, they are off, which is faster for tests.
        self.durable = durable
        self._bin_dir_arg = Path(bin_dir) if bin_dir is not None else None
        self._bin_dir: Path | None = None
        self._user: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq connection string of the test database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path | None:
        """The cluster's data directory while it exists."""
        return None if self._workdir is None else self._workdir / "data"

    @property
    def log_path(self) -> Path | None:
        """The server's log file while it exists."""
        return None if self._workdir is None else self._workdir / "postgres.log"

    @property
    def run_as(self) -> str:
        """Name of the OS user the server runs as."""
        return self._run_user().pw_name

    _stop_signal = signal.SIGINT  # fast shutdown

    def _binary(self) -> str:
        return self._bin("postgres")

    def _bin(self, name: str) -> str:
        if self._bin_dir is None:
            self._bin_dir = self._bin_dir_arg or find_postgres_bin_dir()
        path = self._bin_dir / name
        if not path.is_file():
            raise RuntimeError(f"PostgreSQL binary {path} not found: {_INSTALL_HINT}")
        return str(path)

    def _run_user(self) -> pwd.struct_passwd:
        if self._user is None:
            if os.geteuid() == 0:
                try:
                    self._user = pwd.getpwnam("postgres")
                except KeyError:
                    self._user = _ensure_system_user(_FALLBACK_PG_USER)
            else:
                self._user = pwd.getpwuid(os.geteuid())
        return self._user

    def _popen_kwargs(self) -> dict[str, Any]:
        user = self._run_user()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        kwargs: dict[str, Any] = {"env": env, "cwd": self._workdir, "stdin": subprocess.DEVNULL}
        if os.geteuid() == 0:
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[], umask=0o077)
        return kwargs

    def _make_base(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if os.geteuid() == 0 and not _traversable_by_others(parent):
            parent = Path("/tmp")
            if not _traversable_by_others(parent):
                raise RuntimeError(
                    f"no temp dir the {self.run_as!r} user can reach ({tempfile.gettempdir()})"
                )
        base = Path(tempfile.mkdtemp(prefix="syncjobs-pg-", dir=parent))
        (base / "sock").mkdir()
        if os.geteuid() == 0:
            user = self._run_user()
            for path in (base, base / "sock"):
                os.chown(path, user.pw_uid, user.pw_gid)
        return base

    def start(self) -> None:
        """Create a fresh cluster on a free port, start it and create the test database."""
        if self.pid is not None:
            return
        initdb, postgres = self._bin("initdb"), self._bin("postgres")
        if self._workdir is not None:  # stopped with restart() semantics: reuse
            self._launch(postgres)
            return
        self._workdir = self._make_base()
        self._port = free_port()
        self._register_atexit()
        try:
            self._initdb(initdb)
            self._launch(postgres)
            self._create_database()
        except BaseException:
            self.stop()
            raise

    def _initdb(self, initdb: str) -> None:
        assert self._workdir is not None
        data = self._workdir / "data"
        errors: list[str] = []
        for locale in ("C.UTF-8", "C"):
            result = subprocess.run(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    f"--locale={locale}",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                **self._popen_kwargs(),
            )
            if result.returncode == 0:
                return
            errors.append(f"--locale={locale}: {(result.stdout + result.stderr).strip()}")
            shutil.rmtree(data, ignore_errors=True)
        tail = "\n".join(errors)[-3000:]
        raise RuntimeError(f"initdb failed (as user {self.run_as!r}):\n{tail}")

    def _launch(self, postgres: str) -> None:
        assert self._workdir is not None and self._port is not None
        log_path = self._workdir / "postgres.log"
        self._log_file = log_path.open("ab")
        cmd = [
            postgres,
            "-D",
            str(self._workdir / "data"),
            "-p",
            str(self._port),
            "-k",
            str(self._workdir / "sock"),
            "-c",
            "listen_addresses=127.0.0.1",
            *(
                []
                if self.durable
                else [
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ]
            ),
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        self._proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, **self._popen_kwargs()
        )
        self._wait_ready(log_path)

    def _wait_ready(self, log_path: Path) -> None:
        assert self._proc is not None
        pg_isready = self._bin("pg_isready")
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._shutdown()
                raise RuntimeError(
                    f"postgres exited with code {code} on port {self._port}:\n{_log_tail(log_path)}"
                )
            ready = subprocess.run(
                [
                    pg_isready,
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self._port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-t",
                    "1",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self._shutdown()
                raise RuntimeError(
                    f"postgres on port {self._port} not accepting connections within "
                    f"{_START_TIMEOUT:.0f} s:\n{_log_tail(log_path)}"
                )
            time.sleep(0.1)

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
