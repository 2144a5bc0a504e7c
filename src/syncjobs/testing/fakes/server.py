"""Serve fakes on loopback, alone or all four behind one root (``CombinedFakes``)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import httpx

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes.gmail import FakeGmail
from syncjobs.testing.fakes.instagram import FakeInstagram
from syncjobs.testing.fakes.messages import Environ, StartResponse
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.tiktok import FakeTikTok
from syncjobs.testing.fakes.youtube import FakeYouTube

__all__ = ["CombinedFakes", "serve"]


class _QuietHandler(WSGIRequestHandler):
    """A request handler that logs nothing (access log and tracebacks alike)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Drop the access log line."""

    def get_stderr(self) -> TextIO:
        """Swallow wsgiref's error output."""
        return io.StringIO()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A wsgiref server answering each request in its own thread."""

    daemon_threads = False
    block_on_close = True
    #: socketserver's default backlog of 5 resets bursts of concurrent connections.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (e.g. timed out) is not an error worth printing."""


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve a WSGI app on ``127.0.0.1:<free port>`` in a thread; yield its root URL."""
    server = _ThreadingWSGIServer(("127.0.0.1", 0), _QuietHandler)
    server.set_app(app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class CombinedFakes:
    """One fake per provider behind one WSGI root, dispatched by the first path segment."""

    def __init__(self, *, items_per_provider: int = 50, seed: int = 0) -> None:
        self.youtube = FakeYouTube(items=items_per_provider, seed=seed)
        self.gmail = FakeGmail(items=items_per_provider, seed=seed)
        self.instagram = FakeInstagram(items=items_per_provider, seed=seed)
        self.tiktok = FakeTikTok(items=items_per_provider, seed=seed)
        #: Mount prefix (without slash) -> fake.
        self.fakes: dict[str, FakeProvider] = {
            "youtube": self.youtube,
            "gmail": self.gmail,
            "instagram": self.instagram,
            "tiktok": self.tiktok,
        }

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """Strip the first path segment into ``SCRIPT_NAME`` and call that fake."""
        segment, _, rest = str(environ.get("PATH_INFO") or "/").lstrip("/").partition("/")
        fake = self.fakes.get(segment)
        if fake is None:
            body = json.dumps({"error": f"no fake mounted at /{segment}"}).encode()
            start_response(
                "404 Not Found",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        mounted = dict(environ)
        mounted["SCRIPT_NAME"] = f"{environ.get('SCRIPT_NAME', '')}/{segment}"
        mounted["PATH_INFO"] = "/" + rest
        return fake(mounted, start_response)

    def __getitem__(self, provider_name: str) -> FakeProvider:
        return self.fakes[provider_name]

    def config(self, provider_name: str, root_url: str) -> ProviderConfig:
        """The provider's config when this app is served at ``root_url``."""
        if provider_name not in self.fakes:
            raise KeyError(f"unknown provider {provider_name!r}; one of {sorted(self.fakes)}")
        return self.fakes[provider_name].config(f"{root_url.rstrip('/')}/{provider_name}")

    def transport(self) -> httpx.WSGITransport:
        """An in-process httpx transport to all four fakes."""
        return httpx.WSGITransport(app=self)

    def reset_counters(self) -> None:
        """Reset every fake's counters."""
        for fake in self.fakes.values():
            fake.reset_counters()

    def clear_faults(self) -> None:
        """Drop every fake's pending faults."""
        for fake in self.fakes.values():
            fake.clear_faults()
