"""SVG snapshots of every screen on fixed data (FakeSource, pinned clock), at 80x24 (the SSH default)
and at 140x45: no server involved. Below them, checks of what 80x24 must keep (issue 15, item 5):
the header's role and mode, usable error and query columns, nothing past the right edge.

Regenerate after an intended change with
``.venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from textual.widgets import DataTable, Footer, Static
from textual.widgets._footer import FooterKey

from pgconsole.tui.app import HISTORY, PgConsoleApp
from pgconsole.tui.screens.base import LiveScreen
from pgconsole.tui.screens.help import HelpScreen
from pgconsole.tui.screens.job_detail import JobDetailScreen
from pgconsole.tui.screens.modals import ConfirmScreen
from pgconsole.tui.widgets.chart import Chart
from tests.tui.fakes import FakeSource
from tests.tui.helpers import until

SIZES = {"80x24": (80, 24), "140x45": (140, 45)}
sizes = pytest.mark.parametrize("size", list(SIZES))

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


async def _settled(pilot: Any) -> None:
    """The current screen has shown its data (a live screen refreshed once, a modal is on top) and
    the key bar is composed: polled, no fixed sleep."""
    app = pilot.app
    await until(
        pilot,
        lambda: not isinstance(app.screen, LiveScreen) or app.screen.refreshes >= 1,
        what="first refresh",
    )
    if isinstance(app.screen, LiveScreen):
        await until(
            pilot,
            lambda: app.screen.query(Footer) and app.screen.query_one(Footer).query(FooterKey),
            what="key bar",
        )
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def _keys(*keys: str, then: type | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        await _settled(pilot)
        for k in keys:
            await pilot.press(k)
            await _settled(pilot)
        if then is not None:
            await until(pilot, lambda: isinstance(pilot.app.screen, then), what=then.__name__)
            await _settled(pilot)

    return run_before


@sizes
@pytest.mark.parametrize(
    "key,name", [("1", "overview"), ("2", "jobs"), ("3", "queries"), ("4", "activity"), ("5", "schema")]
)
def test_main_screen(snap_compare: Any, size: str, key: str, name: str) -> None:
    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=_keys(key))


@sizes
@pytest.mark.parametrize("tab", ["s", "g"])
def test_jobs_tabs(snap_compare: Any, size: str, tab: str) -> None:
    """The Stuck (s) and Failures by error (g) tabs."""
    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=_keys("2", tab))


@sizes
def test_job_detail_with_hostile_text(snap_compare: Any, size: str) -> None:
    # row 4 holds "[bold red]x[/] [/] \x1b[31m..." in its error: it must show literally
    assert snap_compare(
        _app(),
        terminal_size=SIZES[size],
        run_before=_keys("2", "down", "down", "down", "enter", then=JobDetailScreen),
    )


@sizes
def test_activity_with_pgbouncer_pools(snap_compare: Any, size: str) -> None:
    """With pgbouncer_dsn: the pools panel under the sessions (a waiting pool in yellow)."""
    assert snap_compare(_app(pgbouncer=True), terminal_size=SIZES[size], run_before=_keys("4"))


@sizes
def test_jobs_read_only(snap_compare: Any, size: str) -> None:
    assert snap_compare(_app(read_only=True), terminal_size=SIZES[size], run_before=_keys("2"))


@sizes
def test_confirmation(snap_compare: Any, size: str) -> None:
    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=_keys("2", "r", then=ConfirmScreen))


@sizes
def test_help(snap_compare: Any, size: str) -> None:
    assert snap_compare(_app(), terminal_size=SIZES[size], run_before=_keys("question_mark", then=HelpScreen))


# -- what 80x24 must keep (each failed on the layout before issue 15 item 5) -------------------


def _columns(table: DataTable[Any]) -> dict[str, int]:
    return {str(c.label): c.get_render_width(table) - 2 * table.cell_padding for c in table.ordered_columns}


def _fits(app: PgConsoleApp) -> list[str]:
    """Widgets on the current screen that reach past the right edge or scroll sideways."""
    width = app.size.width
    bad = [
        f"{w!r} ends at {w.region.right}"
        for w in app.screen.query("*")
        if w.display and w.region.right > width
    ]
    bad += [
        f"{t.id} scrolls sideways ({t.virtual_size.width} > {t.scrollable_content_region.width})"
        for t in app.screen.query(DataTable)
        if t.display and t.region.width and t.virtual_size.width > t.scrollable_content_region.width
    ]
    return bad


async def _at_80x24(key: str, then: type | None = None, *keys: str) -> Any:
    app = _app()
    ctx = app.run_test(size=(80, 24))
    pilot = await ctx.__aenter__()
    await _keys(key, *keys, then=then)(pilot)
    return app, pilot, ctx


async def test_header_keeps_role_and_mode_at_80() -> None:
    """The header lost role and read-write past column 80 (it was cut, not fitted)."""
    app, pilot, ctx = await _at_80x24("2")
    try:
        line = str(app.screen.query_one(".topbar", Static).render())
        assert "2 Jobs" in line and "role pgconsole_operator" in line and "read-write" in line, line
        assert len(line) <= 80, line
    finally:
        await ctx.__aexit__(None, None, None)


async def test_jobs_error_column_is_usable_at_80() -> None:
    """The error column was one character wide at 80 columns."""
    app, pilot, ctx = await _at_80x24("2")
    try:
        cols = _columns(app.screen.query_one("#jobs-table", DataTable))
        assert cols.get("error", 0) >= 24, cols
        assert {"id", "type", "status"} <= cols.keys(), cols
        assert not _fits(app), _fits(app)
    finally:
        await ctx.__aexit__(None, None, None)


async def test_activity_keeps_the_query_column_at_80() -> None:
    """Activity's query column was pushed out of sight at 80 columns."""
    app, pilot, ctx = await _at_80x24("4")
    try:
        cols = _columns(app.screen.query_one("#sessions-table", DataTable))
        assert cols.get("query", 0) >= 30 and "state" in cols and "pid" in cols, cols
        assert not _fits(app), _fits(app)
    finally:
        await ctx.__aexit__(None, None, None)


@pytest.mark.parametrize(
    "key,then",
    [("1", None), ("2", None), ("3", None), ("4", None), ("5", None), ("question_mark", HelpScreen)],
)
async def test_nothing_past_the_right_edge_at_80(key: str, then: type | None) -> None:
    """No widget reaches past column 80 and no table scrolls sideways; the key bar's last cell is the
    palette key's (a stray character of the key under it showed there: "Paletteb")."""
    app, pilot, ctx = await _at_80x24(key, then)
    try:
        assert not _fits(app), _fits(app)
        if then is None:
            palette = app.screen.query_one(Footer).query_one(".-command-palette", FooterKey)
            assert palette.region.right == 80, palette.region
    finally:
        await ctx.__aexit__(None, None, None)


async def test_confirmation_fits_at_80() -> None:
    """The confirmation dialog was 90 columns wide: its right part was off screen at 80."""
    app, pilot, ctx = await _at_80x24("2", ConfirmScreen, "r")
    try:
        assert not _fits(app), _fits(app)
    finally:
        await ctx.__aexit__(None, None, None)


async def test_overview_queue_shows_all_rows_at_80x24() -> None:
    """The queue table keeps its rows (charts and vitals give way) and all its columns at 80x24."""
    app, pilot, ctx = await _at_80x24("1")
    try:
        table = app.screen.query_one("#queue-table", DataTable)
        assert table.row_count == 3 and table.scrollable_content_region.height >= table.row_count + 1
        assert len(table.ordered_columns) == 6, _columns(table)
        assert not app.screen.query_one("#charts").display
    finally:
        await ctx.__aexit__(None, None, None)


async def test_chart_legend_leaves_room_for_the_x_axis() -> None:
    """At 80x40 the two-series legend wrapped onto a third line the plot size did not count, so the
    x-axis labels fell off the bottom of the chart."""
    app = _app()
    async with app.run_test(size=(80, 40)) as pilot:
        await _settled(pilot)
        chart = app.screen.query_one("#chart-throughput", Chart)
        lines = str(chart.render()).split("\n")
        assert len(lines) <= chart.content_size.height, lines
        assert max(len(line) for line in lines) <= chart.content_size.width, lines
        assert "now" in lines[-1] or "now" in lines[-2], lines


class _LongTexts(FakeSource):
    async def schema(self) -> Any:
        data = await super().schema()
        data.findings[0] = data.findings[0].model_copy(
            update={"message": "connected as superuser postgres: " * 6}
        )
        return data


async def test_long_messages_take_the_width_left_at_80() -> None:
    """The findings were fitted to the width the table had before the narrow layout applied (25
    columns), and the last column's share counted its padding twice: one long message made the
    table scroll sideways."""
    app = PgConsoleApp(_LongTexts(), refresh=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await _keys("5")(pilot)
        cols = _columns(app.screen.query_one("#findings-table", DataTable))
        assert cols["message"] >= 40, cols
        assert not _fits(app), _fits(app)
