"""EXPLAIN of a statement with $n placeholders (issue 15, item 9): on PostgreSQL 14/15 the Queries
screen asks for the values and shows the plan; on 16+ it plans the text generically, no question.
Real servers (PostgreSQL 15 and 18), the console as pgconsole_operator."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Input, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import MessageScreen, ParametersScreen
from pgconsole.tui.source import PgSource
from tests.tui.helpers import plain, until


async def test_explain_asks_for_parameter_values_where_the_server_needs_them(db: Any) -> None:
    with db.admin() as conn:
        for _ in range(3):
            conn.execute("SELECT count(*) AS needs_params FROM pgconsole.jobs WHERE job_type = 'x'")  # -> $1
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
    app = PgConsoleApp(PgSource(db.dsn_as("pgconsole_operator")), refresh=0.5)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("3")
        screen = app.screen
        await until(pilot, lambda: screen.refreshes > 0, what="queries refresh")
        await pilot.press("t")
        table = screen.query_one("#queries-table", DataTable)
        await until(pilot, lambda: any("needs_params" in r.query for r in screen.rows), what="the statement")
        table.move_cursor(row=next(i for i, r in enumerate(screen.rows) if "needs_params" in r.query))
        text = screen.query_one("#query-text", Static)
        await until(
            pilot, lambda: "needs_params" in plain(text), what="the statement selected (its text shown)"
        )
        await pilot.press("x")
        if major < 16:
            asked = await until(
                pilot,
                lambda: isinstance(app.screen, ParametersScreen) and app.screen,
                what="the parameters dialog",
            )
            assert asked.numbers == [1]
            asked.query_one("#param-1", Input).value = "email.send"
            await pilot.press("enter")
        shown = await until(
            pilot, lambda: isinstance(app.screen, MessageScreen) and app.screen, what="the plan"
        )
        plan = plain(shown.query_one("#message-body", Static))
        assert "Aggregate" in plan and "no plan" not in plan, plan


async def test_the_activity_filter_refuses_an_unknown_key(db18: Any) -> None:
    app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=0.5)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("4")
        screen = app.screen
        await until(pilot, lambda: screen.refreshes > 0, what="activity refresh")
        await pilot.press("slash", *"sate:active", "enter")
        status = await until(
            pilot,
            lambda: (
                "unknown filter key" in plain(screen.query_one("#activity-status", Static))
                and plain(screen.query_one("#activity-status", Static))
            ),
            what="the error",
        )
        assert "'sate'" in status and "state, user, app, dur" in status
