"""Key commands: re-seal every stored token set with the newest encryption key."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ConfigurationError
from .output import current_app, out, user_errors

__all__ = ["keys_app", "rotate"]

keys_app = typer.Typer(help="Encryption keys of stored tokens.", no_args_is_help=True)


@keys_app.command()
def rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Token sets re-sealed per transaction.")
    ] = 100,
) -> None:
    """Re-encrypt stored tokens with the newest key.

    The newest key is the first of SYNCJOBS_ENCRYPTION_KEY (comma-separated, newest first).
    Safe while workers run; see docs/deploying.md, "Rotating the key".
    """
    with user_errors():
        credentials = current_app().deps.credentials
        if credentials is None:
            raise ConfigurationError("this application stores no tokens")

        def shown(done: int, total: int) -> None:
            out.print(f"rotated {done}/{total} token sets", highlight=False)

        report = credentials.rotate_tokens(batch_size=batch_size, progress=shown)
        out.print(
            f"done: {report.rotated} re-encrypted with the newest key, {report.skipped} "
            "rewritten meanwhile (already on the newest key)",
            highlight=False,
            soft_wrap=True,
        )
