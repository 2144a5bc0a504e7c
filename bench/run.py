"""`make bench`: every benchmark, printed as tables, saved to bench/results/latest.json.

At the end it prints every aim of every result in latest.json (met or not met) and writes
them, with each benchmark's baseline and round count, to bench/results/latest.md.

Sizes for a quick run: `python bench/run.py --quick`, or pick benchmarks by name:
`python bench/run.py peers fanout`. Each module also runs alone with its own size arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench._common import RESULTS, save
from bench.report import aims_table, write_markdown

#: name -> (module, full-size kwargs, quick kwargs)
BENCHES: dict[str, tuple[str, dict[str, int], dict[str, int]]] = {
    "core": ("bench.core", {}, {"n": 1000, "rounds": 1}),
    "profile": ("bench.profile", {}, {"n": 1000}),
    "provider_calls": ("bench.provider_calls", {}, {"items": 200}),
    "peers": ("bench.peers", {"n": 3000, "rounds": 3}, {"n": 500, "rounds": 1}),
    "gmail_sync": (
        "bench.gmail_sync",
        {"items": 100_000, "small": 10_000},
        {"items": 10_000, "small": 1_000},
    ),
    "fanout": ("bench.fanout", {"accounts": 10_000, "rounds": 3}, {"accounts": 1_000, "rounds": 1}),
    "recovery": ("bench.recovery", {"jobs": 1_000_000, "runs": 50}, {"jobs": 100_000, "runs": 20}),
    "priority": (
        "bench.priority",
        {"backlog": 10_000, "rounds": 1},
        {"backlog": 1_000, "rounds": 1},
    ),
    "dashboard": (
        "bench.dashboard",
        {"jobs": 1_000_000, "runs": 30},
        {"jobs": 100_000, "runs": 10},
    ),
}


def main() -> None:
    """Run the benchmarks in turn."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHES)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    console = Console()
    import importlib

    for name in args.names or list(BENCHES):
        module_name, full, quick = BENCHES[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            console.print(f"[yellow]skipped {name}: {exc}[/yellow]")
            continue
        began = time.monotonic()
        run: Callable[..., Any] = module.run
        result = run(**(quick if args.quick else full))
        module.show(result, console)  # before the stamp: some tables read every key as a row
        save(name, {**result, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
        console.print(f"[dim]{name}: {time.monotonic() - began:.0f} s[/dim]\n")
    summarise(console)


def summarise(console: Console) -> None:
    """Print every aim in bench/results/latest.json and write bench/results/latest.md."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    console.print(aims_table(results))
    console.print(f"[dim]aims written to {write_markdown(results)}[/dim]")


if __name__ == "__main__":
    main()
