"""A private RabbitMQ node on a free loopback port, with its own epmd and files.

Nothing outside its temporary directory is read or written: the node's config, environment
file, plugins list, database (mnesia), logs and Erlang cookie (``HOME``) all live there, and
it registers with an epmd of its own on a free port, so a system RabbitMQ or epmd is never
touched. Erlang distribution and epmd listen on 127.0.0.1 only. The binaries come from the
Debian package ``rabbitmq-server``; it runs as the current user, root included.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from tests.servers.process import (
    INSTALL_HINT,
    STOP_TIMEOUT,
    ServerProcess,
    free_port,
    log_tail,
    terminate,
)

#: RabbitMQ boots in a few seconds on an idle machine; a loaded one may take longer.
RABBIT_START_TIMEOUT = 90.0
#: Where the Debian package installs the server scripts (``/usr/sbin`` holds wrappers that
#: switch to the ``rabbitmq`` user and read ``/etc/rabbitmq``).
RABBIT_BIN_DIR = Path("/usr/lib/rabbitmq/bin")
#: The AMQP 0-9-1 protocol header; a live broker answers it with a Connection.Start frame.
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def distinct_free_ports(count: int) -> list[int]:
    """``count`` different TCP ports of 127.0.0.1 that are free right now."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class RabbitMQServer(ServerProcess):
    """A private RabbitMQ node on 127.0.0.1 (user ``guest``, vhost ``/``)."""

    _stop_signal = signal.SIGTERM

    def __init__(self, bin_dir: str | Path | None = None) -> None:
        super().__init__()
        self._bin_dir = Path(bin_dir) if bin_dir is not None else RABBIT_BIN_DIR
        self._epmd: subprocess.Popen[bytes] | None = None
        self._epmd_log: IO[bytes] | None = None
        self._dist_port: int | None = None
        self._epmd_port: int | None = None

    @property
    def url(self) -> str:
        """The AMQP URL of the default vhost."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def nodename(self) -> str:
        """The Erlang node name, unique per port."""
        return f"syncjobs-test-{self.port}@localhost"

    @property
    def log_path(self) -> Path | None:
        """The node's log file while it exists."""
        return None if self._workdir is None else self._workdir / "rabbit.log"

    @property
    def epmd_pid(self) -> int | None:
        """The process id of the node's own epmd while it runs."""
        if self._epmd is None or self._epmd.poll() is not None:
            return None
        return self._epmd.pid

    def _binary(self) -> str:
        path = self._bin_dir / "rabbitmq-server"
        if not path.is_file():
            raise RuntimeError(f"RabbitMQ server script {path} not found: {INSTALL_HINT}")
        return str(path)

    def _epmd_binary(self) -> str:
        found = shutil.which("epmd") or shutil.which("epmd", path="/usr/lib/erlang/bin")
        if found is None:
            raise RuntimeError(f"epmd (Erlang) not found: {INSTALL_HINT}")
        return found

    def start(self) -> None:
        """Write a fresh config, start epmd and the node on free ports, and wait for AMQP."""
        if self.pid is not None:
            return
        binary, epmd = self._binary(), self._epmd_binary()
        if self._workdir is not None:  # stopped with restart() semantics: reuse
            self._launch(binary)
            return
        self._workdir = Path(tempfile.mkdtemp(prefix="syncjobs-rabbit-"))
        self._port, self._dist_port, self._epmd_port = distinct_free_ports(3)
        self._register_atexit()
        try:
            self._write_config()
            self._start_epmd(epmd)
            self._launch(binary)
        except BaseException:
            self.stop()
            raise

    def _write_config(self) -> None:
        assert self._workdir is not None
        (self._workdir / "rabbitmq.conf").write_text(
            "loopback_users.guest = true\n"
            "disk_free_limit.absolute = 1MB\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (self._workdir / "rabbitmq-env.conf").write_text("")
        (self._workdir / "enabled_plugins").write_text("[].\n")

    def _environment(self) -> dict[str, str]:
        assert self._workdir is not None
        work = self._workdir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(work),  # the Erlang cookie is written here
            ERL_EPMD_PORT=str(self._epmd_port),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self._dist_port),
            RABBITMQ_CONF_ENV_FILE=str(work / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(work / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(work / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(work / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(work / "mnesia"),
            RABBITMQ_LOG_BASE=str(work / "log"),
            RABBITMQ_LOGS=str(work / "rabbit.log"),
            RABBITMQ_PID_FILE=str(work / "rabbit.pid"),
            # Distribution on loopback only; never spawn a (daemonized, lasting) epmd of its
            # own: the one started here is already listening.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false"
            ),
        )
        return env

    def _start_epmd(self, epmd: str) -> None:
        assert self._workdir is not None and self._epmd_port is not None
        self._epmd_log = (self._workdir / "epmd.log").open("ab")
        self._epmd = subprocess.Popen(
            [epmd, "-port", str(self._epmd_port), "-address", "127.0.0.1"],
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._epmd_log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not _accepts(self._epmd_port):
            if self._epmd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"epmd on port {self._epmd_port} did not start:\n"
                    f"{log_tail(self._workdir / 'epmd.log')}"
                )
            time.sleep(0.05)

    def _launch(self, binary: str) -> None:
        assert self._workdir is not None and self._port is not None
        out_path = self._workdir / "server.out"
        self._log_file = out_path.open("ab")
        self._proc = subprocess.Popen(
            [binary],
            cwd=self._workdir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(out_path)

    def _wait_ready(self, out_path: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + RABBIT_START_TIMEOUT
        while not self._amqp_answers():
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._shutdown()
                raise RuntimeError(
                    f"rabbitmq-server exited with code {code} on port {self._port}:\n"
                    f"{log_tail(out_path)}\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self._shutdown()
                raise RuntimeError(
                    f"rabbitmq-server on port {self._port} did not answer AMQP within "
                    f"{RABBIT_START_TIMEOUT:.0f} s:\n{log_tail(out_path)}\n{self._log_tail()}"
                )
            time.sleep(0.1)

    def _log_tail(self) -> str:
        return log_tail(self.log_path) if self.log_path is not None else "(no log)"

    def _amqp_answers(self) -> bool:
        """Whether the node answers the AMQP protocol header with a method frame."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(_AMQP_HEADER)
                first = sock.recv(1)
        except OSError:
            return False
        return first == b"\x01"

    def stop(self) -> None:
        """Stop the node and its epmd, and remove their files."""
        self._shutdown()
        if self._epmd is not None:
            terminate(self._epmd, signal.SIGTERM, STOP_TIMEOUT)
            self._epmd = None
        if self._epmd_log is not None:
            self._epmd_log.close()
            self._epmd_log = None
        super().stop()

    def delete_queues(self, names: list[str]) -> None:
        """Delete these queues with their delay (``.DQ``) and dead-letter (``.XQ``) queues."""
        delete_queues(self.url, names)


def delete_queues(url: str, names: list[str]) -> None:
    """Delete, on the broker at ``url``, each queue named and its ``.DQ`` and ``.XQ``."""
    import pika  # the rabbitmq extra; only the tests that use a RabbitMQ need it

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        for name in names:
            for queue in (name, f"{name}.DQ", f"{name}.XQ"):
                channel.queue_delete(queue)


def purge_queues(url: str, names: list[str]) -> None:
    """Drop the ready messages of each queue named and of its ``.DQ``, if the queue exists."""
    import pika

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        for name in names:
            for queue in (name, f"{name}.DQ"):
                channel = connection.channel()
                try:
                    channel.queue_purge(queue)
                    channel.close()
                except pika.exceptions.ChannelClosedByBroker:
                    pass  # 404: never declared


def queue_length(url: str, name: str) -> int:
    """The ready messages of queue ``name`` (not those delivered and not yet acknowledged)."""
    import pika

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        declared = connection.channel().queue_declare(name, passive=True)
        return int(declared.method.message_count)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
