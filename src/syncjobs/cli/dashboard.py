"""``syncjobs dashboard``: serve the operator's dashboard on its own, behind a token."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from .output import current_app, err, guarded, out

__all__ = ["dashboard"]


def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SYNCJOBS_DASHBOARD_TOKEN",
            help="The token that opens the dashboard (default: a new random one).",
            show_default=False,
        ),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No token (only on a loopback address).")
    ] = False,
) -> None:
    """Serve the operator's dashboard (jobs, dead letters, schedules, accounts) with uvicorn."""
    import uvicorn  # the web extra: imported when this command runs, not for every command

    from ..web.standalone import is_loopback, standalone_app

    if no_auth and token:
        _fail("give --token or --no-auth, not both")
    if no_auth and not is_loopback(host):
        _fail(f"--no-auth serves only on a loopback address, not {host!r}: give a --token")
    if token is not None and not token.strip():
        _fail("the token is empty")
    generated = not no_auth and token is None
    if generated:
        token = secrets.token_urlsafe(24)
    web = standalone_app(guarded(current_app), token=None if no_auth else token)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/"
    if generated:
        out.print(f"dashboard: {address}?token={token}", highlight=False, soft_wrap=True)
    elif no_auth:
        out.print(f"dashboard (no token): {address}", highlight=False)
    else:
        out.print(f"dashboard: {address}?token=<your token>", highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(2)
