"""The throwaway Redis, PostgreSQL and RabbitMQ servers the test run starts by itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pika
import psycopg
import pytest
import redis

from tests.servers import PostgresServer, RabbitMQServer, RedisServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 0 < port < 65536


def test_redis_set_get_and_restart_on_same_port(own_redis: RedisServer) -> None:
    port = own_redis.port
    assert own_redis.url == f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(own_redis.url)
    try:
        client.set("k", "v")
        assert client.get("k") == b"v"
        own_redis.flushall()
        assert client.get("k") is None
        client.set("k", "v2")

        own_redis.restart()
        assert own_redis.port == port
        client.connection_pool.disconnect()
        assert client.ping()
        assert client.get("k") is None  # no persistence
        client.set("k", "v3")
        assert client.get("k") == b"v3"
    finally:
        client.close()


def test_postgres_select_1(own_postgres: PostgresServer) -> None:
    assert own_postgres.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert own_postgres.url.endswith("/syncjobs_test")
    with psycopg.connect(own_postgres.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT current_database()").fetchone() == ("syncjobs_test",)


def test_postgres_runs_as_non_root(own_postgres: PostgresServer) -> None:
    with psycopg.connect(own_postgres.dsn) as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row is not None
    data_dir = Path(row[0])
    pid = own_postgres.pid
    assert pid is not None
    proc_uid = int(
        next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        ).split()[1]
    )
    assert data_dir.stat().st_uid == proc_uid
    if os.geteuid() == 0:
        assert proc_uid != 0
    else:
        assert proc_uid == os.geteuid()


def test_postgres_restart_keeps_data(own_postgres: PostgresServer) -> None:
    port = own_postgres.port
    with psycopg.connect(own_postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO kept VALUES (1, 'one'), (2, 'two')")

    own_postgres.restart()

    assert own_postgres.port == port
    with psycopg.connect(own_postgres.dsn) as conn:
        rows = conn.execute("SELECT id, name FROM kept ORDER BY id").fetchall()
    assert rows == [(1, "one"), (2, "two")]


def test_stop_removes_temp_dirs() -> None:
    server = RedisServer()
    server.start()
    log = server.log_path
    assert log is not None and log.parent.is_dir()
    server.stop()
    assert not log.parent.exists()
    assert server.pid is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_rabbitmq_keeps_durable_messages_across_a_restart_and_stops_clean() -> None:
    server = RabbitMQServer()
    server.start()
    try:
        port, workdir = server.port, server.log_path.parent if server.log_path else None
        assert server.url == f"amqp://guest:guest@127.0.0.1:{port}/%2F"
        assert workdir is not None and (workdir / ".erlang.cookie").exists()  # not in ~
        with pika.BlockingConnection(pika.URLParameters(server.url)) as conn:
            channel = conn.channel()
            channel.queue_declare("kept", durable=True)
            channel.basic_publish("", "kept", b"hello", pika.BasicProperties(delivery_mode=2))

        server.restart()
        assert server.port == port
        with pika.BlockingConnection(pika.URLParameters(server.url)) as conn:
            _, _, body = conn.channel().basic_get("kept", auto_ack=True)
        assert body == b"hello"
        server.delete_queues(["kept"])
        pids = [server.pid, server.epmd_pid]
        assert all(pids)
    finally:
        server.stop()
    assert not workdir.exists()
    assert not any(_alive(pid) for pid in pids if pid)
    assert not _processes_mentioning(str(workdir))  # the Erlang VM (beam) is gone too


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and text in cmdline:
            found.append(int(proc.name))
    return found
