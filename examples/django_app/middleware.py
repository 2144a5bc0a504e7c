"""syncjobs errors as JSON answers, in one place for every view."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

import syncjobs

logger = logging.getLogger("examples.django_app")

#: The first matching class decides the status (subclasses before their parents).
ERROR_STATUS: list[tuple[type[syncjobs.SyncJobsError], int]] = [
    (syncjobs.JobNotFoundError, 404),  # also another owner's job: existence never leaks
    (syncjobs.InvalidInputError, 422),  # bad params or arguments; nothing was created
    (syncjobs.ConcurrencyLimitError, 429),  # the owner has the maximum of active jobs
    (syncjobs.ConfigurationError, 503),  # the deployment needs fixing (SchemaOutdatedError too)
]


def error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    """A JSON error answer: ``{"error": code, "message": ...}``."""
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


class SyncJobsErrorMiddleware:
    """Answers a ``SyncJobsError`` raised by a view with its status and stable code."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        """The answer for a syncjobs error; None lets Django handle any other exception."""
        if not isinstance(exc, syncjobs.SyncJobsError):
            return None
        status = next((code for cls, code in ERROR_STATUS if isinstance(exc, cls)), 500)
        if status >= 500:  # the operator needs the details; the client does not
            logger.error("%s %s: %s", request.method, request.path, exc)
            return error(status, exc.code, "the job service is not available")
        if isinstance(exc, syncjobs.InvalidInputError) and exc.errors:
            return error(status, exc.code, exc.message, errors=exc.errors)
        return error(status, exc.code, exc.message)
