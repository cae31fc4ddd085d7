"""Render only what changed (issue 20, item 4): tables are updated by row key, a widget whose text
did not change is not updated, a refresh asks for no layout pass, and hidden or paused screens do
not refresh at all. Real Textual widgets in a headless app; the Overview on fixed data."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.overview import OverviewScreen
from pgconsole.tui.widgets.chart import Chart
from pgconsole.tui.widgets.in_place import same, set_text, sync_rows
from pgconsole.tui.widgets.plot import Series, line_plot
from tests.tui.fakes import FakeSource
from tests.tui.helpers import idle, until


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="t")
        yield Static(id="s")


def _cells(table: DataTable[Any]) -> list[tuple[str, list[str]]]:
    return [(str(k.value), [str(c) for c in table.get_row(k)]) for k in table.rows]


async def test_sync_rows_updates_cells_by_key_and_rebuilds_only_on_reorder() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table: DataTable[Any] = app.query_one(DataTable)
        table.add_columns("a", "b")
        assert sync_rows(table, [("x", ["1", "2"]), ("y", ["3", "4"])]) is False  # empty: appended
        keys = list(table.rows)
        table.move_cursor(row=1)
        # same keys, one cell changed: updated in place, the same row objects, the cursor kept
        assert sync_rows(table, [("x", ["1", "2"]), ("y", ["3", "5"])]) is False
        assert list(table.rows) == keys and table.cursor_row == 1
        assert _cells(table) == [("x", ["1", "2"]), ("y", ["3", "5"])]
        # one row left, one came at the end: no rebuild
        assert sync_rows(table, [("y", ["3", "5"]), ("z", ["6", "7"])]) is False
        assert _cells(table) == [("y", ["3", "5"]), ("z", ["6", "7"])]
        # a new row at the top (a newer job): rebuilt, in the new order
        assert sync_rows(table, [("w", ["0", "0"]), ("y", ["3", "5"]), ("z", ["6", "7"])]) is True
        assert [k for k, _ in _cells(table)] == ["w", "y", "z"]
        # a repeated key is kept apart, not merged
        sync_rows(table, [("d", ["1", "1"]), ("d", ["2", "2"])])
        assert _cells(table) == [("d", ["1", "1"]), ("d#2", ["2", "2"])]
        await pilot.pause()


async def test_a_style_only_change_is_drawn() -> None:
    """Rich's Text == ignores the base style: a status turning from red to green must still update."""
    assert Text("ok", style="red") == Text("ok", style="green")  # why same() exists
    assert not same(Text("ok", style="red"), Text("ok", style="green"))
    assert not same(Text("1", justify="right"), Text("1"))
    assert same(Text("a", style="red"), Text("a", style="red"))
    app = TableApp()
    async with app.run_test() as pilot:
        table: DataTable[Any] = app.query_one(DataTable)
        table.add_column("status", key="status")
        sync_rows(table, [("j", [Text("failed", style="red")])])
        sync_rows(table, [("j", [Text("failed", style="green")])])
        assert table.get_row("j")[0].style == "green"
        static = app.query_one(Static)
        assert set_text(static, Text("a", style="red")) is True
        assert set_text(static, Text("a", style="red")) is False
        assert set_text(static, Text("a", style="bold")) is True
        await pilot.pause()


def test_line_plot_draws_the_line_and_its_axes() -> None:
    plot = line_plot(
        [Series([0.0, 10.0], "red")],
        12,
        5,
        y_range=(0.0, 10.0),
        y_ticks=[(0.0, "0"), (10.0, "10")],
        x_range=(-1, 0),
        x_ticks=[(-1, "-1s"), (0, "now")],
    )
    lines = plot.plain.split("\n")
    assert len(lines) == 5 and all(len(line) <= 12 for line in lines)
    assert lines[0].startswith("10┤") and lines[2].startswith(" 0┤")
    assert lines[2][3] != " " and lines[0][-1] != " "  # from bottom left to top right
    assert lines[3].startswith("  └") and "-1s" in lines[4] and "now" in lines[4]
    assert any(span.style == "red" for span in plot.spans)


async def test_an_unchanged_refresh_lays_out_nothing_and_keeps_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layouts = []
    real_layout = Screen._refresh_layout

    def counting_layout(self: Screen[Any], *a: Any, **kw: Any) -> None:
        layouts.append(type(self).__name__)
        real_layout(self, *a, **kw)

    updated: list[str] = []
    real_update = Static.update

    def counting_update(self: Static, *a: Any, **kw: Any) -> None:
        updated.append(self.id or type(self).__name__)
        real_update(self, *a, **kw)

    app = PgConsoleApp(FakeSource(), refresh=3600)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await until(pilot, lambda: screen.refreshes >= 1, what="the first refresh")
        screen.kick()  # the second draws the charts (one sample is not a line)
        await until(pilot, lambda: screen.refreshes >= 2, what="the second refresh")
        await idle(pilot)
        queue_rows = list(screen.query_one("#queue-table", DataTable).rows)
        check_rows = list(screen.query_one("#checks-table", DataTable).rows)
        monkeypatch.setattr(Screen, "_refresh_layout", counting_layout)
        monkeypatch.setattr(Static, "update", counting_update)
        for _ in range(3):
            done = screen.refreshes
            screen.kick()
            await until(pilot, lambda done=done: screen.refreshes > done, what="a refresh")
            await idle(pilot)
        assert layouts == []
        # the same data: only the charts, whose history grows by a sample each refresh, are redrawn
        charts = {c.id for c in screen.query(Chart)}
        assert set(updated) <= charts, updated
        assert list(screen.query_one("#queue-table", DataTable).rows) == queue_rows
        assert list(screen.query_one("#checks-table", DataTable).rows) == check_rows


async def test_hidden_and_paused_screens_do_not_refresh() -> None:
    app = PgConsoleApp(FakeSource(), refresh=0.05)
    async with app.run_test(size=(140, 45)) as pilot:
        overview = app.screen
        await until(pilot, lambda: overview.refreshes >= 2, what="overview refreshes")
        await pilot.press("2")
        jobs = app.screen
        assert jobs is not overview
        await until(pilot, lambda: jobs.refreshes >= 1, what="jobs refresh")
        hidden_at = overview.refreshes
        seen = jobs.refreshes
        await until(pilot, lambda: jobs.refreshes >= seen + 5, what="five jobs refreshes")
        assert overview.refreshes == hidden_at, "the hidden Overview refreshed"
        await pilot.press("space")
        await idle(pilot)
        paused_at = jobs.refreshes
        for _ in range(10):  # 0.5 s: ten refresh intervals
            await pilot.pause(0.05)
        assert jobs.refreshes == paused_at and overview.refreshes == hidden_at
        await pilot.press("space")
        await until(pilot, lambda: jobs.refreshes > paused_at, what="refresh after resume")
