"""``python -m syncjobs``: the command line."""

from .cli import main

main()
