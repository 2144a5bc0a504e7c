"""Ids as a person types them: whole, or a unique prefix like a git short hash.

Tables show each id as its shortest unique prefix of at least 8 characters; every command
that takes a job or account id accepts such a prefix (4 characters at least). A prefix
that matches several ids is an error listing them; one that matches none says so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable

from ..app import SyncJobs
from ..connections.models import Account
from ..connections.store import AccountIdLookup
from ..core.ledger.store import JobIdLookup
from ..core.models import Job
from ..errors import AccountNotFoundError, InvalidInputError, JobNotFoundError

__all__ = ["find_account", "find_job", "short_account_ids", "short_job_ids"]

#: The fewest characters a table shows of an id, and the fewest a command accepts.
SHOWN, TYPED = 8, 4
#: How many matches of a prefix are looked up (and listed when it is ambiguous).
CANDIDATES = 6
_PREFIX = re.compile(r"^[0-9a-f][0-9a-f-]{3,35}$")

Lookup = Callable[..., list[str]]


def _ambiguous(kind: str, prefix: str, ids: list[str]) -> InvalidInputError:
    more = " and more" if len(ids) >= CANDIDATES else ""
    return InvalidInputError(
        f"{kind} id {prefix!r} is ambiguous: it starts {', '.join(ids)}{more}; give more characters"
    )


def _by_prefix(
    kind: str, prefix: str, lookup: Lookup | None, keep: Callable[[str], bool], owner: str | None
) -> str:
    if lookup is None:
        raise InvalidInputError(
            f"malformed {kind} id {prefix!r}: this ledger cannot look up short ids, "
            "give the whole id"
        )
    found = [i for i in lookup(prefix, limit=CANDIDATES) if keep(i)]
    if not found:
        raise (JobNotFoundError if kind == "job" else AccountNotFoundError)(
            f"no {kind} id starts with {prefix!r}" + (f" for owner {owner}" if owner else "")
        )
    if len(found) > 1:
        raise _ambiguous(kind, prefix, found)
    return found[0]


def find_job(app: SyncJobs, given: str, owner: str | None) -> Job:
    """The job ``given`` (an id or a unique prefix) names; with ``owner``, one of theirs."""
    text = given.strip().lower()
    repo = app.repository
    try:
        job_id = str(uuid.UUID(text))
    except ValueError:
        if not _PREFIX.match(text):
            raise InvalidInputError(
                f"malformed job id {given[:80]!r}: expected a UUID or its first "
                f"{TYPED} or more characters"
            ) from None
        lookup = repo.job_ids_starting if isinstance(repo, JobIdLookup) else None

        def mine(job_id: str) -> bool:
            job = repo.get_job(job_id)
            return job is not None and owner in (None, job.owner_id)

        job_id = _by_prefix("job", text.rstrip("-"), lookup, mine, owner)
    if owner is not None:
        return app.status(job_id, owner_id=owner)
    job = repo.get_job(job_id)
    if job is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job


def find_account(app: SyncJobs, given: str, owner: str | None) -> Account:
    """The account ``given`` (an id or a unique prefix) names; with ``owner``, one of theirs."""
    store, _ = app.accounts.stores()
    text = given.strip()
    found = store.get_account(text) if text else None
    if found is None and len(text) >= TYPED and _PREFIX.match(text.lower()):
        lookup = store.account_ids_starting if isinstance(store, AccountIdLookup) else None

        def mine(account_id: str) -> bool:
            account = store.get_account(account_id)
            return account is not None and owner in (None, account.owner_id)

        found = store.get_account(_by_prefix("account", text.lower(), lookup, mine, owner))
    if found is None:
        raise AccountNotFoundError(f"no account {text[:80]}")
    if owner is not None and found.owner_id != owner:
        raise AccountNotFoundError(f"no account {text[:80]} for this owner")
    return found


def _shortest(ids: Iterable[str], lookup: Lookup | None) -> dict[str, str]:
    """Each id's shortest prefix (at least ``SHOWN`` long) that no other stored id starts with."""
    short: dict[str, str] = {}
    for full in ids:
        if lookup is None:
            short[full] = full
            continue
        n = SHOWN
        while n < len(full) and len(lookup(full[:n], limit=2)) > 1:
            n += 4
        short[full] = full[:n].rstrip("-")
    return short


def short_job_ids(app: SyncJobs, ids: Iterable[str]) -> dict[str, str]:
    """Job id → the prefix a table shows (the whole id if the ledger cannot look prefixes up)."""
    repo = app.repository
    return _shortest(ids, repo.job_ids_starting if isinstance(repo, JobIdLookup) else None)


def short_account_ids(app: SyncJobs, ids: Iterable[str]) -> dict[str, str]:
    """Account id → the prefix a table shows."""
    store, _ = app.accounts.stores()
    lookup = store.account_ids_starting if isinstance(store, AccountIdLookup) else None
    return _shortest(ids, lookup)
