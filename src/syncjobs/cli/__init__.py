"""The ``syncjobs`` command line: run the demo, submit and follow jobs, upgrade the database.

This module is the command table: it builds the Typer app and registers each command,
in the order ``syncjobs --help`` lists them, from the module of its group.
"""

from __future__ import annotations

import typer

from . import accounts, dashboard, insights, jobs, operations

__all__ = ["app", "main"]

app = typer.Typer(
    help="Tracked background jobs for syncing connected accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dead_app = typer.Typer(help="Jobs that failed for good.", no_args_is_help=True)
accounts_app = typer.Typer(help="Connected provider accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dead_app, name="dead-letter")
app.add_typer(accounts_app, name="accounts")

db_app.command("upgrade")(operations.db_upgrade)
app.command()(jobs.submit)
app.command()(jobs.status)
app.command()(jobs.cancel)
app.command()(jobs.retry)
app.command()(jobs.watch)
app.command("jobs")(jobs.list_jobs)
app.command()(jobs.log)
dead_app.command("list")(jobs.dead_list)
dead_app.command("replay")(jobs.dead_replay)
app.command()(operations.schedules)
app.command()(operations.health)
app.command()(operations.keygen)
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
