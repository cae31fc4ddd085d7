"""Client CPU of one Overview chart draw: plotext (the console's charts until issue 20) against
``pgconsole.tui.widgets.plot.line_plot`` (what draws them now), the same samples at the same size.

    .venv/bin/python -m bench.chart_cost [--draws 200] [--width 33] [--height 9]

Each side turns 120 samples (a 2-minute window at a 1 s refresh) into the ``rich.text.Text`` the
chart widget shows: plotext builds its figure (size, theme, one signal with lines, both axes with
our own ticks, as the old ``Chart._draw`` did) and its ANSI output is parsed back with
``Text.from_ansi``; ``line_plot`` draws the grid directly. Sides alternate in rounds; CPU is
``time.process_time``. plotext is no longer a dependency: ``pip install plotext`` to run its side.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text

SAMPLES = 120


def _series() -> list[float]:
    return [50 + 30 * math.sin(i / 7) + (i % 5) for i in range(SAMPLES)]


def plotext_side(values: list[float], w: int, h: int) -> Text:
    import plotext as plt  # type: ignore[import-untyped]

    fig: Any = plt.figure
    fig.clear()
    fig.plot_size(w, h)
    fig.theme("dark")
    fig.legend(active=False)
    xs = list(range(-len(values) + 1, 1))
    sig = fig.signal(xs, values, marker=plt.marker("hd", 39))
    sig.lines(True)
    fig.draw(sig)
    fig.ruler("y").lim(0, 100)
    fig.ruler("y").ticks([0, 50, 100], ["0", "50", "100"])
    fig.ruler("x").lim(xs[0], 0)
    fig.ruler("x").ticks([xs[0], xs[0] // 2, 0], ["-2m", "-1m", "now"])
    return Text.from_ansi(str(fig.build()).rstrip("\n"))


def line_plot_side(values: list[float], w: int, h: int) -> Text:
    from pgconsole.tui.widgets.plot import Series, line_plot

    first = -(len(values) - 1)
    return line_plot(
        [Series(values, "dodger_blue1")],
        w,
        h,
        y_range=(0.0, 100.0),
        y_ticks=[(0.0, "0"), (50.0, "50"), (100.0, "100")],
        x_range=(first, 0),
        x_ticks=[(first, "-2m"), (first // 2, "-1m"), (0, "now")],
    )


def measure(draw: Callable[[list[float], int, int], Text], draws: int, w: int, h: int) -> float:
    """CPU milliseconds per draw, the series shifted by one sample each draw (as at each refresh)."""
    values = _series()
    c0 = time.process_time()
    for i in range(draws):
        draw(values[i % 7 :] + values[: i % 7], w, h)
    return (time.process_time() - c0) / draws * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.chart_cost", description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200, help="draws per side per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--width", type=int, default=33)
    ap.add_argument("--height", type=int, default=9)
    a = ap.parse_args(argv)
    sides: dict[str, Callable[[list[float], int, int], Text]] = {"line_plot": line_plot_side}
    try:
        import plotext  # type: ignore[import-untyped]  # noqa: F401

        sides["plotext"] = plotext_side
    except ImportError:
        print("plotext is not installed: its side is not measured (pip install plotext)")
    for draw in sides.values():
        draw(_series(), a.width, a.height)  # imports and first-call set-up outside the clock
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(a.rounds):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            runs[name].append(measure(sides[name], a.draws, a.width, a.height))
    print(
        f"{SAMPLES} samples at {a.width}×{a.height} cells, {a.draws} draws × {a.rounds} rounds, sides alternating"
    )
    print("| side | CPU ms per draw, median (min–max) |")
    print("|---|---|")
    for name, v in runs.items():
        print(f"| {name} | {statistics.median(v):.3f} ({min(v):.3f}–{max(v):.3f}) |")
    if "plotext" in runs:
        print(
            f"plotext / line_plot: {statistics.median(runs['plotext']) / statistics.median(runs['line_plot']):.1f}×"
        )


if __name__ == "__main__":
    main()
