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
        screen: HelpScreen = await until(
            pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, what="help screen"
        )
        table: DataTable[Any] = screen.query_one("#help-table", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["where", "key", "action"]
        cells = [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]
        keys = {row[1] for row in cells}
        assert "?" in keys and "+ / =" in keys and "esc / backspace" in keys, keys
        flat = " ".join(" ".join(r) for r in cells)
        for raw in ("question_mark", "equals_sign", "plus,", "app.help", "detail.back"):
            assert raw not in flat, raw


async def test_only_a_pending_job_shows_its_expiry(db18: Any) -> None:
    from textual.widgets import Static

    from pgconsole.tui.screens.job_detail import JobDetailScreen
    from pgconsole.tui.source import PgSource
    from tests.tui.dbseed import add_job
    from tests.tui.helpers import plain

    with db18.admin() as su:
        failed = add_job(su, "email.send", "failed", error="boom")
        pending = add_job(su, "email.send", "pending")
        su.execute(
            "UPDATE pgconsole.jobs SET expires_at = now() + interval '24 hours' WHERE id = ANY(%s::uuid[])",
            ([failed, pending],),
        )
    app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=3600)
    async with app.run_test(size=SIZE) as pilot:
        timelines = {}
        for jid in (failed, pending):
            screen = JobDetailScreen(jid)
            app.push_screen(screen)
            await until(pilot, lambda s=screen: s.refreshes >= 1, what="job detail")  # type: ignore[misc]
            timelines[jid] = plain(screen.query_one("#detail-timeline", Static))
            app.pop_screen()
            await pilot.pause()
        assert "created" in timelines[failed] and "expires" not in timelines[failed], timelines[failed]
        assert "expires" in timelines[pending], timelines[pending]


async def test_server_panel_counts_connections_as_the_check_does(db18: Any) -> None:
    """Both come from one snapshot; they must say the same `N of M`."""
    import re

    from textual.widgets import Static

    from pgconsole.tui.source import PgSource
    from tests.tui.helpers import plain

    held = [db18.admin() for _ in range(3)]  # other sessions, so the count is not trivially 1
    try:
        app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=3600)
        async with app.run_test(size=SIZE) as pilot:
            await until(
                pilot,
                lambda: app.screen.refreshes >= 1 and app.health,
                timeout=30,  # type: ignore[attr-defined]
                what="overview",
            )
            vitals = plain(app.screen.query_one("#vitals", Static))
            panel = re.search(r"Connections\s+(\d+) of (\d+)\s+\((.*?)\)", vitals)
            assert panel, vitals
            check = next(c for c in app.health if c.name == "connections_used")
            counted = re.match(r"(\d+) of (\d+) usable connections", check.message)
            assert counted, check.message
            assert panel.group(1, 2) == counted.group(1, 2), (vitals, check.message)
            assert "this console 1" in panel.group(3)
            parts = sum(int(n) for n in re.findall(r"(\d+)(?:,|$)", panel.group(3)))
            assert parts == int(panel.group(1)), panel.group(3)
    finally:
        for c in held:
            c.close()
