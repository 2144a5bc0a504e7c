"""A private PostgreSQL cluster on a free loopback port, run by an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.servers.postgres_setup import (
    find_postgres_bin_dir,
    server_user,
    traversable_by_others,
)
from tests.servers.process import INSTALL_HINT, START_TIMEOUT, ServerProcess, free_port, log_tail

#: Settings that trade durability for speed, used unless the server is ``durable``.
FAST_SETTINGS = ["fsync=off", "full_page_writes=off", "synchronous_commit=off"]


class PostgresServer(ServerProcess):
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
            raise RuntimeError(f"PostgreSQL binary {path} not found: {INSTALL_HINT}")
        return str(path)

    def _run_user(self) -> pwd.struct_passwd:
        if self._user is None:
            self._user = server_user()
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
        if os.geteuid() == 0 and not traversable_by_others(parent):
            parent = Path("/tmp")
            if not traversable_by_others(parent):
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
        base = [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]
        for locale in ("C.UTF-8", "C"):
            result = subprocess.run(
                [*base, f"--locale={locale}"],
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
        settings = [
            "listen_addresses=127.0.0.1",
            *([] if self.durable else FAST_SETTINGS),
            "max_connections=200",
            "shared_buffers=128MB",
        ]
        cmd = [postgres, "-D", str(self._workdir / "data"), "-p", str(self._port)]
        cmd += ["-k", str(self._workdir / "sock")]
        for setting in settings:
            cmd += ["-c", setting]
        self._proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, **self._popen_kwargs()
        )
        self._wait_ready(log_path)

    def _wait_ready(self, log_path: Path) -> None:
        assert self._proc is not None
        pg_isready = self._bin("pg_isready")
        probe = [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(self._port)]
        probe += ["-U", "postgres", "-d", "postgres", "-t", "1"]
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._shutdown()
                raise RuntimeError(
                    f"postgres exited with code {code} on port {self._port}:\n{log_tail(log_path)}"
                )
            ready = subprocess.run(
                probe,
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
                    f"{START_TIMEOUT:.0f} s:\n{log_tail(log_path)}"
                )
            time.sleep(0.1)

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
