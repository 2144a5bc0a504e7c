"""The dashboard served for a browser: a SyncJobs app, an in-process worker, uvicorn.

Shared by the browser tests (``tests/browser/conftest.py``) and ``scripts/screenshots.py``:

- ``declare_jobs`` adds the job types the tests drive to a registry: ``browser.stepper``
  advances one step each time the test releases it (``Gates.step``), ``browser.brittle``
  fails for good while ``Gates.failing`` is set;
- ``build_app`` builds a SyncJobs app on a Dramatiq ``StubBroker`` and the given repository;
- ``running_dashboard`` runs a worker for it, mounts ``syncjobs.web.dashboard`` behind an
  operator cookie, and serves it with uvicorn on a free loopback port.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel, Field
from selenium.webdriver.remote.webdriver import WebDriver
from starlette.requests import HTTPConnection

from syncjobs import FatalError, JobContext
from syncjobs.app import Deps, SyncJobs, register_actors
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.core import current as _current
from syncjobs.core.ledger.store import JobRepository
from syncjobs.core.registry import Registry, default_registry, job_type
from syncjobs.settings import Settings

__all__ = [
    "OPERATOR_COOKIE",
    "OPERATOR_TOKEN",
    "Dashboard",
    "Gates",
    "build_app",
    "declare_jobs",
    "registry_with_builtins",
    "running_dashboard",
    "serving",
]

#: The operator's cookie the test ``authorize`` callable checks.
OPERATOR_COOKIE = "operator"
OPERATOR_TOKEN = "browser-test-operator"


class Steps(BaseModel):
    """Params of ``browser.stepper``."""

    steps: int = Field(default=5, ge=1, le=1000)
    label: str = "export"


class Export(BaseModel):
    """Params of ``browser.brittle``."""

    report: str = "weekly"


@dataclass
class Gates:
    """What the test controls in the job bodies: each step of a stepper, brittle failures."""

    #: One release lets one stepper advance one step.
    step: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    #: Set when a stepper has started running.
    started: threading.Event = field(default_factory=threading.Event)
    #: While set, ``browser.brittle`` fails for good.
    failing: threading.Event = field(default_factory=threading.Event)
    #: How many times ``browser.brittle`` ran.
    brittle_runs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count_brittle_run(self) -> None:
        """One more run of ``browser.brittle`` (workers run jobs on several threads)."""
        with self._lock:
            self.brittle_runs += 1

    def release(self, steps: int = 1) -> None:
        """Let a stepper advance ``steps`` steps."""
        self.step.release(steps)


def declare_jobs(registry: Registry, gates: Gates) -> None:
    """Add ``browser.stepper`` and ``browser.brittle`` to ``registry``."""

    @job_type("browser.stepper", params=Steps, max_retries=0, registry=registry)
    def stepper(ctx: JobContext, p: Steps) -> dict[str, int]:
        ctx.progress(0, p.steps, f"{p.label}: waiting")
        gates.started.set()
        for done in range(1, p.steps + 1):
            while not gates.step.acquire(timeout=0.05):
                ctx.check_cancelled()
            ctx.check_cancelled()
            ctx.progress(done, p.steps, f"{p.label}: step {done} of {p.steps}")
        return {"steps": p.steps}

    @job_type("browser.brittle", params=Export, max_retries=0, registry=registry)
    def brittle(ctx: JobContext, p: Export) -> dict[str, str]:
        gates.count_brittle_run()
        if gates.failing.is_set():
            raise FatalError(f"the {p.report} export was refused by the upstream API")
        return {"report": p.report, "rows": "1204"}


def registry_with_builtins() -> Registry:
    """A registry holding the built-in job types (import ``syncjobs.builtin_jobs`` first)."""
    import syncjobs.builtin_jobs  # noqa: F401  (declares them)

    registry = Registry()
    for jt in default_registry:
        registry.add(jt)
    return registry


def build_app(repo: JobRepository, registry: Registry, **settings: Any) -> SyncJobs:
    """A SyncJobs app on a fresh ``StubBroker`` and ``repo``; tokens in memory, encrypted."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    values: dict[str, Any] = {
        "progress_interval": 0.0,
        "watch_poll_interval": 0.05,
        "retry_min_backoff": 0.01,
        "retry_max_backoff": 0.05,
        **settings,
    }
    deps = Deps(repository=repo, credentials=InMemoryCredentialStore(TokenCipher(generate_key())))
    return register_actors(broker, deps, Settings(**values), registry=registry)


def authorize_operator(conn: HTTPConnection) -> bool:
    """The test dashboard's ``authorize``: the request carries the operator's cookie."""
    given = conn.cookies.get(OPERATOR_COOKIE, "")
    return hmac.compare_digest(given.encode(), OPERATOR_TOKEN.encode())


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``predicate`` until it holds; fail after a generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


@contextlib.contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """Serve ``asgi`` with uvicorn on a free loopback port in a thread; yield its root URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            asgi,
            log_config=None,
            log_level="warning",
            ws="none",
            http="h11",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="dashboard")
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
        assert server.started, "uvicorn did not start (see the log above)"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


@dataclass
class Dashboard:
    """The served dashboard, its app and the gates of the test job types."""

    url: str
    app: SyncJobs
    gates: Gates

    def at(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on the dashboard."""
        return self.url + path

    def sign_in(self, driver: WebDriver) -> None:
        """Give the browser the operator's cookie (the browser must be on the site first)."""
        driver.get(self.at("/"))
        driver.add_cookie({"name": OPERATOR_COOKIE, "value": OPERATOR_TOKEN, "path": "/"})


@contextlib.contextmanager
def running_dashboard(
    repo: JobRepository,
    *,
    gates: Gates | None = None,
    registry: Registry | None = None,
    **settings: Any,
) -> Iterator[Dashboard]:
    """The dashboard of an app on ``repo`` with a running worker, served on loopback.

    ``registry`` defaults to the built-in job types and those of ``declare_jobs``;
    ``settings`` override the app's settings (``build_app``).
    """
    from syncjobs.web import dashboard

    gates = gates or Gates()
    if registry is None:
        registry = registry_with_builtins()
        declare_jobs(registry, gates)
    app = build_app(repo, registry, **settings)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(app.worker(threads=4))
            # Runs before the worker stops: a stepper still waiting finishes, so it can stop.
            stack.callback(_unblock, gates)
            url = stack.enter_context(serving(dashboard(app, authorize=authorize_operator)))
            yield Dashboard(url, app, gates)
    finally:
        app.broker.close()
        _current.set_app(None)


def _unblock(gates: Gates) -> None:
    gates.failing.clear()
    gates.release(1000)
