"""A small line chart in a Static (redrawn when its samples or its size change).

The legend is drawn as a coloured title line above the plot rather than inside it: at the sizes
the Overview gives a chart (about 35 x 12 cells) an in-canvas legend box covers the data. Series
are joined lines of quadrant blocks drawn by :mod:`pgconsole.tui.widgets.plot`. x is time before now
(samples times the refresh interval, three labelled ticks) and counts start at 0 with a round top,
so a flat queue reads as flat instead of as noise magnified by an auto-fitted y range; a percentage
never goes past its ``y_max``.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from pgconsole.tui.widgets.in_place import set_text
from pgconsole.tui.widgets.plot import Series, line_plot

# One colour per series, in the plot and in the title legend.
_PALETTE: list[str] = ["dodger_blue1", "indian_red1", "pale_green3", "light_goldenrod2"]


def _compact(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _nice_ceil(value: float) -> float:
    """The next "round" top for a 0-based axis (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k), so that
    its half, the middle tick, is round too: 0 / 15 / 30 rather than 0 / 13.8 / 27.5."""
    scale = 10 ** math.floor(math.log10(value)) if value > 0 else 1.0
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def _ago(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 120:
        return f"-{seconds:.0f}s"
    if seconds < 7200:
        return f"-{seconds / 60:.0f}m"
    return f"-{seconds / 3600:.0f}h"


class Chart(Static):
    def __init__(
        self, title: str, *, id: str | None = None, y_min: float | None = 0.0, y_max: float | None = None
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.y_min = y_min
        self.y_max = y_max
        self.series: list[tuple[str, list[float]]] = []
        self.step = 1.0
        self._drawn: tuple[object, ...] | None = None  # what the shown plot was drawn from

    def set_series(self, series: list[tuple[str, list[float]]], step: float = 1.0) -> None:
        """``step``: seconds between two samples (the refresh interval), for the time axis."""
        self.series = series
        self.step = step
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _legend(self) -> Text:
        """Title and one "● label last-value" per series: on one line when they fit, else the keys
        on the lines below, broken between series (never inside one), so that the plot below can be
        given exactly the rows left (a legend wrapped by the widget pushed the x axis out of sight)."""
        width = self.content_size.width
        keys: list[Text] = []
        for i, (label, values) in enumerate(self.series):
            colour = _PALETTE[i % len(_PALETTE)]
            key = Text(" ● ", style=colour)
            key.append(f"{label} {_compact(values[-1])}" if values else label, style=colour)
            key.truncate(width, overflow="ellipsis")
            keys.append(key)
        lines = [Text()]
        lines[0].append(self.title, style="bold")  # a span: the keys after it keep their own style
        lines[0].truncate(width, overflow="ellipsis")
        for key in keys:
            if lines[-1].cell_len + key.cell_len > width:
                lines.append(Text())
            lines[-1].append_text(key)
        return Text("\n").join(lines)

    def _draw(self) -> None:
        # content_size excludes the border and padding the stylesheet gives the chart.
        w, h = self.content_size.width, self.content_size.height
        if w < 10 or h < 4:
            return
        # Plotting is most of a refresh's client CPU: the same samples at the same size draw the
        # same picture (a full window of a flat series does so at every refresh).
        drawn = (w, h, self.step, tuple((label, tuple(values)) for label, values in self.series))
        if drawn == self._drawn:
            return
        self._drawn = drawn
        points = [(label, [v for v in values if v is not None]) for label, values in self.series]
        if not any(len(values) >= 2 for _label, values in points):
            # One sample is not a trend; say so instead of drawing a lone dot.
            set_text(
                self, Text.assemble(self._legend(), "\n", Text("collecting…", style="dim")), layout=False
            )
            return
        legend = self._legend()
        top = max(max(v) for _label, v in points if len(v) >= 2)
        bottom = min(min(v) for _label, v in points if len(v) >= 2)
        # y_min None: fit the range to the data (cache hit lives near 100 %, 0-based would flatten it).
        if self.y_min is not None:
            low = self.y_min
            high = self.y_max if self.y_max is not None else _nice_ceil(max(top * 1.1, low + 2.0))
        else:
            pad = max((top - bottom) * 0.1, 0.5)
            low, high = bottom - pad, top + pad
            if self.y_max is not None and high > self.y_max:  # cache hit: 100 % is the ceiling
                low, high = max(0.0, low - (high - self.y_max)), self.y_max
        ticks = [low, (low + high) / 2, high]
        fine = (
            self.y_min is None and high - low < 10
        )  # a narrow range (cache hit 99.2-100) needs a decimal to tell ticks apart
        longest = max(len(values) for _label, values in points)
        first = -(longest - 1)
        # Three whole-sample ticks labelled in time before now.
        xticks = sorted({first, round(first / 2), 0})
        plot = line_plot(
            [
                Series(values, _PALETTE[i % len(_PALETTE)])
                for i, (_label, values) in enumerate(points)
                if len(values) >= 2
            ],
            w,
            h - len(legend.split()),
            y_range=(low, high),
            y_ticks=[(t, f"{t:.1f}" if fine else _compact(t)) for t in ticks],
            x_range=(first, 0),
            x_ticks=[(t, _ago(-t * self.step)) for t in xticks],
        )
        # The chart's size is the grid's, never its content's: no layout pass.
        set_text(self, Text.assemble(legend, "\n", plot), layout=False)
