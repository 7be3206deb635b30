"""Charts drawn on the server as inline SVG: a sparkline per campaign and a campaign's burndown.

The markup is built here, so every piece of text in it goes through `escape`; colours and
dashes come from classes (static/shoal.css, static/campaign.css), never from style attributes,
which the Content-Security-Policy forbids. Each chart carries a text alternative: the
sparkline an aria-label and a <title>, the burndown a <title>, a <desc> and a data table
beside it on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

__all__ = ["Series", "burndown_chart", "nice_ceiling", "sparkline", "sparkline_label"]


def sparkline_label(state: str, values: Sequence[int]) -> str:
    """What a sparkline says in words, e.g. "merged 12 → 40 over 14 days"."""
    if not values:
        return f"no {state} history"
    days = len(values)
    return f"{state} {values[0]} → {values[-1]} over {days} day{'s' if days != 1 else ''}"


def _points(values: Sequence[int], width: float, height: float, top: int, pad: float) -> str:
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    scale = (height - 2 * pad) / max(top, 1)
    return " ".join(
        f"{pad + i * step:.1f},{height - pad - v * scale:.1f}" for i, v in enumerate(values)
    )


def sparkline(state: str, values: Sequence[int], *, width: int = 120, height: int = 28) -> Markup:
    """A line of `values` (one per day), scaled to its own maximum."""
    label = sparkline_label(state, values)
    top = max(values, default=0)
    points = _points(values, width, height, top, 2) if values else ""
    last = ""
    if values:
        x, y = points.split(" ")[-1].split(",")
        last = f'<circle class="spark-end" cx="{x}" cy="{y}" r="2"/>'
    return Markup(  # noqa: S704  (every text in it is escaped)
        f'<svg class="sparkline state-{escape(state)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<polyline class="spark-line" fill="none" points="{points}"/>{last}</svg>'
    )


@dataclass(frozen=True, slots=True)
class Series:
    state: str
    values: list[int]


def nice_ceiling(value: int) -> int:
    """The axis top: the smallest of 1, 2, 2.5, 5 x 10^n that is at least `value` (a whole
    number: 2.5 only from 25 up)."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value and top == int(top):
            return int(top)
    return 10 * magnitude


# Plot area inside the SVG: room on the left for the y labels, below for the days.
_W, _H = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 32


def burndown_chart(title: str, days: Sequence[date], series: Sequence[Series]) -> Markup:
    """Lines of changesets per state over `days`, with both axes labelled. The legend and the
    data table are the page's (they are HTML, readable by everyone)."""
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return _LEFT + i * step

    def y(v: float) -> float:
        return _TOP + plot_h - v * plot_h / top

    parts = [
        f'<svg class="chart burndown" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-labelledby="burndown-title burndown-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="burndown-title">{escape(title)}</title>',
        f'<desc id="burndown-desc">{escape(_describe(days, series))}</desc>',
    ]
    divisions = next(n for n in (4, 5, 2, 1) if top % n == 0)  # whole numbers on the axis
    for tick in range(divisions + 1):
        value = top * tick // divisions
        label = str(value)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}"/>'
            f'<text class="y-label" x="{_LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    every = max(1, round(len(days) / 7))
    for i, day in enumerate(days):
        last = len(days) - 1
        if i != last and (i % every or last - i < every):  # no label crowding the last one
            continue
        # The first and last labels stay inside the chart.
        anchor = "start" if i == 0 else "end" if i == last else "middle"
        parts.append(
            f'<text class="x-label" x="{x(i):.1f}" y="{_H - _BOTTOM + 18}" '
            f'text-anchor="{anchor}">{escape(day.strftime("%b %d"))}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}"/>'
        f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}"/>'
    )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(
            f'<polyline class="line series-{escape(s.state)}" fill="none" points="{points}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in it is escaped)


def _describe(days: Sequence[date], series: Sequence[Series]) -> str:
    if not days:
        return "No days to show."
    span = f"from {days[0].isoformat()} to {days[-1].isoformat()}"
    ends = ", ".join(
        f"{s.state.replace('_', ' ')} {s.values[0]} → {s.values[-1]}" for s in series if s.values
    )
    return f"Changesets per state {span}: {ends}. The table below lists every day."
