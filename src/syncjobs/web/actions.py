"""The dashboard's actions: POSTs checked for CSRF, then redirected back with a flash message.

Each acts as the job's or the account's own owner (operators act across owners), and turns a
syncjobs error into an error flash rather than a failed page.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..app import SyncJobs
from ..clock import utcnow
from ..core.checks import check_job_id
from ..core.models import Job, JobStatus
from ..core.scheduling import Scheduler
from ..errors import InvalidInputError, SyncJobsError
from .render import flash_redirect, safe_next, url
from .security import checked_form
from .sources import find_account, find_job, job_browser, sj

__all__ = [
    "account_action",
    "dead_letter_action",
    "dead_letters_action",
    "job_action",
    "replay",
    "requeue",
    "schedule_action",
]

#: At most this many dead letters are acted on in one POST.
MAX_SELECTED = 500

Handler = Callable[[Request, FormData], Response]


def _posted(handler: Handler) -> Callable[[Request], object]:
    """An endpoint that checks the form (CSRF, origin) then runs ``handler`` in a thread."""

    async def endpoint(request: Request) -> Response:
        form = await checked_form(request)
        return await run_in_threadpool(handler, request, form)

    endpoint.__name__ = handler.__name__.lstrip("_")
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _action(form: FormData, allowed: tuple[str, ...]) -> str:
    action = form.get("action")
    if not isinstance(action, str) or action not in allowed:
        raise HTTPException(400, f"unknown action {str(action)[:40]!r}; expected {allowed}")
    return action


def requeue(app: SyncJobs, job: Job) -> Job:
    """Run a failed or cancelled job again, as its owner; its dead letter goes away."""
    updated = app.retry(job.id, owner_id=job.owner_id)
    job_browser(app).discard_dead_letters([job.id])
    return updated


def replay(app: SyncJobs, job: Job) -> Job:
    """Submit a new job with the same type, owner, params and priority as ``job``."""
    new = app.submit(job.job_type, owner_id=job.owner_id, params=job.params, priority=job.priority)
    app.repository.append_log(new.id, "info", f"replay of job {job.id}", now=utcnow())
    return new


def _job_action(request: Request, form: FormData) -> Response:
    """Cancel, retry or replay one job."""
    app = sj(request)
    job = find_job(app, request.path_params["job_id"])
    action = _action(form, ("cancel", "retry", "replay"))
    back = url(request, "job", job_id=job.id)
    try:
        if action == "replay":
            new = replay(app, job)
            return flash_redirect(
                request, url(request, "job", job_id=new.id), f"job {job.id} replayed as {new.id}"
            )
        if action == "retry":
            requeue(app, job)
            return flash_redirect(request, back, "the job is queued to run again")
        if job.is_terminal:
            return flash_redirect(request, back, f"the job already ended ({job.status})", "error")
        done = app.cancel(job.id, owner_id=job.owner_id)
    except SyncJobsError as exc:
        return flash_redirect(request, back, str(exc), "error")
    if done.status is JobStatus.CANCELLED:
        return flash_redirect(request, back, "the job is cancelled")
    return flash_redirect(request, back, "cancel requested: the job stops at its next check")


def _replay_letters(app: SyncJobs, job_ids: list[str]) -> tuple[int, list[str]]:
    done, problems = 0, []
    for job_id in job_ids:
        job = app.repository.get_job(job_id)
        try:
            if job is None:
                raise HTTPException(404, "no such job")
            requeue(app, job)
            done += 1
        except (SyncJobsError, HTTPException) as exc:
            problems.append(f"{job_id}: {getattr(exc, 'detail', exc)}")
    return done, problems


def _letters(app: SyncJobs, action: str, job_ids: list[str]) -> tuple[str, str]:
    """Replay or discard dead letters; the flash message and its kind."""
    if action == "discard":
        gone = job_browser(app).discard_dead_letters(job_ids)
        return f"discarded {gone} dead letter{'s' * (gone != 1)}", "ok"
    done, problems = _replay_letters(app, job_ids)
    message = f"replayed {done} job{'s' * (done != 1)}"
    if problems:
        return f"{message}; not replayed: {'; '.join(problems[:5])}", "error"
    return message, "ok"


def _dead_letters_action(request: Request, form: FormData) -> Response:
    """Replay or discard the selected dead letters."""
    action = _action(form, ("replay", "discard"))
    back = url(request, "dead_letters")
    try:
        job_ids = [check_job_id(v) for v in form.getlist("job_id")[:MAX_SELECTED]]
    except InvalidInputError as exc:
        return flash_redirect(request, back, str(exc), "error")
    if not job_ids:
        return flash_redirect(request, back, "select at least one dead letter first", "error")
    message, kind = _letters(sj(request), action, job_ids)
    return flash_redirect(request, back, message, kind)


def _dead_letter_action(request: Request, form: FormData) -> Response:
    """Replay or discard one dead letter."""
    app = sj(request)
    job = find_job(app, request.path_params["job_id"])
    action = _action(form, ("replay", "discard"))
    message, kind = _letters(app, action, [job.id])
    return flash_redirect(request, url(request, "dead_letters"), message, kind)


def _schedule_action(request: Request, form: FormData) -> Response:
    """Run a schedule's job now (once per minute however often it is clicked)."""
    app = sj(request)
    _action(form, ("run",))
    job_type = request.path_params["job_type"]
    if job_type not in {s.job_type for s in app.schedules()}:
        raise HTTPException(404, f"there is no schedule for {job_type[:80]!r}")
    back = url(request, "schedules")
    before = utcnow()
    minute = before.replace(second=0, microsecond=0)
    try:
        job = Scheduler(app).fire(
            job_type, minute, key=f"dashboard:{job_type}:{minute:%Y-%m-%dT%H:%MZ}"
        )
    except SyncJobsError as exc:
        return flash_redirect(request, back, str(exc), "error")
    if job.created_at < before:
        return flash_redirect(request, back, f"{job_type} already ran this minute: job {job.id}")
    return flash_redirect(request, back, f"{job_type} queued now: job {job.id}")


def _account_action(request: Request, form: FormData) -> Response:
    """Sync an account now, or resync it in full."""
    app = sj(request)
    account = find_account(app, request.path_params["account_id"])
    action = _action(form, ("sync", "resync"))
    back = safe_next(request, form.get("next"), url(request, "accounts"))
    full = action == "resync"
    try:
        job = app.accounts.sync(account.id, owner_id=account.owner_id, full=full)
    except SyncJobsError as exc:
        return flash_redirect(request, back, str(exc), "error")
    what = "full resync" if full else "sync"
    return flash_redirect(request, back, f"{what} of account {account.id} queued: job {job.id}")


job_action = _posted(_job_action)
dead_letters_action = _posted(_dead_letters_action)
dead_letter_action = _posted(_dead_letter_action)
schedule_action = _posted(_schedule_action)
account_action = _posted(_account_action)
