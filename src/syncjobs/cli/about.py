"""The options of ``syncjobs`` itself: ``--version``, ``--debug`` (read by ``SyncJobsGroup``)."""

from __future__ import annotations

from typing import Annotated

import typer

from .._version import __version__

__all__ = ["root"]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"syncjobs {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show its traceback, not one line.")
    ] = False,
) -> None:
    """Tracked background jobs for syncing connected accounts."""
