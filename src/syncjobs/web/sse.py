"""A job's progress as Server-Sent Events: ``progress`` at each change, ``end`` when it is over.

The stream waits on the ledger's change signal (``repository.subscribe``: NOTIFY on
PostgreSQL) in threads of its own pool, so open job pages never starve the page handlers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.lowlevel import RunVar
from anyio.to_thread import run_sync
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..app import SyncJobs
from ..core.models import Job
from .render import duration
from .sources import find_job, sj

__all__ = ["event", "job_events", "snapshot"]

#: Threads the event streams wait in (streams beyond it take turns, a little later).
STREAM_THREADS = 32
_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("syncjobs_web_streams")


def _threads() -> anyio.CapacityLimiter:
    """The streams' thread limiter of the running event loop."""
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(STREAM_THREADS)
        _LIMITER.set(limiter)
        return limiter


def snapshot(job: Job) -> dict[str, Any]:
    """What the job page shows live: status, progress, message, ETA, outcome."""
    eta = job.eta_seconds()
    return {
        "status": job.status.value,
        "percent": round(job.progress_percent, 1),
        "done": job.progress_done,
        "total": job.progress_total,
        "message": job.progress_message,
        "eta_seconds": eta,
        "eta": duration(eta) if eta is not None else "—",
        "cancel_requested": job.cancel_requested,
        "terminal": job.is_terminal,
        "error_code": job.error_code,
        "error_message": job.error_message,
    }


def event(name: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event."""
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


def _changes(state: dict[str, Any]) -> tuple[Any, ...]:
    """What counts as a change (the ETA alone moves with the clock)."""
    return tuple(v for k, v in state.items() if not k.startswith("eta"))


async def _stream(app: SyncJobs, job_id: str, keepalive: float) -> AsyncIterator[str]:
    repo = app.repository
    sub = await run_in_threadpool(repo.subscribe, job_id)
    try:
        yield "retry: 3000\n\n"
        current, last, idle = await run_in_threadpool(repo.get_job, job_id), None, 0.0
        while current is not None:
            state = snapshot(current)
            if _changes(state) != last:
                last, idle = _changes(state), 0.0
                yield event("progress", state)
            if current.is_terminal:
                yield event("end", state)
                return
            if not await run_sync(sub.wait, 1.0, limiter=_threads()):
                idle += 1.0
                if idle >= keepalive:
                    idle = 0.0
                    yield ": keep-alive\n\n"
            current = await run_in_threadpool(repo.get_job, job_id)
        yield event("end", {"status": "gone", "terminal": True})
    finally:
        sub.close()


async def job_events(request: Request) -> Response:
    """``GET /jobs/{id}/events``: the job's progress until it is completed, failed or cancelled."""
    app = sj(request)
    job = await run_in_threadpool(find_job, app, request.path_params["job_id"])
    return StreamingResponse(
        _stream(app, job.id, request.app.state.dashboard.keepalive),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
