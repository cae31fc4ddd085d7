"""The floor: what a minimal Textual app costs at a 1 s refresh, measured as bench.console_cost measures.

    .venv/bin/python -m bench.textual_floor                 # every app, 30 s each, 3 rounds
    .venv/bin/python -m bench.textual_floor --apps table --seconds 20 --repeat 1

Each app runs alone in a detached tmux session of 140×45 (the same ``Terminal`` and ``/proc``
process-tree CPU as :mod:`bench.console_cost`), with no database:

* ``idle``: a Static and a Footer, no timer (what an app that draws nothing costs);
* ``static``: one Static of one line whose text changes every second;
* ``table``: one DataTable of the Activity screen's size (``--rows`` rows of 9 columns, zebra
  stripes, row cursor) whose two age cells per row change every second (``update_cell``, as the
  console does);
* ``screen``: the table plus a one-line status Static and a Footer (the Activity screen's widgets
  without the database).

The figure is CPU ms per second of wall time of the pane's process tree; it tells what part of a
screen's client cost is Textual's own per-refresh work (message pump, compositor, driver).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.console_cost import HEIGHT, WIDTH, Terminal, tree_cpu

APPS = ("idle", "static", "table", "screen")
READY = "floor-ready"


# -- the apps (run in the pane) -------------------------------------------------------------------
def _app(kind: str, rows: int) -> Any:
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Static

    class Floor(App[None]):
        BINDINGS = [("q", "quit", "Quit")]

        def __init__(self) -> None:
            super().__init__()
            self.tick = 0

        def compose(self) -> ComposeResult:
            yield Static(Text(READY), id="status")
            if kind in ("table", "screen"):
                yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            if kind in ("idle", "screen"):
                yield Footer()

        def on_mount(self) -> None:
            if kind in ("table", "screen"):
                table: DataTable[Any] = self.query_one(DataTable)
                for name in ("pid", "user", "application", "state", "wait", "xact", "age", "by", "query"):
                    table.add_column(name, key=name)
                for i in range(rows):
                    table.add_row(*self._cells(i), key=str(i))
                table.focus()
            if kind != "idle":
                self.set_interval(1.0, self._update)

        def _cells(self, i: int) -> list[Text]:
            return [
                Text(str(4000 + i)),
                Text("postgres"),
                Text(f"worker-{i}"),
                Text("active" if (i + self.tick) % 3 else "idle"),
                Text("ClientRead"),
                Text(f"{self.tick + i}s"),
                Text(f"{self.tick}s"),
                Text(""),
                Text(f"a query text of session {i}, refresh {self.tick}"),
            ]

        def _update(self) -> None:
            self.tick += 1
            status: Static = self.query_one("#status", Static)
            if kind in ("static", "screen"):
                status.update(Text(f"{READY} {self.tick} updates"), layout=False)
            if kind in ("table", "screen"):
                table: DataTable[Any] = self.query_one(DataTable)
                for i in range(rows):
                    cells = self._cells(i)
                    table.update_cell(str(i), "xact", cells[5])
                    table.update_cell(str(i), "age", cells[6])

    return Floor()


# -- the measurement ------------------------------------------------------------------------------
def measure(kind: str, rows: int, seconds: float, warmup: float) -> float:
    term = Terminal()
    try:
        argv = [sys.executable, "-m", "bench.textual_floor", "--run", kind, "--rows", str(rows)]
        root = term.start(argv, {"TERM": "xterm-256color"}, str(Path(__file__).resolve().parent.parent))
        if not term.wait_for(READY, 60):
            raise RuntimeError(f"{kind}: never showed {READY!r}:\n{term.screen()}")
        time.sleep(warmup)
        cpu0, t0 = tree_cpu(root), time.monotonic()
        time.sleep(seconds)
        cpu1, elapsed = tree_cpu(root), time.monotonic() - t0
    finally:
        term.stop()
    return (cpu1 - cpu0) / elapsed * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.textual_floor", description=__doc__.splitlines()[0])
    ap.add_argument("--apps", default=",".join(APPS), help=f"comma-separated, of {', '.join(APPS)}")
    ap.add_argument("--rows", type=int, default=12, help="table rows (sessions on the Activity screen)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds, each app once per round, order rotated")
    ap.add_argument("--json", default=None)
    ap.add_argument("--run", default=None, choices=APPS, help=argparse.SUPPRESS)  # inside the pane
    a = ap.parse_args(argv)
    if a.run:
        _app(a.run, a.rows).run()
        return
    from importlib.metadata import version

    textual_version = version("textual")
    kinds = [k for k in a.apps.split(",") if k]
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    for rep in range(a.repeat):
        for kind in kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]:
            ms = measure(kind, a.rows, a.seconds, a.warmup)
            runs[kind].append(round(ms, 2))
            print(f"  {kind:7s} rep {rep}: {ms:.1f} ms/s", flush=True)
    print(f"Textual {textual_version}, {WIDTH}×{HEIGHT} tmux, {a.seconds:g} s per app, median of {a.repeat}")
    print("| app | client CPU ms/s (median) | rounds |\n|---|---|---|")
    for kind, v in runs.items():
        print(f"| {kind} | {statistics.median(v):.1f} | {min(v):.1f}–{max(v):.1f} |")
    if a.json:
        Path(a.json).write_text(
            json.dumps({"textual": textual_version, "rows": a.rows, "runs": runs}, indent=1)
        )


if __name__ == "__main__":
    main()
