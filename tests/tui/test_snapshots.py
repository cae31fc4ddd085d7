"""SVG snapshots of each main screen on fixed data (FakeSource, pinned clock): no server involved.

Regenerate after an intended change with
``.venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from pgconsole.tui.app import HISTORY, PgConsoleApp
from tests.tui.fakes import FakeSource

SIZE = (140, 40)

# Fixed chart history (as if the session had been open a while), so the charts are drawn too.
CHART_HISTORY = {
    "completed": [12, 15, 14, 18, 22, 19, 16, 21, 25, 23, 20, 17],
    "failed": [0, 1, 0, 0, 2, 1, 0, 0, 3, 1, 0, 1],
    "depth": [40, 55, 80, 120, 160, 150, 130, 110, 90, 70, 60, 55],
    "tps": [180, 190, 210, 205, 230, 240, 225, 215, 220, 235, 228, 230],
    "cache": [99.4, 99.3, 99.1, 98.8, 98.9, 99.0, 99.2, 99.3, 99.1, 99.2, 99.3, 99.2],
}


def _app(**kw: Any) -> PgConsoleApp:
    app = PgConsoleApp(FakeSource(**kw), refresh=3600)
    app.history = {name: deque(values, maxlen=HISTORY) for name, values in CHART_HISTORY.items()}
    return app


def _keys(*keys: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await pilot.pause(0.2)
        for k in keys:
            await pilot.press(k)
            await pilot.pause(0.2)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("key,name", [("1", "overview"), ("2", "jobs"), ("3", "queries"), ("4", "activity"),
                                      ("5", "schema")])
def test_main_screen(snap_compare: Any, key: str, name: str) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_keys(key))


def test_job_detail_with_hostile_text(snap_compare: Any) -> None:
    # row 4 holds "[bold red]x[/] [/] \x1b[31m..." in its error: it must show literally
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_keys("2", "down", "down", "down", "enter"))


def test_jobs_read_only(snap_compare: Any) -> None:
    assert snap_compare(_app(read_only=True), terminal_size=SIZE, run_before=_keys("2"))


def test_confirmation(snap_compare: Any) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_keys("2", "r"))
