"""Inline SVG bar charts, rendered on the server: throughput by minute, provider usage by day."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

from ..core.browse import ThroughputBucket
from ..insights.usage.browse import ProviderUsageDay

__all__ = ["Bar", "Group", "bar_chart", "throughput_chart", "usage_chart"]

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24


@dataclass(frozen=True)
class Bar:
    """One bar (or one stacked segment): its value, CSS class and tooltip."""

    value: int
    css: str
    title: str


@dataclass(frozen=True)
class Group:
    """The bars at one x position, with the label written under it (or none)."""

    label: str | None
    bars: Sequence[Bar]


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least ``value`` (1 for nothing)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover  (the loop always returns)


def _axis(top: int) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        label = f"{top * frac:g}"
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>'
        )
    return parts


def _group_svg(group: Group, x: float, width: float, top: int, stacked: bool) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    base = float(HEIGHT - BOTTOM)
    each = width if stacked else width / max(len(group.bars), 1)
    for i, bar in enumerate(group.bars):
        h = plot_h * bar.value / top
        bx = x if stacked else x + i * each
        y = float(base) - h
        parts.append(
            f'<rect class="{escape(bar.css)}" x="{bx:.1f}" y="{y:.1f}" '
            f'width="{max(each - 0.5, 0.5):.1f}" height="{h:.1f}">'
            f"<title>{escape(bar.title)}</title></rect>"
        )
        if stacked:
            base = y
    if group.label is not None:
        parts.append(
            f'<text class="tick" x="{x + width / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(group.label)}</text>'
        )
    return parts


def bar_chart(groups: Sequence[Group], *, stacked: bool, label: str, empty: str) -> Markup:
    """An SVG chart of ``groups`` side by side; each group's bars stacked or next to each other."""
    heights = [
        sum(b.value for b in g.bars) if stacked else max((b.value for b in g.bars), default=0)
        for g in groups
    ]
    top = _nice_max(max(heights, default=0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        *_axis(top),
    ]
    slot = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    pad = slot * 0.15
    for i, group in enumerate(groups):
        parts += _group_svg(group, LEFT + i * slot + pad / 2, slot - pad, top, stacked)
    if not any(heights):
        parts.append(
            f'<text class="empty" x="{(WIDTH + LEFT) / 2}" y="{HEIGHT / 2}" '
            f'text-anchor="middle">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def throughput_chart(buckets: Sequence[ThroughputBucket], bucket_seconds: int) -> Markup:
    """Jobs ended per bucket, stacked completed / failed / cancelled."""
    every = max(len(buckets) // 6, 1)
    groups = []
    for i, b in enumerate(buckets):
        at = f"{b.start:%H:%M}"
        end = f"{b.start + timedelta(seconds=bucket_seconds):%H:%M}"
        span = f"{at} to {end} UTC"
        groups.append(
            Group(
                at if i % every == 0 else None,
                [
                    Bar(b.completed, "s-ok", f"{span}: {b.completed} completed"),
                    Bar(b.failed, "s-bad", f"{span}: {b.failed} failed"),
                    Bar(b.cancelled, "s-muted", f"{span}: {b.cancelled} cancelled"),
                ],
            )
        )
    return bar_chart(
        groups,
        stacked=True,
        label="Jobs ended per minute over the last hour: completed, failed, cancelled",
        empty="no job ended in the last hour",
    )


def provider_classes(rows: Sequence[ProviderUsageDay]) -> dict[str, str]:
    """A CSS class per provider (``p0`` … ``p5``), providers in name order."""
    return {name: f"p{i % 6}" for i, name in enumerate(sorted({r.provider for r in rows}))}


def usage_chart(
    rows: Sequence[ProviderUsageDay], *, first: date, days: int, metric: str, what: str
) -> Markup:
    """One bar per provider per day for ``metric`` (``api_calls`` or ``quota_units``)."""
    classes = provider_classes(rows)
    by_key = {(r.day, r.provider): r for r in rows}
    every = max(days // 7, 1)
    groups = []
    for i in range(days):
        day = first + timedelta(days=i)
        bars = []
        for provider, css in classes.items():
            row = by_key.get((day, provider))
            value = int(getattr(row, metric)) if row is not None else 0
            bars.append(Bar(value, css, f"{day:%Y-%m-%d} {provider}: {value} {what}"))
        groups.append(Group(f"{day:%m-%d}" if i % every == 0 else None, bars))
    return bar_chart(
        groups,
        stacked=False,
        label=f"{what.capitalize()} per provider per day over the last {days} days",
        empty=f"no {what} recorded in the last {days} days",
    )
