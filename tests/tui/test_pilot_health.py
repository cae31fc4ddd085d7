"""The health banner stays current on every screen, not only on the Overview (issue 15, item 9):
against a real PostgreSQL, the console as pgconsole_operator, started on the Jobs screen."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.source import PgSource
from tests.tui.dbseed import add_job
from tests.tui.helpers import plain, until


async def test_the_banner_follows_the_checks_while_another_screen_is_shown(db18: Any) -> None:
    app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=0.5, start_mode="jobs")
    app.health_interval = 0.5
    async with app.run_test(size=(140, 45)) as pilot:
        await until(pilot, lambda: app.health, what="the checks, without visiting the Overview")
        assert type(app.screen).__name__ == "JobsScreen"
        assert all(c.status != "warning" for c in app.health if c.name == "stuck_jobs")
        with db18.admin() as conn:  # a job whose worker is gone: stuck_jobs turns WARNING
            add_job(conn, "report.build", "processing", age=600)
            conn.execute(
                "UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 minute',"
                " heartbeat_at = now() - interval '10 minutes'"
            )
        banner = await until(
            pilot,
            lambda: (
                "stuck_jobs" in plain(app.screen.query_one(".banner", Static))
                and plain(app.screen.query_one(".banner", Static))
            ),
            what="the banner to show it",
        )
        assert "WARN" in banner or "CRIT" in banner
        assert type(app.screen).__name__ == "JobsScreen"
