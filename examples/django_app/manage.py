#!/usr/bin/env python
"""Django's command-line utility for the example project.

Run it from the repository root: ``python -m examples.django_app.manage migrate`` (or
``python examples/django_app/manage.py migrate``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Run a Django management command with this project's settings."""
    root = str(Path(__file__).resolve().parents[2])  # the repository root: `examples` lives there
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
