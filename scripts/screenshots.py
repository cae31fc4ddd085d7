"""Render each main screen against the demo database to SVG in screenshots/, and measure
startup-to-first-data.

    .venv/bin/python scripts/screenshots.py [--warmup 30]

Starts an embedded PostgreSQL in a temporary directory (as `pgconsole demo` does), runs the demo
workload for ``--warmup`` seconds, then drives the app headlessly (Textual run_test) through keys
1-7 and a job detail, saving one SVG per screen, then the Overview at 80x24 (overview-80x24.svg).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "screenshots"


def save(app: object, name: str) -> None:
    """Save one SVG with ``xml:space="preserve"`` on the root: Textual writes spaces as U+00A0 and
    positions each run with textLength, but librsvg (rsvg-convert, used to view these as PNG) drops
    the leading spaces of every run and ignores textLength, so "Error  code" rendered as "Errorcode"
    and indented JSON lost its indentation. Browsers render the file the same either way."""
    app.save_screenshot(filename=f"{name}.svg", path=str(OUT))  # type: ignore[attr-defined]
    path = OUT / f"{name}.svg"
    svg = path.read_text(encoding="utf-8")
    if "xml:space" not in svg[:200]:
        path.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")


SCREENS = [
    ("1", "overview"),
    ("2", "jobs"),
    ("3", "queries"),
    ("4", "activity"),
    ("5", "schema"),
    ("6", "workers"),
    ("7", "queues"),
]


async def shoot(dsn: str, size: tuple[int, int]) -> float:
    from pgconsole.tui.app import PgConsoleApp
    from pgconsole.tui.source import PgSource

    t0 = time.monotonic()
    app = PgConsoleApp(PgSource(dsn), refresh=2.0)
    async with app.run_test(size=size) as pilot:
        while app.first_data_at is None and time.monotonic() - t0 < 20:
            await pilot.pause(0.02)
        first = (app.first_data_at or time.monotonic()) - t0
        OUT.mkdir(exist_ok=True)
        for key, name in SCREENS:
            await pilot.press(key)
            screen = app.screen
            start = getattr(screen, "refreshes", 0)
            while getattr(screen, "refreshes", 1) <= start and time.monotonic() - t0 < 120:
                await pilot.pause(0.1)
            if name == "overview":
                await pilot.pause(20.0)  # ten refreshes so that the charts show a trend
            if name == "queries":  # the first refresh is cumulative; the second shows the interval
                while screen.refreshes <= start + 1 and time.monotonic() - t0 < 120:
                    await pilot.pause(0.1)
            await pilot.pause(0.3)  # let the footer settle (it recomposes when bindings change)
            save(app, name)
        await pilot.press("2", "g")
        await pilot.pause(2.5)
        save(app, "jobs-failures")
        await pilot.press("l", "f")
        await pilot.pause(2.5)
        await pilot.press("enter")
        await pilot.pause(2.5)
        save(app, "job-detail")
        await pilot.press("escape", "q")
    return first


async def shoot_small(dsn: str) -> None:
    """The Overview at 80x24, the SSH default: charts give way, the queue keeps its rows."""
    from pgconsole.tui.app import PgConsoleApp
    from pgconsole.tui.source import PgSource

    t0 = time.monotonic()
    app = PgConsoleApp(PgSource(dsn), refresh=2.0)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        while getattr(screen, "refreshes", 0) < 2 and time.monotonic() - t0 < 60:
            await pilot.pause(0.1)
        await pilot.pause(0.3)  # let the footer settle
        save(app, "overview-80x24")
        await pilot.press("q")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--width", type=int, default=140)
    ap.add_argument("--height", type=int, default=40)
    args = ap.parse_args()
    from pgconsole.commands.demo import prepare
    from pgconsole.demo_workload import Workload

    data = Path(tempfile.mkdtemp(prefix="pgconsole-shots-"))
    data.chmod(0o755)
    ns = argparse.Namespace(data_dir=data / "data", pg_bin=None, port=None, reset=False)
    server, dsn, _ = prepare(ns)
    workload = Workload(dsn, seed=7)
    try:
        workload.start()
        time.sleep(args.warmup)
        first = asyncio.run(shoot(dsn, (args.width, args.height)))
        asyncio.run(shoot_small(dsn))
        print(f"startup to first data on screen: {first:.2f} s (server already up)")
        print(f"screenshots written to {OUT}")
    finally:
        workload.stop()
        server.stop()


if __name__ == "__main__":
    main()
