"""Submit a job only once the host's database transaction commits.

syncjobs writes a job to its ledger on its own connection and sends its message at once. A
job submitted inside the host's transaction therefore stays, and runs, even if that
transaction rolls back; and a worker may start it before the transaction commits, when the
rows it needs are not visible yet. ``submit_after`` validates the job now and hands the submit
itself to a function that calls it after the commit, such as Django's
``transaction.on_commit``: on a rollback it is never called and nothing is submitted.

See "Submitting inside a database transaction" in docs/using-in-your-app.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from ..core.app import JobApp
from ..core.checks import check_owner
from ..core.models import Job
from ..errors import ConfigurationError
from ..factory import get_app

__all__ = ["PendingSubmit", "Registrar", "submit_after"]

#: Takes a callback and calls it, with no arguments, once the transaction has committed
#: (Django's ``transaction.on_commit``, or ``functools.partial(on_commit, using="other")``).
Registrar = Callable[[Callable[[], None]], object]


class PendingSubmit:
    """A submit waiting for a commit: ``job`` stays None until the commit, and on a rollback."""

    def __init__(
        self,
        app: JobApp,
        job_type: str,
        *,
        owner_id: str,
        params: BaseModel | dict[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        delay: float | timedelta | None = None,
    ) -> None:
        self.app = app
        self.job_type = job_type
        self.owner_id = owner_id
        self.params = params
        self.priority = priority
        self.idempotency_key = idempotency_key
        self.delay = delay
        #: The submitted job, once the commit has run the submit.
        self.job: Job | None = None

    @property
    def submitted(self) -> bool:
        """True once the job was submitted."""
        return self.job is not None

    def __call__(self) -> None:
        """Submit the job now (the registrar calls this after the commit); once only."""
        if self.job is not None:
            return
        self.job = self.app.submit(
            self.job_type,
            owner_id=self.owner_id,
            params=self.params,
            priority=self.priority,
            idempotency_key=self.idempotency_key,
            delay=self.delay,
        )


def submit_after(
    register: Registrar,
    job_type: str,
    *,
    owner_id: str,
    params: BaseModel | dict[str, Any] | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    delay: float | timedelta | None = None,
    app: JobApp | None = None,
) -> PendingSubmit:
    """Validate a job now and submit it when ``register`` calls back (after the commit).

    The arguments are those of ``syncjobs.submit``; ``app`` defaults to the current app. An
    unknown job type or invalid params raise ``InvalidInputError`` here, inside the
    transaction, so the host can roll it back; a delay counts from the submit. Errors of the
    submit itself (the broker is down...) reach whoever runs the callbacks: in Django, the
    code leaving the ``atomic`` block, after the commit.
    """
    app = app or get_app()
    if not app.settings.enabled:
        raise ConfigurationError("background jobs are disabled (SYNCJOBS_ENABLED=false)")
    # The same checks as submit, writing nothing: a mistake surfaces before the commit.
    app.new_job(
        app.registry.get(job_type),
        check_owner(owner_id),
        params,
        priority,
        idempotency_key,
        delay,
        None,
    )
    pending = PendingSubmit(
        app,
        job_type,
        owner_id=owner_id,
        params=params,
        priority=priority,
        idempotency_key=idempotency_key,
        delay=delay,
    )
    register(pending)
    return pending
