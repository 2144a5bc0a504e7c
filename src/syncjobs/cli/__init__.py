"""The ``syncjobs`` command line: run the demo, submit and follow jobs, upgrade the database.

This module is the command table: it builds the Typer app and registers each command,
in the order ``syncjobs --help`` lists them, from the module of its group.
"""

from __future__ import annotations

import typer

from . import about, accounts, dashboard, insights, jobs, keys, listing, operations, top
from .errors import SyncJobsGroup

__all__ = ["app", "main"]

app = typer.Typer(
    cls=SyncJobsGroup,
    help="Tracked background jobs for syncing connected accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: it fits 80 columns and shows no value for flags.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dead_app = typer.Typer(help="Jobs that failed for good.", no_args_is_help=True)
accounts_app = typer.Typer(
    help="Connected provider accounts; without a command, list them.",
    invoke_without_command=True,
)
app.callback()(about.root)
accounts_app.callback()(accounts.accounts_default)
app.add_typer(db_app, name="db")
app.add_typer(dead_app, name="dead-letter")
app.add_typer(accounts_app, name="accounts")


db_app.command("upgrade")(operations.db_upgrade)
app.command()(jobs.submit)
app.command()(jobs.status)
app.command()(jobs.cancel)
app.command()(jobs.retry)
app.command()(jobs.watch)
app.command("jobs")(listing.list_jobs)
app.command()(listing.log)
app.command()(top.top)
dead_app.command("list")(listing.dead_list)
dead_app.command("replay")(listing.dead_replay)
app.command()(operations.schedules)
app.command()(operations.health)
app.command()(operations.keygen)
app.add_typer(keys.keys_app, name="keys")
accounts_app.command("list")(accounts.accounts_list)
accounts_app.command("connect")(accounts.accounts_connect)
accounts_app.command("disconnect")(accounts.accounts_disconnect)
app.command("sync")(accounts.sync_cmd)
app.command()(insights.trust)
app.command()(insights.usage)
app.command()(insights.notifications)
app.command()(operations.demo)
app.command()(dashboard.dashboard)


def main() -> None:
    """Entry point of the ``syncjobs`` console script."""
    app()
