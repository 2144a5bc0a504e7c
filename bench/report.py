"""Every benchmark's aims: the console table and ``bench/results/latest.md``.

Each benchmark's result lists its aims under ``"aims"`` (rows built by ``bench._common.aim``),
and may add a table of its own figures under ``"table"`` (``columns`` and ``rows``).
Its baseline is told by ``"baseline_description"`` when the result has one, else by the
baseline names of its aims; its round count is ``"rounds"`` (1 when absent).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.table import Table

LATEST_MD = Path(__file__).resolve().parent / "results" / "latest.md"

HEADER = (
    "| figure | baseline | baseline value | syncjobs | ratio | aim | met |",
    "|---|---|---:|---:|---:|---|---|",
)


def aims_of(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The aim rows of one benchmark's result (none when it reports no ``"aims"``)."""
    aims = result.get("aims")
    return list(aims) if isinstance(aims, list) else []


def baseline_of(result: Mapping[str, Any]) -> str:
    """What the benchmark measures syncjobs against."""
    told = result.get("baseline_description")
    if isinstance(told, str) and told:
        return told
    names = dict.fromkeys(str(row.get("baseline_name", "")) for row in aims_of(result))
    return "; ".join(n for n in names if n) or "not stated"


def rounds_of(result: Mapping[str, Any]) -> int:
    """How many rounds each figure sums up (the median of them where more than one)."""
    rounds = result.get("rounds")
    return rounds if isinstance(rounds, int) and not isinstance(rounds, bool) else 1


def _rounds(result: Mapping[str, Any]) -> str:
    rounds = rounds_of(result)
    return f"{rounds} round" if rounds == 1 else f"{rounds} rounds"


def _number(value: Any, unit: str) -> str:
    text = f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


def _cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    unit = str(row.get("unit", ""))
    return (
        str(row["figure"]),
        str(row["baseline_name"]),
        _number(row["baseline"], unit),
        _number(row["value"], unit),
        f"{row['ratio']}x",
        str(row["aim"]),
        "met" if row["met"] else "not met",
    )


def _md(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The Markdown summary: a count of aims met, then one table per benchmark."""
    rows = [row for result in results.values() for row in aims_of(result)]
    met = sum(1 for row in rows if row["met"])
    out = [
        "# Benchmark aims",
        "",
        "Written by `make bench` (`bench/run.py`) from `bench/results/latest.json`. Each figure "
        "is a ratio of syncjobs to a baseline measured in the same run on the same machine.",
        "",
        f"**{met} of {len(rows)} aims met.**",
    ]
    for name, result in results.items():
        rounds = rounds_of(result)
        out += ["", f"## {name}", ""]
        out.append(f"Baseline: {_md(baseline_of(result))}.  ")
        measured = result.get("measured_at")
        when = f", measured {measured}" if isinstance(measured, str) else ""
        out += [f"Rounds: {rounds}{when}.", ""]
        aims = aims_of(result)
        if aims:
            out += HEADER
            out += ["| " + " | ".join(_md(c) for c in _cells(row)) + " |" for row in aims]
        else:
            out.append("No aims reported by this run.")
        out += _figures_table(result)
    return "\n".join(out) + "\n"


def _figures_table(result: Mapping[str, Any]) -> list[str]:
    """A result's own ``"table"`` (``{"columns": [...], "rows": [[...], ...]}``), if any."""
    table = result.get("table")
    if not isinstance(table, Mapping):
        return []
    columns = [str(c) for c in table.get("columns", [])]
    rows = [[str(c) for c in row] for row in table.get("rows", [])]
    head = ["| " + " | ".join(_md(c) for c in columns) + " |", "|---" * len(columns) + "|"]
    return ["", *head, *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)]


def write_markdown(results: Mapping[str, Mapping[str, Any]], path: Path = LATEST_MD) -> Path:
    """Write ``render_markdown(results)`` to ``path`` (bench/results/latest.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(results))
    return path


def aims_table(results: Mapping[str, Mapping[str, Any]]) -> Table:
    """Every aim row of every result, for the console: five columns that fit 80 of them.

    Each aim reads "benchmark: figure" over "vs its baseline (rounds)", then syncjobs's value
    over the baseline's, the ratio, the aim and the verdict; benchmarks with no aims are named
    in the caption.
    """
    table = Table(
        "aim",
        "syncjobs / baseline",
        "ratio",
        "aim",
        "",
        title="Aims (ratio = syncjobs ÷ baseline, both measured in the same run)",
    )
    without = [name for name, result in results.items() if not aims_of(result)]
    if without:
        table.caption = f"no aims: {', '.join(without)}"
    for name, result in results.items():
        for row in aims_of(result):
            unit = str(row.get("unit", ""))
            colour = "green" if row["met"] else "red"
            against = f"vs {row['baseline_name']} ({_rounds(result)})"
            table.add_row(
                f"{name}: {row['figure']}\n[dim]{against}[/dim]",
                f"{_number(row['value'], unit)}\n[dim]{_number(row['baseline'], unit)}[/dim]",
                f"{row['ratio']}x",
                str(row["aim"]),
                f"[{colour}]{'met' if row['met'] else 'not met'}[/{colour}]",
            )
    return table
