"""The command line's top-level error handling: one line and a documented exit code.

Every failure a person can cause — bad settings, an unknown job module, an unreachable
database or broker, a bad argument, a syncjobs error — prints ``error: …`` on one line and
exits with the code of its kind (``syncjobs.failures``, docs/troubleshooting.md). Anything
else is a bug: one line too, exit code 70. ``syncjobs --debug …`` shows the traceback instead.
"""

from __future__ import annotations

import threading
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.exceptions import TyperException

from ..failures import EXIT_INTERNAL, EXIT_USAGE, explain

__all__ = ["SyncJobsGroup", "debug_enabled", "report"]

_err = Console(stderr=True)
_state = threading.local()


def debug_enabled() -> bool:
    """Whether ``--debug`` was given: errors then raise with their traceback."""
    return bool(getattr(_state, "debug", False))


def _print(message: str) -> None:
    # soft_wrap: rich inserts no line breaks, so the error stays one line at any width.
    _err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)


def report(exc: BaseException) -> NoReturn:
    """Print ``exc`` as one line and exit with its code (re-raise it under ``--debug``)."""
    if debug_enabled():
        raise exc
    failure = explain(exc)
    if failure is None:
        _print(
            f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(run `syncjobs --debug …` for the traceback)"
        )
        raise typer.Exit(EXIT_INTERNAL) from None
    _print(failure.message)
    raise typer.Exit(failure.exit_code) from None


def _usage(exc: TyperException) -> NoReturn:
    """A bad command, option or argument: the parser's message on one line, exit code 2."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    _print(" ".join(exc.format_message().split()) + hint)
    raise typer.Exit(EXIT_USAGE)


def _shows_help(exc: BaseException) -> bool:
    """The parser's way to show the help of a group run with no arguments."""
    return type(exc).__name__ == "NoArgsIsHelpError"


class SyncJobsGroup(TyperGroup):
    """The ``syncjobs`` group: errors of every command become one line and an exit code."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """Parse the top-level options; a usage error is one line."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except TyperException as exc:
            if _shows_help(exc):
                raise
            _usage(exc)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; turn what it raised into one line and an exit code."""
        _state.debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except TyperException as exc:
            if _shows_help(exc):
                raise
            _usage(exc)
        except Exception as exc:
            report(exc)
