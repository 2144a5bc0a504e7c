"""A FastAPI host app on syncjobs: connect accounts (through the providers' consent pages),
sync them, follow jobs live.

Run it with ``make example`` (or ``uvicorn examples.fastapi_app.app:app``); see README.md in
this folder. It reads syncjobs' settings from ``SYNCJOBS_*``, the trigger secret from
``EXAMPLE_TRIGGER_SECRET`` and the operators' token from ``EXAMPLE_OPERATOR_TOKEN``: the
operator's dashboard (``syncjobs.web.dashboard``) is mounted at ``/ops`` behind it.

Every syncjobs call does database or broker I/O and blocks, so the async endpoints never call
syncjobs directly: they hand each call to a worker thread (``run_in_threadpool``) and the
event loop keeps serving other requests meanwhile. ``watch`` is a blocking iterator, so each
server-sent-events stream iterates it on a thread of its own and hands the snapshots to the
event loop through an anyio memory stream (see ``JobStreams``).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
)
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

import syncjobs
import syncjobs.builtin_jobs  # declares the built-in job types: sync_account, ...
from syncjobs.providers import provider_names
from syncjobs.web import dashboard

__all__ = ["JobStreams", "app", "create_api"]

logger = logging.getLogger("examples.fastapi_app")

#: Where the trigger endpoint's shared secret comes from.
TRIGGER_SECRET_ENV = "EXAMPLE_TRIGGER_SECRET"
#: The owner of triggered jobs; scheduled jobs belong to it too.
SYSTEM_OWNER = "system"
#: Where the operators' token comes from; without it the dashboard refuses everyone.
OPERATOR_TOKEN_ENV = "EXAMPLE_OPERATOR_TOKEN"
#: The header a script sends the operators' token in, and the cookie a browser keeps it in.
OPERATOR_HEADER = "X-Operator-Token"
OPERATOR_COOKIE = "example_operator"
#: Where the operator's dashboard is mounted.
OPS_PATH = "/ops"


# -- who is asking -----------------------------------------------------------------------------

# These dependencies do no I/O, so they are ``async``: FastAPI would run plain ``def`` ones on
# its thread pool, a thread hop per dependency and request.


async def current_owner(x_owner_id: Annotated[str | None, Header()] = None) -> str:
    """The signed-in user.

    This example trusts an ``X-Owner-Id`` header so that it can be tried with curl. A real app
    takes the user from its session or auth token, never from a value the client chooses.
    """
    if not x_owner_id:
        raise HTTPException(401, "sign in first: this example reads the user from X-Owner-Id")
    if x_owner_id == SYSTEM_OWNER:
        raise HTTPException(403, f"{SYSTEM_OWNER!r} is reserved for scheduled and triggered jobs")
    return x_owner_id


async def get_jobs(request: Request) -> syncjobs.SyncJobs:
    """The syncjobs app built at start-up."""
    jobs: syncjobs.SyncJobs = request.app.state.syncjobs
    return jobs


async def get_streams(request: Request) -> JobStreams:
    """The registry of open event streams."""
    streams: JobStreams = request.app.state.streams
    return streams


async def require_trigger_secret(
    request: Request, x_trigger_secret: Annotated[str | None, Header()] = None
) -> None:
    """Let a caller in only with the shared secret (compared in constant time)."""
    expected: str | None = request.app.state.trigger_secret
    if not expected:
        raise HTTPException(503, f"triggers are disabled: set {TRIGGER_SECRET_ENV} on the server")
    if x_trigger_secret is None or not hmac.compare_digest(
        x_trigger_secret.encode("utf-8"), expected.encode("utf-8")
    ):
        raise HTTPException(401, "missing or wrong X-Trigger-Secret")


# -- syncjobs errors as HTTP answers -----------------------------------------------------------

#: The first matching class decides the status (subclasses before their parents).
ERROR_STATUS: list[tuple[type[syncjobs.SyncJobsError], int]] = [
    (syncjobs.JobNotFoundError, 404),  # also another owner's job: existence never leaks
    (syncjobs.AccountNotFoundError, 404),
    (syncjobs.InvalidInputError, 422),  # bad params or arguments; nothing was created
    (syncjobs.ConcurrencyLimitError, 429),  # the owner has the maximum of active jobs
    (syncjobs.ConfigurationError, 503),  # the deployment needs fixing (SchemaOutdatedError too)
]


async def syncjobs_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a ``SyncJobsError`` with its status, its stable code and a message."""
    assert isinstance(exc, syncjobs.SyncJobsError)
    status = next((code for cls, code in ERROR_STATUS if isinstance(exc, cls)), 500)
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if isinstance(exc, syncjobs.InvalidInputError) and exc.errors:
        body["errors"] = exc.errors  # field paths, as in FastAPI's own 422 answers
    if status >= 500:  # the operator needs the details; the client does not
        logger.error("%s %s: %s", request.method, request.url.path, exc)
        body["message"] = "the job service is not available"
    return JSONResponse(body, status_code=status)


# -- following a job: one thread per stream ---------------------------------------------------


@dataclass(eq=False)
class _Stream:
    stop: threading.Event
    receive: MemoryObjectReceiveStream[syncjobs.Job | Exception]


class JobStreams:
    """Follows jobs for event streams, each on a worker thread of its own.

    ``watch`` blocks between changes, so each stream iterates it on a thread started in the
    app's task group. The thread hands every new snapshot to the event loop through an anyio
    memory stream and waits there while the client is slow, never the event loop.

    ``watch`` cannot be interrupted from another thread, so the thread follows the job in
    slices of ``watch_slice`` seconds and checks between slices whether the client left. The
    threads have their own capacity limiter: open streams never take the threads that
    ``run_in_threadpool`` gives to the other endpoints.
    """

    def __init__(
        self,
        jobs: syncjobs.SyncJobs,
        task_group: TaskGroup,
        *,
        max_streams: int = 100,
        watch_slice: float = 5.0,
        keepalive: float = 15.0,
    ) -> None:
        self.jobs = jobs
        self.max_streams = max_streams
        self.watch_slice = watch_slice
        self.keepalive = keepalive
        self._task_group = task_group
        self._limiter = anyio.CapacityLimiter(max_streams)
        self._open: set[_Stream] = set()

    @property
    def open_count(self) -> int:
        """Streams whose thread is still running."""
        return len(self._open)

    @property
    def full(self) -> bool:
        """True when ``max_streams`` threads are busy."""
        return len(self._open) >= self.max_streams

    async def follow(
        self, job_id: str, owner_id: str, timeout: float
    ) -> AsyncGenerator[syncjobs.Job | Exception | None, None]:
        """Yield each new snapshot of the job, an exception if following failed, or None
        when nothing changed for ``keepalive`` seconds. Ends when the job is finished or
        ``timeout`` passed."""
        send, receive = anyio.create_memory_object_stream[syncjobs.Job | Exception](8)
        stream = _Stream(threading.Event(), receive)
        self._open.add(stream)
        self._task_group.start_soon(self._run, job_id, owner_id, timeout, stream, send)
        try:
            with receive:
                while True:
                    item: syncjobs.Job | Exception | None = None
                    with anyio.move_on_after(self.keepalive):
                        item = await receive.receive()
                    yield item  # outside the cancel scope: the consumer may stop here
        except anyio.EndOfStream:
            return  # the thread is done: the job finished, or the timeout passed
        finally:
            stream.stop.set()  # the client went away, or we are done: let the thread stop

    async def _run(
        self,
        job_id: str,
        owner_id: str,
        timeout: float,
        stream: _Stream,
        send: MemoryObjectSendStream[syncjobs.Job | Exception],
    ) -> None:
        try:
            await anyio.to_thread.run_sync(
                partial(self._pump, job_id, owner_id, timeout, stream.stop, send),
                limiter=self._limiter,
            )
        except Exception:  # never let one stream take the app's task group down
            logger.exception("following job %s failed", job_id)
        finally:
            self._open.discard(stream)

    def _pump(
        self,
        job_id: str,
        owner_id: str,
        timeout: float,
        stop: threading.Event,
        send: MemoryObjectSendStream[syncjobs.Job | Exception],
    ) -> None:
        """On a worker thread: iterate the blocking ``watch``, send each new snapshot."""
        deadline = time.monotonic() + timeout
        last: syncjobs.Job | None = None
        try:
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                updates = self.jobs.watch(
                    job_id, owner_id=owner_id, timeout=min(self.watch_slice, left)
                )
                try:
                    for job in updates:
                        if job != last:  # each slice starts with the job as it is now
                            anyio.from_thread.run(send.send, job)  # waits for a slow client
                            last = job
                        if job.is_terminal or stop.is_set():
                            return
                finally:
                    _close(updates)  # releases watch's subscription now
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client went away
        except Exception as exc:  # the job was purged, the database is down...
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                anyio.from_thread.run(send.send, exc)
        finally:
            anyio.from_thread.run_sync(send.close)  # the stream ends: EndOfStream

    def close_all(self) -> None:
        """Shutting down: stop every stream's thread (each ends within ``watch_slice``)."""
        for stream in list(self._open):
            stream.stop.set()
            stream.receive.close()  # a thread waiting to send gets BrokenResourceError


def _close(iterator: Iterator[Any]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event: an optional ``event:`` line and one ``data:`` line of JSON."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def job_event_stream(
    streams: JobStreams, job_id: str, owner_id: str, timeout: float
) -> AsyncIterator[str]:
    """The events of one job: ``data`` at every change, then ``end`` once it is finished.

    If the job is still running after ``timeout`` seconds the stream ends with ``timeout``;
    if following it fails (it was purged), with ``error``. A comment line keeps idle
    connections open through proxies.
    """
    last: syncjobs.Job | None = None
    async with contextlib.aclosing(streams.follow(job_id, owner_id, timeout)) as updates:
        async for item in updates:
            if item is None:
                yield ": keep-alive\n\n"
            elif isinstance(item, Exception):
                code = item.code if isinstance(item, syncjobs.SyncJobsError) else "internal_error"
                yield sse(
                    {"error": code, "message": "the job can no longer be followed"}, event="error"
                )
                return
            else:
                last = item
                yield sse(item.to_dict())
                if item.is_terminal:
                    yield sse(item.to_dict(), event="end")
                    return
    yield sse(last.to_dict() if last else None, event="timeout")


# -- the endpoints -----------------------------------------------------------------------------

Owner = Annotated[str, Depends(current_owner)]
Jobs = Annotated[syncjobs.SyncJobs, Depends(get_jobs)]
Streams = Annotated[JobStreams, Depends(get_streams)]

router = APIRouter()


class ConnectAccount(BaseModel):
    """An account the user just authorised through your OAuth flow."""

    provider: str = Field(min_length=1, max_length=64, examples=["tiktok"])
    # A plain dict: syncjobs validates it, and a 422 never echoes tokens back.
    tokens: dict[str, Any] = Field(
        description="access_token, refresh_token, expires_at… from the provider's OAuth flow"
    )
    external_id: str | None = Field(default=None, description="The provider's account id.")
    display_name: str | None = None


@router.post("/accounts", status_code=201)
async def connect_account(body: ConnectAccount, owner: Owner, jobs: Jobs) -> dict[str, Any]:
    """Connect (or reconnect, with the same external_id) one of the user's accounts."""
    if body.provider not in await run_in_threadpool(provider_names):
        raise HTTPException(422, f"unknown provider {body.provider!r}")
    account = await run_in_threadpool(
        jobs.accounts.connect,
        owner,
        body.provider,
        body.tokens,
        external_id=body.external_id,
        display_name=body.display_name,
    )
    return account.to_dict()


@router.get("/accounts")
async def list_accounts(owner: Owner, jobs: Jobs) -> list[dict[str, Any]]:
    """The user's connected accounts."""
    return [a.to_dict() for a in await run_in_threadpool(jobs.accounts.list, owner)]


@router.post("/accounts/{account_id}/sync", status_code=202)
async def sync_account(
    account_id: str,
    request: Request,
    response: Response,
    owner: Owner,
    jobs: Jobs,
    full: bool = False,
) -> dict[str, Any]:
    """Queue a sync of the account now; follow it at ``status_url`` or ``events_url``."""
    job = await run_in_threadpool(jobs.accounts.sync, account_id, owner_id=owner, full=full)
    return _accepted(request, response, job, "job_status", "job_events")


@router.get("/jobs/{job_id}", name="job_status")
async def job_status(job_id: uuid.UUID, owner: Owner, jobs: Jobs) -> dict[str, Any]:
    """A job's status, progress, ETA, result and error."""
    job = await run_in_threadpool(jobs.status, str(job_id), owner_id=owner)
    return job.to_dict()


@router.get("/jobs/{job_id}/events", name="job_events")
async def job_events(
    job_id: uuid.UUID,
    owner: Owner,
    jobs: Jobs,
    streams: Streams,
    timeout: Annotated[float, Query(gt=0, le=3600)] = 300.0,
) -> StreamingResponse:
    """Server-sent events: the job at every change, then ``event: end`` once it finished."""
    # Check ownership first, so that an unknown job is a plain 404 and not an event.
    await run_in_threadpool(jobs.status, str(job_id), owner_id=owner)
    if streams.full:
        raise HTTPException(503, "too many open event streams", headers={"Retry-After": "5"})
    return StreamingResponse(
        job_event_stream(streams, str(job_id), owner, timeout),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/trigger/{job_type}", status_code=202, dependencies=[Depends(require_trigger_secret)])
async def trigger(
    job_type: str,
    request: Request,
    response: Response,
    jobs: Jobs,
    params: Annotated[dict[str, Any] | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Submit a job as the system owner, for a cron job or another service that holds the
    shared secret. An ``Idempotency-Key`` header makes a retried call return the same job.
    An unknown job type or params it does not declare are the caller's mistake: ``422``."""
    job = await run_in_threadpool(
        jobs.submit,
        job_type,
        owner_id=SYSTEM_OWNER,
        params=params,
        idempotency_key=idempotency_key,
    )
    return _accepted(request, response, job, "trigger_status")


@router.get(
    "/trigger/jobs/{job_id}",
    name="trigger_status",
    dependencies=[Depends(require_trigger_secret)],
)
async def trigger_status(job_id: uuid.UUID, jobs: Jobs) -> dict[str, Any]:
    """A triggered job's status, for the holder of the shared secret."""
    job = await run_in_threadpool(jobs.status, str(job_id), owner_id=SYSTEM_OWNER)
    return job.to_dict()


def _accepted(
    request: Request,
    response: Response,
    job: syncjobs.Job,
    status_route: str,
    events_route: str | None = None,
) -> dict[str, Any]:
    """The 202 answer: where to follow the job, also as the Location header."""
    status_url = str(request.url_for(status_route, job_id=job.id))
    response.headers["Location"] = status_url
    body: dict[str, Any] = {"job_id": job.id, "status_url": status_url, "job": job.to_dict()}
    if events_route:
        body["events_url"] = str(request.url_for(events_route, job_id=job.id))
    return body


# -- connecting accounts through the provider's consent page ----------------------------------

#: What the owner did wrong (or too late) on the way through the consent page: a 400 with
#: the error's code, never a 500. ``ConnectStateError`` and ``AccountMismatchError`` are
#: ``InvalidInputError``; ``ConsentDeniedError`` and ``MissingScopesError`` are
#: ``PermissionDeniedError``.
CONNECT_REFUSALS: tuple[type[syncjobs.SyncJobsError], ...] = (
    syncjobs.InvalidInputError,
    syncjobs.PermissionDeniedError,
)


def connect_refusal(exc: syncjobs.SyncJobsError) -> JSONResponse:
    """The 400 answer to a refused connect: the code, a message, and what the owner can fix."""
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if isinstance(exc, syncjobs.ConnectStateError):
        body["reason"] = exc.reason  # unknown (used or forged), expired, wrong_owner
    if isinstance(exc, syncjobs.MissingScopesError):
        body["missing_scopes"] = exc.missing
    return JSONResponse(body, status_code=400)


@router.get("/connect/{provider}", name="connect_start")
async def connect_start(
    provider: str, owner: Owner, jobs: Jobs, account_id: str | None = None
) -> Response:
    """Send the user to the provider's consent page (``?account_id=`` reconnects that
    account, as in a ``reauth_required`` notification's ``reconnect_url``)."""
    if provider not in await run_in_threadpool(provider_names):
        raise HTTPException(404, f"unknown provider {provider!r}")
    try:
        start = await run_in_threadpool(
            jobs.accounts.begin_connect, owner, provider, account_id=account_id
        )
    except syncjobs.InvalidInputError as exc:  # a malformed account id
        return connect_refusal(exc)
    return RedirectResponse(start.url, status_code=302)


@router.get("/oauth/callback", name="oauth_callback")
async def oauth_callback(request: Request, owner: Owner, jobs: Jobs) -> Response:
    """Where the provider sends the user back: connect the account and queue its sync."""
    try:
        done = await run_in_threadpool(
            jobs.accounts.complete_connect, owner, dict(request.query_params)
        )
    except CONNECT_REFUSALS as exc:
        return connect_refusal(exc)
    except syncjobs.ProviderError as exc:  # the provider did not answer, or answered nonsense
        logger.warning("connect callback failed at the provider: %s", exc)
        raise HTTPException(502, f"{exc.code}: the provider failed; try again") from None
    job = done.sync_job
    return JSONResponse(
        {
            "account": done.account.to_dict(),
            "reconnected": done.reconnected,
            "sync_job_id": job.id,
            "status_url": str(request.url_for("job_status", job_id=job.id)),
            "events_url": str(request.url_for("job_events", job_id=job.id)),
        }
    )


# -- the operator's dashboard ------------------------------------------------------------------

# The dashboard shows and acts on every owner's jobs, so it sits behind this app's own check
# of its operators: here a shared token in a header (scripts) or a cookie (browsers). A real
# app asks its own session whether the signed-in user is staff.


def operator_gate(token: str | None) -> Callable[[Request], Awaitable[bool]]:
    """The dashboard's ``authorize``: True only for a request carrying the operators' token."""

    async def is_operator(request: Request) -> bool:
        if not token:
            return False  # no token configured: nobody is an operator
        given = request.headers.get(OPERATOR_HEADER) or request.cookies.get(OPERATOR_COOKIE)
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    return is_operator


LOGIN_FORM = """<!doctype html><title>Operator sign-in</title>
<form method="post"><label>Operator token <input name="token" type="password" autofocus></label>
<button>Sign in</button></form>"""

operator_router = APIRouter(prefix="/operator")


@operator_router.get("/login", response_class=HTMLResponse)
async def operator_login_form() -> str:
    """A form asking for the operators' token."""
    return LOGIN_FORM


@operator_router.post("/login")
async def operator_login(request: Request, token: Annotated[str, Form()]) -> Response:
    """Keep the operators' token in a cookie scoped to the dashboard, and open it."""
    expected: str | None = request.app.state.operator_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(401, "wrong operator token")
    response = RedirectResponse(f"{OPS_PATH}/", status_code=303)
    response.set_cookie(
        OPERATOR_COOKIE,
        token,
        path=OPS_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# -- the application ---------------------------------------------------------------------------


def create_api(
    settings: syncjobs.Settings | None = None,
    *,
    trigger_secret: str | None = None,
    operator_token: str | None = None,
    max_streams: int = 100,
    watch_slice: float = 5.0,
    keepalive: float = 15.0,
) -> FastAPI:
    """The FastAPI app. ``settings`` default to ``SYNCJOBS_*``, the secret and the operators'
    token to their variables."""
    if operator_token is None:
        operator_token = os.environ.get(OPERATOR_TOKEN_ENV) or None

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        # Building the app opens the database (and checks its schema): off the event loop too.
        jobs = await run_in_threadpool(syncjobs.create_app, settings)
        worker = contextlib.ExitStack()
        if jobs.settings.broker_url.startswith("memory:"):
            # Development only: messages on the in-memory broker never leave this process,
            # so no `dramatiq syncjobs.actors` could run them. Run a worker here instead.
            await run_in_threadpool(worker.enter_context, jobs.worker())
        try:
            async with anyio.create_task_group() as task_group:
                streams = JobStreams(
                    jobs,
                    task_group,
                    max_streams=max_streams,
                    watch_slice=watch_slice,
                    keepalive=keepalive,
                )
                api.state.syncjobs = jobs
                api.state.streams = streams
                api.state.trigger_secret = (
                    trigger_secret
                    if trigger_secret is not None
                    else os.environ.get(TRIGGER_SECRET_ENV) or None
                )
                try:
                    yield
                finally:
                    streams.close_all()  # the task group then waits for their threads
        finally:
            await run_in_threadpool(worker.close)
            await run_in_threadpool(jobs.close)

    api = FastAPI(title="syncjobs example", lifespan=lifespan)
    api.add_exception_handler(syncjobs.SyncJobsError, syncjobs_error)
    api.include_router(router)
    api.include_router(operator_router)
    api.state.operator_token = operator_token
    # No app given: the dashboard shows the current one, which the lifespan builds.
    api.mount(OPS_PATH, dashboard(authorize=operator_gate(operator_token)), name="ops")
    return api


#: For ``uvicorn examples.fastapi_app.app:app``.
app = create_api()
