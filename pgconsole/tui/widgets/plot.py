"""A line plot of quadrant blocks (2×2 points per cell) as a Rich ``Text``, drawn directly.

plotext drew the Overview's charts before; building its figure and parsing its ANSI output back
into a ``Text`` took several times the CPU of this per draw (docs/BENCHMARKS.md §8, ``python -m
bench.chart_cost``), four charts at every refresh. This draws the same picture — joined lines in the series' colours,
a y axis with labelled ticks on the left, an x axis with labelled ticks below — into a grid and
emits one span per run of a colour. Braille would be finer, but braille glyphs are missing from
common monospace fonts (DejaVu Sans Mono among them) and the fallback font's wider glyphs push
the line past the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

# Quadrant glyph for each 4-bit mask: top-left 1, top-right 2, bottom-left 4, bottom-right 8.
_QUADRANTS = " ▘▝▀▖▌▞▛▗▚▐▜▄▙▟█"
AXIS_STYLE = "grey58"


@dataclass(frozen=True)
class Series:
    values: Sequence[float]
    colour: str  # a Rich colour
    x_end: int = 0  # the sample index of the last value (the first is x_end - len + 1)


def _line(grid: dict[tuple[int, int], int], x0: int, y0: int, x1: int, y1: int, mark: int) -> None:
    """Bresenham from (x0, y0) to (x1, y1) in points; each point stores ``mark`` (later wins)."""
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        grid[(x0, y0)] = mark
        if x0 == x1 and y0 == y1:
            return
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def line_plot(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    y_range: tuple[float, float],
    y_ticks: Sequence[tuple[float, str]],
    x_range: tuple[int, int],
    x_ticks: Sequence[tuple[int, str]],
) -> Text:
    """``width`` × ``height`` cells: the y labels and axis, the plot, the x axis and its labels.
    Values outside ``y_range`` are drawn at its edge."""
    label_w = max((len(label) for _v, label in y_ticks), default=0)
    cols = max(1, width - label_w - 1)
    rows = max(1, height - 2)
    px_w, px_h = cols * 2, rows * 2
    low, high = y_range
    x_first, x_last = x_range
    span_x = max(1, x_last - x_first)

    def px(x: int) -> int:
        return round((x - x_first) / span_x * (px_w - 1))

    def py(v: float) -> int:  # 0 at the top
        frac = (v - low) / (high - low) if high > low else 0.0
        return (px_h - 1) - round(min(1.0, max(0.0, frac)) * (px_h - 1))

    points: dict[tuple[int, int], int] = {}  # (x, y) point -> series index
    for i, s in enumerate(series):
        start = s.x_end - len(s.values) + 1
        prev: tuple[int, int] | None = None
        for j, v in enumerate(s.values):
            p = (px(start + j), py(v))
            if prev is None:
                points[p] = i
            else:
                _line(points, *prev, *p, i)
            prev = p
    # cells: (col, row) -> (mask, series index of the cell's last point)
    cells: dict[tuple[int, int], tuple[int, int]] = {}
    for (x, y), i in points.items():
        key = (x // 2, y // 2)
        mask = cells.get(key, (0, i))[0] | (1 << ((y % 2) * 2 + (x % 2)))
        cells[key] = (mask, max(i, cells.get(key, (0, i))[1]))
    tick_rows: dict[int, str] = {}
    for v, label in y_ticks:
        tick_rows[py(v) // 2] = label
    out = Text(no_wrap=True, overflow="crop")
    for row in range(rows):
        tick = tick_rows.get(row)
        out.append(f"{tick or '':>{label_w}}{'┤' if tick is not None else '│'}", style=AXIS_STYLE)
        run, run_style = "", ""
        for col in range(cols):
            mask, i = cells.get((col, row), (0, 0))
            style = series[i].colour if mask else ""
            if style != run_style and run:
                out.append(run, style=run_style)
                run = ""
            run_style = style
            run += _QUADRANTS[mask]
        if run:
            out.append(run, style=run_style)
        out.append("\n")
    # the x axis: a tick under each labelled sample, its label centred on it (kept inside the row)
    axis = ["─"] * cols
    labels = [" "] * cols
    for x, label in x_ticks:
        c = min(cols - 1, px(x) // 2)
        axis[c] = "┬"
        begin = max(0, min(cols - len(label), c - len(label) // 2))
        if all(ch == " " for ch in labels[max(0, begin - 1) : begin + len(label) + 1]):
            labels[begin : begin + len(label)] = list(label)
    out.append(" " * label_w + "└" + "".join(axis) + "\n", style=AXIS_STYLE)
    out.append(" " * (label_w + 1) + "".join(labels), style=AXIS_STYLE)
    return out
