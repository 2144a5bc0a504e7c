"""The operations pages: dead letters, schedules, and every owner's accounts with usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..clock import utcnow
from ..connections.models import AccountState
from ..errors import InvalidInputError
from .charts import provider_classes, usage_chart
from .filters import account_query
from .render import page
from .sources import account_browser, job_browser, sj, usage_browser

__all__ = ["accounts_page", "dead_letters_page", "schedules_page"]

#: Dead letters listed at once (newest first).
DEAD_LETTER_LIMIT = 200

#: Days of provider usage the accounts page charts.
USAGE_DAYS = 14


def dead_letters_page(request: Request) -> Response:
    """Jobs that failed for good, newest first, to replay or discard."""
    app = sj(request)
    letters = app.dead_letters(limit=DEAD_LETTER_LIMIT)
    return page(
        request,
        "dead_letters.html",
        {
            "nav": "dead",
            "letters": letters,
            "total": job_browser(app).dead_letter_count(),
        },
    )


def schedules_page(request: Request) -> Response:
    """Every schedule: cron, timezone, missed-run policy, last and next fire, run now."""
    return page(
        request, "schedules.html", {"nav": "schedules", "schedules": sj(request).schedules()}
    )


def accounts_page(request: Request) -> Response:
    """Every owner's accounts, filtered, by id one keyset page at a time; provider usage."""
    app = sj(request)
    browser = account_browser(app)
    size = request.app.state.dashboard.page_size
    states = browser.account_states()
    context: dict[str, Any] = {
        "nav": "accounts",
        "filters": {k: request.query_params.get(k, "") for k in ("provider", "owner", "state")},
        "providers": sorted(states),
        "states": [s.value for s in AccountState],
        "summary": states,
        "rows": [],
        "next_after": None,
        "first_page": True,
        "error": None,
        **_usage(app),
    }
    try:
        query = account_query(request.query_params, limit=size)
    except InvalidInputError as exc:
        context["error"] = str(exc)
        return page(request, "accounts.html", context, status=400)
    rows = browser.browse_accounts(query)
    context["rows"] = rows[:size]
    context["first_page"] = query.after_id is None
    if len(rows) > size:
        context["next_after"] = rows[size - 1].account.id
    return page(request, "accounts.html", context)


def _usage(app: Any) -> dict[str, Any]:
    """The usage charts' context: calls and quota units per provider per day."""
    usage = usage_browser(app)
    if usage is None:
        return {"usage": None}
    today = utcnow().date()
    first = today - timedelta(days=USAGE_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = usage.provider_usage_by_day(start=start, end=start + timedelta(days=USAGE_DAYS))
    return {
        "usage": {
            "legend": provider_classes(rows),
            "calls": usage_chart(
                rows, first=first, days=USAGE_DAYS, metric="api_calls", what="API calls"
            ),
            "units": usage_chart(
                rows, first=first, days=USAGE_DAYS, metric="quota_units", what="quota units"
            ),
            "totals": {
                "calls": sum(r.api_calls for r in rows),
                "units": sum(r.quota_units for r in rows),
            },
        }
    }
