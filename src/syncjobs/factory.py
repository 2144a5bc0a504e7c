"""Build a broker, a repository and a whole app from settings."""

from __future__ import annotations

import importlib

import dramatiq
from dramatiq.brokers.stub import StubBroker

from ._urls import mask_password as _without_password
from .app import Deps, SyncJobs, register_actors
from .connections.credentials import SQLCredentialStore, TokenCipher
from .core.current import APP_LOCK, current_app
from .errors import ConfigurationError
from .settings import Settings
from .storage.sql import SQLAlchemyRepository

__all__ = ["create_app", "create_broker", "default_deps", "get_app", "import_job_modules"]


def create_broker(settings: Settings) -> dramatiq.Broker:
    """Return the broker ``settings.broker_url`` names: Redis, RabbitMQ or the in-memory stub."""
    url = settings.broker_url
    if url.startswith("memory:"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_broker(settings)
    if url.startswith(("amqp://", "amqps://")):
        return _rabbitmq_broker(url)
    raise ConfigurationError(
        f"unsupported broker URL {_without_password(url)!r}: "
        "use redis://…, amqp://… (RabbitMQ) or memory://"
    )


def _redis_broker(settings: Settings) -> dramatiq.Broker:
    try:
        from dramatiq.brokers.redis import RedisBroker
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "the Redis broker needs the redis extra: pip install 'syncjobs[redis]'"
        ) from None
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.broker_url,
        heartbeat_timeout=int(settings.broker_heartbeat_timeout * 1000),
        maintenance_chance=settings.broker_maintenance_chance,
    )


def _rabbitmq_broker(url: str) -> dramatiq.Broker:
    """RabbitMQ; publisher confirms on, so a message the broker did not take fails submit."""
    try:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "the RabbitMQ broker needs the rabbitmq extra: pip install 'syncjobs[rabbitmq]'"
        ) from None
    try:
        return RabbitmqBroker(url=url, confirm_delivery=True)
    except ValueError as exc:  # pika's word for a malformed URL or query parameter
        raise ConfigurationError(f"bad RabbitMQ URL {_without_password(url)!r}: {exc}") from None


def import_job_modules(settings: Settings) -> None:
    """Import the modules ``SYNCJOBS_IMPORTS`` names; ConfigurationError names one that fails."""
    for module in settings.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {module!r}: {exc}") from exc


def create_app(
    settings: Settings | None = None,
    *,
    broker: dramatiq.Broker | None = None,
    set_global_broker: bool = False,
) -> SyncJobs:
    """Build the app ``settings`` describe: broker, SQL repository, every declared job type.

    Pass ``broker`` to bind syncjobs to your own Dramatiq broker (its actors and middleware
    stay); ``settings.broker_url`` is then not used. ``set_global_broker`` makes the app's
    broker Dramatiq's global one.
    """
    settings = settings or Settings()
    import_job_modules(settings)
    if broker is None:
        broker = create_broker(settings)
    if set_global_broker:
        dramatiq.set_broker(broker)
    repository = SQLAlchemyRepository(
        settings.database_url,
        table_prefix=settings.table_prefix,
        poll_interval=settings.watch_poll_interval,
    )
    try:
        return register_actors(broker, default_deps(repository, settings), settings)
    except BaseException:
        repository.close()  # the broker is as it was: binding is all or nothing
        raise


def default_deps(repository: SQLAlchemyRepository, settings: Settings) -> Deps:
    """Deps on one SQL repository: ledger, accounts, and the encrypted credential store."""
    key = settings.encryption_key
    cipher = TokenCipher(
        key.get_secret_value() if key is not None else None,
        allow_plaintext=settings.allow_plaintext_tokens,
    )
    return Deps(
        repository=repository,
        credentials=SQLCredentialStore(repository.engine, repository.tables, cipher),
    )


def get_app() -> SyncJobs:
    """Return the current application, building the default one from settings if none."""
    with APP_LOCK:
        app = current_app()
        if app is None:
            app = create_app()  # makes itself current
        if not isinstance(app, SyncJobs):
            raise ConfigurationError("the current app was not built by register_actors")
        return app
