"""What every account browser shares: the query's checks."""

from __future__ import annotations

from ..errors import InvalidInputError
from .browse import AccountQuery
from .models import AccountState

__all__ = ["MAX_LIMIT", "check_account_query"]

#: The largest page an account browser returns.
MAX_LIMIT = 1000


def check_account_query(query: AccountQuery) -> AccountQuery:
    """``query`` if every field is valid, else an ``InvalidInputError`` naming the field."""
    if not isinstance(query, AccountQuery):
        raise InvalidInputError(f"query must be an AccountQuery, not {type(query).__name__}")
    limit = query.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer between 1 and {MAX_LIMIT}")
    if query.state is not None and not isinstance(query.state, AccountState):
        raise InvalidInputError("state must be an AccountState")
    for name in ("provider", "owner_id", "after_id"):
        value = getattr(query, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInputError(f"{name} must be a non-empty string")
    return query
