"""bench/results/latest.md: one table per benchmark, every aim a row saying met or not met."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from bench._common import aim
from bench.report import aims_table, render_markdown, write_markdown
from rich.console import Console


def results() -> dict[str, Any]:
    return {
        "gmail_sync": {
            "items": 100_000,
            "rounds": 1,
            "baseline_description": "a minimal httpx + COPY loop | same fake",
            "measured_at": "2026-12-01 10:00 UTC",
            "aims": [
                aim(
                    "items/s",
                    baseline_name="minimal loop",
                    baseline=7554,
                    value=4100,
                    target=0.5,
                    unit="items/s",
                ),
                aim(
                    "peak RSS",
                    baseline_name="syncjobs at 10,000",
                    baseline=110.0,
                    value=140.5,
                    target=1.2,
                    better="lower",
                    unit="MiB",
                ),
            ],
        },
        "peers": {
            "rounds": 3,
            "aims": [
                aim(
                    "tracked jobs/s",
                    baseline_name="Procrastinate",
                    baseline=400,
                    value=900,
                    target=1.0,
                    unit="jobs/s",
                ),
                aim(
                    "tracked jobs/s",
                    baseline_name="Celery prefork 2",
                    baseline=950,
                    value=900,
                    target=1.0,
                    unit="jobs/s",
                ),
            ],
        },
        "recovery": {"jobs": 1_000_000},
    }


def table_rows(text: str, section: str) -> list[list[str]]:
    """The body rows of the table under ``## section``."""
    block = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in lines[1:]  # the header, then its |---| line (which starts with "|-")
    ]


def test_every_aim_is_a_row_with_its_figures_and_whether_it_was_met() -> None:
    text = render_markdown(results())
    assert "**2 of 4 aims met.**" in text
    assert table_rows(text, "gmail_sync") == [
        ["items/s", "minimal loop", "7,554 items/s", "4,100 items/s", "0.543x", "≥ 0.5x", "met"],
        [
            "peak RSS",
            "syncjobs at 10,000",
            "110 MiB",
            "140.5 MiB",
            "1.277x",
            "≤ 1.2x",
            "not met",
        ],
    ]
    assert [row[1::5] for row in table_rows(text, "peers")] == [
        ["Procrastinate", "met"],
        ["Celery prefork 2", "not met"],
    ]


def test_each_table_says_its_baseline_and_rounds() -> None:
    text = render_markdown(results())
    gmail = text.split("## gmail_sync\n", 1)[1].split("\n## ", 1)[0]
    # A "|" in a cell is escaped so that it does not split the table.
    assert "Baseline: a minimal httpx + COPY loop \\| same fake." in gmail
    assert "Rounds: 1, measured 2026-12-01 10:00 UTC." in gmail
    peers = text.split("## peers\n", 1)[1].split("\n## ", 1)[0]
    assert "Baseline: Procrastinate; Celery prefork 2." in peers and "Rounds: 3." in peers
    recovery = text.split("## recovery\n", 1)[1]
    assert "No aims reported by this run." in recovery and "| figure |" not in recovery


def test_the_file_is_written_and_the_console_table_has_every_row(tmp_path: Path) -> None:
    path = write_markdown(results(), tmp_path / "results" / "latest.md")
    assert path.read_text() == render_markdown(results())
    out = io.StringIO()
    Console(file=out, width=250, color_system=None).print(aims_table(results()))
    lines = out.getvalue().splitlines()
    verdicts = [
        ("0.543x", "met"),
        ("1.277x", "not met"),
        ("2.25x", "met"),
        ("0.947x", "not met"),
    ]
    for ratio, verdict in verdicts:
        (line,) = [line for line in lines if ratio in line]
        said = line.rstrip(" │")
        assert said.endswith(verdict) and (verdict == "not met") == said.endswith("not met"), line
    assert any(line.strip() == "no aims: recovery" for line in lines)


def test_the_console_table_fits_80_columns() -> None:
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(aims_table(results()))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    # Each aim's verdict and ratio stay whole on its first line.
    (first,) = [line for line in lines if "0.543x" in line]
    assert "gmail_sync: items/s" in first and first.rstrip(" │").endswith("met")


def test_a_result_s_own_table_follows_its_aims_in_the_markdown() -> None:
    data = results()
    data["profile"] = {
        "rounds": 1,
        "baseline_description": "bare Dramatiq",
        "table": {
            "columns": ["figure", "bare", "syncjobs"],
            "rows": [["CPU ms per job: total", "0.450", "3.860"], ["a | b", "1", "2"]],
        },
    }
    text = render_markdown(data)
    section = text.split("## profile", 1)[1]
    assert "No aims reported by this run." in section
    lines = section.splitlines()
    head = lines.index("| figure | bare | syncjobs |")
    assert lines[head + 1] == "|---|---|---|"
    assert lines[head + 2] == "| CPU ms per job: total | 0.450 | 3.860 |"
    assert lines[head + 3] == "| a \\| b | 1 | 2 |"
    # A result with aims and no table renders as before: no stray table header.
    assert "| figure | bare | syncjobs |" not in text.split("## profile", 1)[0]
