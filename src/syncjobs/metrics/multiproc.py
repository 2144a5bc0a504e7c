"""Worker metrics shared by the processes of ``dramatiq syncjobs.actors``.

Each worker process writes its counters to memory-mapped files in one directory, which
``prometheus_client`` sums at scrape time (its multi-process mode). The directory is
``PROMETHEUS_MULTIPROC_DIR`` when the operator sets it (then they empty it before each start),
otherwise ``<tmp>/syncjobs-metrics-<pid of dramatiq's main process>``: the worker processes
and the exporter are all children of that process, so they find the same directory without
being told, and the exporter removes it when it stops.

``prometheus_client`` picks its multi-process mode when it is first imported, so
``prepare`` sets the environment before anything in the worker process imports it. The
exporter (``serve``) runs in its own process, forked by dramatiq's main process from the
middleware's ``forks``; the worker processes leave it its address in the directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

__all__ = ["ENV_VARS", "metrics_dir", "prepare", "serve"]

logger = logging.getLogger("syncjobs.metrics")

#: The variables ``prometheus_client`` reads (the lower-case one is its older spelling).
ENV_VARS = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
#: Where the worker processes leave the exporter its address.
_ADDRESS_FILE = "syncjobs-exporter.json"


def metrics_dir() -> tuple[Path, bool]:
    """The shared directory, and whether it is syncjobs' own (removed when the exporter stops)."""
    for name in ENV_VARS:
        given = os.environ.get(name)
        if given:
            return Path(given), False
    return Path(tempfile.gettempdir()) / f"syncjobs-metrics-{os.getppid()}", True


def prepare(host: str, port: int) -> Path:
    """In a worker process: create the directory, point ``prometheus_client`` at it.

    Also leaves the exporter its address, and drops files of processes no longer alive from
    syncjobs' own directory (a reused process id must not inherit old counts).
    """
    path, own = metrics_dir()
    path.mkdir(parents=True, exist_ok=True)
    if own:
        _drop_dead(path)
    for name in ENV_VARS:
        os.environ[name] = str(path)
    _multiprocess_values()
    address = path / _ADDRESS_FILE
    scratch = path / f".{_ADDRESS_FILE}.{os.getpid()}"
    scratch.write_text(json.dumps({"host": host, "port": port}), encoding="utf-8")
    os.replace(scratch, address)
    return path


def _multiprocess_values() -> None:
    """Switch ``prometheus_client`` to shared values if it was imported before ``prepare``."""
    values = sys.modules.get("prometheus_client.values")
    if values is None or getattr(values.ValueClass, "_multiprocess", False):
        return
    logger.info("prometheus_client was imported before syncjobs' metrics; sharing its values")
    values.ValueClass = values.MultiProcessValue()  # type: ignore[attr-defined]


def _drop_dead(path: Path) -> None:
    """Remove the metric files of processes that are not running any more."""
    for file in path.glob("*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                file.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead(path: Path) -> None:
    """In a worker process that stops: drop its live gauges (jobs running)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid(), str(path))  # type: ignore[no-untyped-call]


def _address(path: Path) -> tuple[str, int]:
    """The exporter's address: what the worker processes left, else the settings."""
    try:
        found = json.loads((path / _ADDRESS_FILE).read_text(encoding="utf-8"))
        return str(found["host"]), int(found["port"])
    except (OSError, ValueError, KeyError, TypeError):
        from ..settings import Settings

        settings = Settings()
        return settings.metrics_host, settings.metrics_port


def serve() -> int:
    """Serve the sum of every worker process's metrics over HTTP until stopped.

    Dramatiq's main process runs it in a process of its own (``WorkerMetrics.forks``).
    """
    path, own = metrics_dir()
    host, port = _address(path)
    path.mkdir(parents=True, exist_ok=True)
    for name in ENV_VARS:
        os.environ[name] = str(path)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError:
        logger.exception("the metrics exporter cannot listen on %s:%s", host, port)
        return 1
    logger.info("serving the workers' metrics on http://%s:%s/metrics", host, port)
    try:
        while thread.is_alive():
            thread.join(1.0)
    finally:  # stopped (SIGTERM): dramatiq's processes are stopping too
        # A stop often comes twice (to the process group, then from dramatiq's main process):
        # the second one must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if own:
            shutil.rmtree(path, ignore_errors=True)
        server.shutdown()
    return 0
