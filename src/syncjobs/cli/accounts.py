"""Account commands: list, connect and disconnect accounts, and sync one now.

An account id may be given whole or as a unique prefix (``ids``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Column

from ..connections.models import Account
from ..core.models import Job
from ..errors import InvalidInputError
from .fmt import ago
from .ids import find_account, short_account_ids
from .jobs import warn_if_nothing_runs
from .output import (
    AnyOwner,
    AsJson,
    Owner,
    current_app,
    guarded,
    out,
    print_job,
    table,
    wrapping,
)

__all__ = [
    "accounts_connect",
    "accounts_default",
    "accounts_disconnect",
    "accounts_list",
    "sync_cmd",
]

AccountId = Annotated[str, typer.Argument(help="The account's id, or its first 4+ characters.")]


def accounts_list(owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """List connected accounts (every owner's without --owner)."""

    def run() -> list[Account]:
        app = current_app()
        if owner is not None:
            return app.accounts.list(owner)
        store, _ = app.accounts.stores()
        return store.list_accounts()

    found = guarded(run)
    if as_json:
        out.print_json(json.dumps([a.to_dict() for a in found]))
        return
    if not found:
        out.print("no accounts" + (f" for owner {owner}" if owner else ""), highlight=False)
        return
    short = guarded(lambda: short_account_ids(current_app(), (a.id for a in found)))
    heads: list[str | Column] = ["id", "provider", "state", wrapping("name"), "synced", "next sync"]
    if owner is None:
        heads.insert(1, wrapping("owner"))
    shown = table(*heads)
    for a in found:
        row = [short[a.id], a.provider, a.state.value, a.display_name or a.external_id or ""]
        row += [ago(a.last_synced_at, none="never"), ago(a.next_sync_at)]
        if owner is None:
            row.insert(1, a.owner_id)
        shown.add_row(*row)
    out.print(shown)


def accounts_default(ctx: typer.Context, owner: AnyOwner = None, as_json: AsJson = False) -> None:
    """Connected provider accounts; without a command, list them."""
    if ctx.invoked_subcommand is None:
        accounts_list(owner, as_json)


def accounts_connect(
    owner: Owner,
    provider: Annotated[str, typer.Argument(help="youtube, gmail, instagram or tiktok.")],
    tokens: Annotated[
        str, typer.Option(help="JSON token set: access_token, refresh_token, expires_at.")
    ],
    external_id: Annotated[str | None, typer.Option(help="The provider's account id.")] = None,
    display_name: Annotated[str | None, typer.Option(help="A name to show for it.")] = None,
    sync_interval: Annotated[
        int | None,
        typer.Option(help="Seconds between syncs, 60 to 2592000 (default from settings)."),
    ] = None,
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
        return current_app().accounts.connect(
            owner,
            provider,
            parsed,
            external_id=external_id,
            display_name=display_name,
            sync_interval=sync_interval,
        )

    account = guarded(run)
    if as_json:
        out.print_json(json.dumps(account.to_dict()))
    else:
        out.print(f"connected {account.provider} account {account.id}", highlight=False)


def accounts_disconnect(account_id: AccountId, owner: Owner) -> None:
    """Remove an account, its tokens and its synced items."""

    def run() -> str:
        app = current_app()
        account = find_account(app, account_id, owner)
        app.accounts.disconnect(account.id, owner_id=owner)
        return account.id

    out.print(f"disconnected {guarded(run)}", highlight=False)


def sync_cmd(
    account_id: AccountId,
    owner: Owner,
    full: Annotated[bool, typer.Option("--full", help="Start over, not only changes.")] = False,
    as_json: AsJson = False,
) -> None:
    """Queue a sync of an account now."""

    def run() -> Job:
        app = current_app()
        account = find_account(app, account_id, owner)
        return app.accounts.sync(account.id, owner_id=owner, full=full)

    print_job(guarded(run), as_json)
    warn_if_nothing_runs(current_app())
