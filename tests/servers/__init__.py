"""Throwaway Redis, PostgreSQL and RabbitMQ servers for the test run and the benchmarks.

Each server runs in its own temporary directory on a free port of 127.0.0.1 and is removed
again by ``stop()``. The binaries come from the Debian packages ``redis-server``,
``postgresql`` and ``rabbitmq-server`` (``make services`` / ``scripts/ensure-services.sh``
installs them); a missing binary raises ``RuntimeError``: the run fails, it never skips. The
pytest fixtures ``redis_server``, ``postgres_server`` and ``rabbitmq_server`` live in
``tests.servers.fixtures``.
"""

from tests.servers.postgres_server import PostgresServer
from tests.servers.process import free_port
from tests.servers.rabbitmq_server import RabbitMQServer
from tests.servers.redis_server import RedisServer

__all__ = ["PostgresServer", "RabbitMQServer", "RedisServer", "free_port"]
