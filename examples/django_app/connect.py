"""Connecting accounts through the provider's consent page: two plain Django views.

``GET /connect/<provider>`` sends the user to the provider (``?account_id=`` reconnects that
account); ``GET /oauth/callback`` is where the provider sends them back. Register that URL
with each provider and set it as ``SYNCJOBS_OAUTH_REDIRECT_URI``. syncjobs keeps the
attempt's state on its side, bound to the user: the callback only needs the user and the
query string.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

import syncjobs
from syncjobs.providers import provider_names

from .middleware import error
from .views import with_owner

__all__ = ["connect_start", "oauth_callback"]

logger = logging.getLogger("examples.django_app")

#: What the user did wrong (or too late) on the way through the consent page: a 400 with the
#: error's code. ``ConnectStateError`` and ``AccountMismatchError`` are ``InvalidInputError``;
#: ``ConsentDeniedError`` and ``MissingScopesError`` are ``PermissionDeniedError``.
REFUSALS: tuple[type[syncjobs.SyncJobsError], ...] = (
    syncjobs.InvalidInputError,
    syncjobs.PermissionDeniedError,
)


def refusal(exc: syncjobs.SyncJobsError) -> JsonResponse:
    """The 400 answer to a refused connect: the code, a message, and what the user can fix."""
    extra: dict[str, object] = {}
    if isinstance(exc, syncjobs.ConnectStateError):
        extra["reason"] = exc.reason  # unknown (used or forged), expired, wrong_owner
    if isinstance(exc, syncjobs.MissingScopesError):
        extra["missing_scopes"] = exc.missing
    return error(400, exc.code, exc.message, **extra)


@require_GET
@with_owner
def connect_start(request: HttpRequest, owner: str, provider: str) -> HttpResponse:
    """A ``302`` to the provider's consent page."""
    if provider not in provider_names():
        return error(404, "unknown_provider", f"unknown provider {provider!r}")
    try:
        start = syncjobs.begin_connect(
            owner, provider, account_id=request.GET.get("account_id") or None
        )
    except syncjobs.InvalidInputError as exc:  # a malformed account id
        return refusal(exc)
    return HttpResponseRedirect(start.url)


@require_GET
@with_owner
def oauth_callback(request: HttpRequest, owner: str) -> HttpResponse:
    """Connect the account the user just approved and queue its sync: ``200`` with both."""
    try:
        done = syncjobs.complete_connect(owner, request.GET.dict())
    except REFUSALS as exc:
        return refusal(exc)
    except syncjobs.ProviderError as exc:  # the provider did not answer, or answered nonsense
        logger.warning("connect callback failed at the provider: %s", exc)
        return error(502, exc.code, "the provider failed; try again")
    job = done.sync_job
    return JsonResponse(
        {
            "account": done.account.to_dict(),
            "reconnected": done.reconnected,
            "sync_job_id": job.id,
            "status_url": request.build_absolute_uri(reverse("job_status", args=[job.id])),
        }
    )
