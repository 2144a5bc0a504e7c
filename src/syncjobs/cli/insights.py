"""Insight commands: an owner's trust scores, usage and notifications."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..insights.models import UsagePeriod
from .fmt import ago
from .output import AsJson, Owner, current_app, guarded, number, out, table, wrapping

__all__ = ["notifications", "trust", "usage"]

_BUCKET = {
    UsagePeriod.HOUR: "%Y-%m-%d %H:00",
    UsagePeriod.DAY: "%Y-%m-%d",
    UsagePeriod.WEEK: "%Y-%m-%d",
    UsagePeriod.MONTH: "%Y-%m",
}


def trust(owner: Owner, as_json: AsJson = False) -> None:
    """Show an owner's channel trust scores, least trusted first."""
    scores = guarded(lambda: current_app().insights.trust_scores(owner))
    if as_json:
        out.print_json(
            json.dumps([{k: v for k, v in s.to_dict().items() if k != "owner_id"} for s in scores])
        )
        return
    if not scores:
        out.print(f"no trust scores for owner {owner} yet", highlight=False)
        return
    shown = table(
        wrapping("channel", ratio=1),
        *(number(h) for h in ("score", "items", "allow", "block", "review")),
        "updated",
    )
    for s in scores:
        shown.add_row(
            s.channel,
            f"{s.score:.2f}",
            str(s.videos_analysed),
            str(s.allow),
            str(s.block),
            str(s.review),
            ago(s.updated_at),
        )
    out.print(shown)


def usage(
    owner: Owner,
    period: Annotated[UsagePeriod, typer.Option(help="The length of each row.")] = UsagePeriod.DAY,
    as_json: AsJson = False,
) -> None:
    """Show an owner's usage per period (items, AI calls, quota).

    Each row is one hour, day, week or month (UTC): items analysed, AI calls, tokens,
    provider API calls and quota units.
    """
    records = guarded(lambda: current_app().insights.usage(owner, period=period.value))
    if as_json:
        out.print_json(
            json.dumps([{k: v for k, v in r.to_dict().items() if k != "owner_id"} for r in records])
        )
        return
    if not records:
        out.print(f"no usage for owner {owner} yet", highlight=False)
        return
    start = "week of" if period is UsagePeriod.WEEK else f"{period.value} (UTC)"
    heads = ("items", "AI calls", "tokens", "API calls", "quota units")
    shown = table(start, *(number(h) for h in heads))
    for r in records:
        shown.add_row(
            f"{r.period_start:{_BUCKET[period]}}",
            f"{r.items_analysed:,}",
            f"{r.ai_calls:,}",
            f"{r.tokens:,}",
            f"{r.api_calls:,}",
            f"{r.quota_units:,}",
        )
    out.print(shown)


def notifications(
    owner: Owner,
    unread: Annotated[bool, typer.Option("--unread", help="Only unread ones.")] = False,
    as_json: AsJson = False,
) -> None:
    """List an owner's notifications, newest first."""
    found = guarded(lambda: current_app().insights.notifications(owner, unread_only=unread))
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "id": n.id,
                        "kind": n.kind,
                        "title": n.title,
                        "body": n.body,
                        "created_at": n.created_at.isoformat(),
                        "read": n.read_at is not None,
                    }
                    for n in found
                ]
            )
        )
        return
    if not found:
        out.print(f"no {'unread ' if unread else ''}notifications for owner {owner}")
        return
    shown = table("id", "kind", wrapping("title", ratio=1), "when", "read")
    for n in found:
        read = "yes" if n.read_at is not None else "no"
        shown.add_row(str(n.id), n.kind, n.title, ago(n.created_at), read)
    out.print(shown)
