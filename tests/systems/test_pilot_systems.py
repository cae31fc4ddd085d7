"""The console with two queue systems in one database (pgconsole's own and Procrastinate, plus a
configured table): the Overview shows the other systems grouped by system, the Queues screen (7)
lists each system's jobs, shows a job's native fields, and acts on it through the system's own path
with pgconsole's audit record; an action the system cannot do is refused with its reason."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen
from pgconsole.tui.screens.queues import SystemJobDetailScreen
from pgconsole.tui.source import PgSource
from tests.systems.conftest import run_module
from tests.systems.test_custom_table import SEED_DDL
from tests.systems.test_procrastinate import defer, setup_procrastinate
from tests.tui.helpers import plain, rows, until

SIZE = (160, 48)


async def test_two_systems_in_one_database(db: Any, su: Any) -> None:
    setup_procrastinate(db, su)
    ids = defer(db, 1, 2, 3)  # 1 and 3 fail
    run_module("tests.systems.procrastinate_app", db.dsn, "worker", env_key="PROC_DSN")
    (pending,) = defer(db, 8)
    su.execute(SEED_DDL)
    su.execute("INSERT INTO jobs (job_type, status) VALUES ('email', 'processing')")
    su.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('own.task', '{}')")

    source = PgSource(db.dsn_as("pgconsole_operator"), queues={"app_jobs": {"table": "public.jobs"}})
    app = PgConsoleApp(source, refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        panel = await until(
            pilot,
            lambda: "procrastinate" in plain(app.screen.query_one("#systems-panel", Static)),
            what="the Overview's queue systems panel",
        )
        assert panel
        text = plain(app.screen.query_one("#systems-panel", Static))
        # The other systems, one line each (pgconsole's own queue is the table above it).
        lines = text.splitlines()
        assert [ln.split()[0] for ln in lines] == ["procrastinate", "app_jobs"], lines
        assert "failed 2" in lines[0] and "processing 1" in lines[1], lines

        await pilot.press("7")
        systems = await until(
            pilot, lambda: rows(app.screen.query_one("#systems-table", DataTable)), what="systems"
        )
        names = [r[0] for r in systems if r[0]]
        assert [n.split()[0] for n in names] == ["pgconsole", "procrastinate", "app_jobs"]
        failed_row = next(r for r in systems if r[1] == "failed" and r[2] == "2")
        assert failed_row
        jobs = await until(
            pilot, lambda: rows(app.screen.query_one("#system-jobs-table", DataTable)), what="failed jobs"
        )
        assert sorted(int(r[0]) for r in jobs) == [ids[0], ids[2]]
        assert {r[3] for r in jobs} == {"failed"}

        # Detail: Procrastinate's own fields and its events.
        app.screen.query_one("#system-jobs-table", DataTable).focus()
        await pilot.press("enter")
        detail = await until(pilot, lambda: isinstance(app.screen, SystemJobDetailScreen), what="detail")
        assert detail
        shown = plain(app.screen.query_one("#system-job-detail", Static))
        assert "queue_name" in shown and "deferred" in shown and "failed" in shown
        await pilot.press("escape")

        # Retry the job under the cursor through Procrastinate's retry function.
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await until(
            pilot, lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished, what="run"
        )
        await pilot.press("enter")
        retried = su.execute(
            "SELECT metadata->>'job_id' FROM pgconsole.job_log WHERE level = 'audit' AND metadata->>'system' = 'procrastinate'"
        ).fetchall()
        assert len(retried) == 1 and int(retried[0][0]) in (ids[0], ids[2])
        assert (
            su.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE id = %s", (int(retried[0][0]),)
            ).fetchone()[0]
            == "todo"
        )

        # The team's table cannot cancel a running job: refused with the reason, nothing runs.
        table = app.screen.query_one("#systems-table", DataTable)
        table.focus()
        await until(pilot, lambda: table.has_focus, what="the systems table focused")  # as a user's tab
        keys = [str(k.value) for k in table.rows]
        table.move_cursor(row=keys.index(next(k for k in keys if k.startswith("app_jobs|"))))
        await until(pilot, lambda: app.screen.system == "app_jobs", what="app_jobs selected")  # type: ignore[attr-defined]
        await pilot.press("f", "f")  # failed -> pending -> processing
        await until(
            pilot,
            lambda: len(rows(app.screen.query_one("#system-jobs-table", DataTable))) == 1,
            what="the running job",
        )
        status = await until(
            pilot,
            lambda: (
                "cancel of a running job disabled" in plain(app.screen.query_one("#system-status", Static))
            ),
            what="reason",
        )
        assert status
        assert not app.db_error
        await pilot.press("q")
    _ = pending
