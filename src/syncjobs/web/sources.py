"""Where the dashboard reads from: the app, its browsers, and look-ups that 404 when missing."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..app import SyncJobs
from ..connections.browse import AccountBrowser
from ..connections.models import Account
from ..core.browse import JobBrowser
from ..core.checks import check_job_id
from ..core.models import Job
from ..errors import ConfigurationError, InvalidInputError
from ..factory import get_app
from ..insights.usage.browse import UsageBrowser
from .security import Authorize

__all__ = [
    "DashboardConfig",
    "account_browser",
    "find_account",
    "find_job",
    "job_browser",
    "sj",
    "usage_browser",
]


@dataclass
class DashboardConfig:
    """What ``dashboard()`` was given: the app (None: the current one), the gate, the secret."""

    app: SyncJobs | None
    authorize: Authorize
    secret: bytes
    title: str = "syncjobs"
    page_size: int = 50
    #: Seconds between keep-alive comments on an idle event stream.
    keepalive: float = 15.0


def sj(request: Request) -> SyncJobs:
    """The application the dashboard shows (the current one when none was given)."""
    config: DashboardConfig = request.app.state.dashboard
    return config.app if config.app is not None else get_app()


def job_browser(app: SyncJobs) -> JobBrowser:
    """The app's repository as a ``JobBrowser``, or ConfigurationError."""
    repo = app.repository
    if not isinstance(repo, JobBrowser):
        raise ConfigurationError(
            f"the dashboard needs a repository implementing JobBrowser "
            f"(syncjobs.core.browse); {type(repo).__name__} does not"
        )
    return repo


def account_browser(app: SyncJobs) -> AccountBrowser:
    """The accounts store as an ``AccountBrowser``, or ConfigurationError."""
    store = app.accounts.store
    if not isinstance(store, AccountBrowser):
        raise ConfigurationError(
            f"the accounts page needs an account store implementing AccountBrowser "
            f"(syncjobs.connections.browse); {type(store).__name__} does not"
        )
    return store


def usage_browser(app: SyncJobs) -> UsageBrowser | None:
    """The insights stores as a ``UsageBrowser``, or None when they are not one."""
    store = app.insights.store
    return store if isinstance(store, UsageBrowser) else None


def find_job(app: SyncJobs, job_id: str) -> Job:
    """The job ``job_id`` of any owner, or HTTP 404."""
    try:
        job = app.repository.get_job(check_job_id(job_id))
    except InvalidInputError as exc:
        raise HTTPException(404, str(exc)) from None
    if job is None:
        raise HTTPException(404, f"there is no job {job_id}")
    return job


def find_account(app: SyncJobs, account_id: str) -> Account:
    """The account ``account_id`` of any owner, or HTTP 404."""
    store = app.accounts.store
    if store is None:
        raise ConfigurationError("this app has no account store")
    found = store.get_account(account_id) if 0 < len(account_id) <= 255 else None
    if found is None:
        raise HTTPException(404, f"there is no account {account_id[:80]}")
    return found
