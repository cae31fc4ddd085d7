"""A small line chart drawn with plotext into a Static (redrawn on data and on resize)."""

from __future__ import annotations

import plotext as plt
from rich.text import Text
from textual.widgets import Static


class Chart(Static):
    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.series: list[tuple[str, list[float]]] = []

    def set_series(self, series: list[tuple[str, list[float]]]) -> None:
        self.series = series
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        w, h = self.size.width, self.size.height
        if w < 10 or h < 4:
            return
        # plotext 6 keeps one global figure; the UI thread is the only caller, so reset it each draw.
        fig = plt.figure
        fig.clear()
        fig.plot_size(w, h)
        fig.theme("dark")
        fig.title(self.title)
        drawn = False
        for label, values in self.series:
            if values:
                sig = fig.signal(list(values))
                sig.label(label)
                fig.draw(sig)
                drawn = True
        if not drawn:
            self.update(Text(f"{self.title}\n(collecting…)", style="dim"))
            return
        self.update(Text.from_ansi(str(fig.build())))
