"""`make bench`: every benchmark, printed as tables, saved to bench/results/latest.json."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench import core
from bench._common import save


def main() -> None:
    """Run the benchmarks in turn."""
    console = Console()
    result = core.run()
    save("core", result)
    core.show(result, console)
    try:
        from bench import provider_calls
    except ImportError:
        return
    calls = provider_calls.run()
    save("provider_calls", calls)
    provider_calls.show(calls, console)


if __name__ == "__main__":
    main()
