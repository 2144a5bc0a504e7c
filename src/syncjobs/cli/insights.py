"""Insight commands: an owner's trust scores, usage and notifications."""

from __future__ import annotations

from typing import Annotated

import typer

from .output import AsJson, Owner, current_app, guarded, print_rows


def trust(owner: Owner, as_json: AsJson = False) -> None:
    """Show an owner's channel trust scores, least trusted first."""
    scores = guarded(lambda: current_app().insights.trust_scores(owner))
    print_rows(
        "trust scores",
        [{k: v for k, v in s.to_dict().items() if k != "owner_id"} for s in scores],
        as_json,
    )


def usage(
    owner: Owner,
    period: Annotated[str, typer.Option(help="hour, day, week or month.")] = "day",
    as_json: AsJson = False,
) -> None:
    """Show an owner's usage per period: items analysed, AI calls, tokens, API calls, quota."""
    records = guarded(lambda: current_app().insights.usage(owner, period=period))
    print_rows(
        f"usage per {period}",
        [{k: v for k, v in r.to_dict().items() if k != "owner_id"} for r in records],
        as_json,
    )


def notifications(
    owner: Owner,
    unread: Annotated[bool, typer.Option(help="Only unread ones.")] = False,
    as_json: AsJson = False,
) -> None:
    """List an owner's notifications, newest first."""
    found = guarded(lambda: current_app().insights.notifications(owner, unread_only=unread))
    print_rows(
        "notifications",
        [
            {
                "id": n.id,
                "kind": n.kind,
                "title": n.title,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in found
        ],
        as_json,
    )
