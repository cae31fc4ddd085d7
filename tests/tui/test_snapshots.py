"""SVG snapshots of each main screen on fixed data (FakeSource, pinned clock): no server involved.

Regenerate after an intended change with
``.venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from typing import Any

import pytest

from pgconsole.tui.app import PgConsoleApp
from tests.tui.fakes import FakeSource

SIZE = (140, 40)


def _app(**kw: Any) -> PgConsoleApp:
    return PgConsoleApp(FakeSource(**kw), refresh=3600)


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
