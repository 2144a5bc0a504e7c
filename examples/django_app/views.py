"""The views: ask for a report (its job is submitted once the request's transaction commits)
and read a job's status.

Both views are plain synchronous Django views: every syncjobs call does database or broker
I/O and blocks, which is what a WSGI worker thread is for.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

import syncjobs
from syncjobs.contrib.transactions import submit_after

from .jobs import BUILD_REPORT
from .middleware import error
from .models import Report

__all__ = ["OWNER_HEADER", "SYSTEM_OWNER", "create_report", "job_status", "with_owner"]

#: Where this example reads the user from (a real project uses ``request.user``).
OWNER_HEADER = "X-Owner-Id"
#: The owner of scheduled jobs: no user may act as it.
SYSTEM_OWNER = "system"

View = Callable[..., HttpResponse]


def with_owner(view: View) -> View:
    """Call ``view(request, owner, ...)`` with the signed-in user.

    This example trusts an ``X-Owner-Id`` header so that it can be tried with curl. A real
    project takes the user from Django's auth (``@login_required`` and
    ``owner = str(request.user.pk)``), never from a value the client chooses.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        owner = request.headers.get(OWNER_HEADER, "")
        if not owner:
            return error(401, "not_signed_in", f"sign in first: send an {OWNER_HEADER} header")
        if owner == SYSTEM_OWNER:
            return error(403, "forbidden", f"{SYSTEM_OWNER!r} is reserved for scheduled jobs")
        return view(request, owner, *args, **kwargs)

    return wrapper


def _title(request: HttpRequest) -> str | None:
    """The ``title`` of the JSON body, stripped, if it is a string of 1 to 200 characters."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    title = body.get("title") if isinstance(body, dict) else None
    if not isinstance(title, str) or not 0 < len(title.strip()) <= 200:
        return None
    return title.strip()


# on_commit must have run before the view answers, even if the project sets ATOMIC_REQUESTS.
@transaction.non_atomic_requests
@csrf_exempt  # a JSON API whose user comes from a header, not from a cookie
@require_POST
@with_owner
def create_report(request: HttpRequest, owner: str) -> HttpResponse:
    """Store a report and submit its job once that commits: ``202`` and where to follow it."""
    title = _title(request)
    if title is None:
        return error(422, "invalid_input", "send a JSON body with a title of 1 to 200 characters")
    with transaction.atomic():
        report = Report.objects.create(owner=owner, title=title)
        # Validated now; submitted by Django right after the commit, never on a rollback.
        # A plain syncjobs.submit here would write the job at once on the ledger's own
        # connection: a rollback would leave it, and a worker could start it before the
        # report row is committed.
        pending = submit_after(
            transaction.on_commit,
            BUILD_REPORT,
            owner_id=owner,
            params={"report_id": report.pk},
        )
    job = pending.job
    assert job is not None, "the commit of the outermost atomic block runs the submit"
    status_url = request.build_absolute_uri(reverse("job_status", args=[job.id]))
    response = JsonResponse(
        {"report_id": report.pk, "job_id": job.id, "status_url": status_url, "job": job.to_dict()},
        status=202,
    )
    response["Location"] = status_url
    return response


@require_GET
@with_owner
def job_status(request: HttpRequest, owner: str, job_id: uuid.UUID) -> HttpResponse:
    """A job's status, progress, ETA, result and error; another user's job is a ``404``."""
    job = syncjobs.status(str(job_id), owner_id=owner)
    return JsonResponse(job.to_dict())
