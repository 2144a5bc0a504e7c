"""Account commands: list, connect and disconnect accounts, and sync one now."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..connections.models import Account
from ..errors import InvalidInputError
from .output import AsJson, Owner, current_app, guarded, out, print_job


def accounts_list(owner: Owner, as_json: AsJson = False) -> None:
    """List an owner's connected accounts."""
    found = guarded(lambda: current_app().accounts.list(owner))
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in found]))
        return
    table = Table("id", "provider", "state", "name", "last synced", "next sync")
    for a in found:
        d = a.to_dict()
        table.add_row(
            a.id,
            a.provider,
            a.state.value,
            a.display_name or "",
            d["last_synced_at"] or "never",
            d["next_sync_at"] or "",
        )
    out.print(table)


def accounts_connect(
    owner: Owner,
    provider: Annotated[str, typer.Argument(help="youtube, gmail, instagram or tiktok.")],
    tokens: Annotated[str, typer.Option(help="JSON token set: access_token, refresh_token…")],
    external_id: Annotated[str | None, typer.Option(help="The provider's account id.")] = None,
    as_json: AsJson = False,
) -> None:
    """Connect an account with its OAuth tokens (stored encrypted)."""

    def run() -> Account:
        try:
            parsed = json.loads(tokens)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"--tokens is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise InvalidInputError("--tokens must be a JSON object")
        return current_app().accounts.connect(owner, provider, parsed, external_id=external_id)

    account = guarded(run)
    out.print_json(json.dumps(account.to_dict())) if as_json else out.print(
        f"connected {account.provider} account {account.id}"
    )


def accounts_disconnect(account_id: str, owner: Owner) -> None:
    """Remove an account, its tokens and its synced items."""
    guarded(lambda: current_app().accounts.disconnect(account_id, owner_id=owner))
    out.print(f"disconnected {account_id}")


def sync_cmd(
    account_id: str,
    owner: Owner,
    full: Annotated[bool, typer.Option(help="Start over instead of syncing changes.")] = False,
    as_json: AsJson = False,
) -> None:
    """Queue a sync of an account now."""
    print_job(
        guarded(lambda: current_app().accounts.sync(account_id, owner_id=owner, full=full)),
        as_json,
    )
