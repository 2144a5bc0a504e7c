"""``python -m syncjobs.cli``: the ``syncjobs`` command line."""

from . import main

main()
