"""Issue 15 item 9, the console's rough edges (Pilot): help shows keys as typed, a finished job has
no expiry, the Server panel counts connections as the check does, the banner stays current on every
screen, and EXPLAIN of a parameterised statement works on PostgreSQL 14/15."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.help import HelpScreen
from tests.tui.fakes import FakeSource
from tests.tui.helpers import until

SIZE = (140, 45)


async def test_help_shows_keys_as_typed_and_no_binding_id() -> None:
    app = PgConsoleApp(FakeSource(), refresh=3600)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        screen: HelpScreen = await until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                         what="help screen")
        table: DataTable[Any] = screen.query_one("#help-table", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["where", "key", "action"]
        cells = [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]
        keys = {row[1] for row in cells}
        assert "?" in keys and "+ / =" in keys and "esc / backspace" in keys, keys
        flat = " ".join(" ".join(r) for r in cells)
        for raw in ("question_mark", "equals_sign", "plus,", "app.help", "detail.back"):
            assert raw not in flat, raw
