"""Pilot tests against a real PostgreSQL 18 (db18): the app runs as pgconsole_operator or
pgconsole_readonly, never as superuser; the database is checked afterwards."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen
from pgconsole.tui.source import PgSource
from tests.tui.dbseed import HOSTILE, add_job, seed, statuses
from tests.tui.helpers import idle, plain, rows, until

SIZE = (140, 40)


def make_app(dsn: str, *, read_only: bool = False, refresh: float = 0.5) -> PgConsoleApp:
    return PgConsoleApp(PgSource(dsn, read_only=read_only), refresh=refresh)


async def test_each_screen_renders_with_data(db: Any) -> None:
    """On every test server (PostgreSQL 18 and, when installed, 15): the five screens with data."""
    db18 = db
    with db18.admin() as conn:
        seed(conn)
        # something for pg_stat_statements, called often enough to survive its eviction of the least
        # used entries while the whole suite fills it
        for _ in range(50):
            conn.execute("SELECT count(*) FROM pgconsole.jobs")
    app = make_app(db18.dsn_as("pgconsole_operator"))
    other = db18.admin()  # another session for the Activity screen to show
    other.execute("SELECT set_config('application_name', 'billing', false)")
    async with app.run_test(size=SIZE) as pilot:
        queue = await until(
            pilot, lambda: rows(app.screen.query_one("#queue-table", DataTable)), what="queue rows"
        )
        assert {r[0] for r in queue} >= {"email.send", "report.build", "image.resize"}
        assert app.health, "health banner fed by the check registry"
        assert "pgconsole_operator" in plain(app.screen.query_one(".topbar", Static))
        await pilot.press("2")
        jobs = await until(
            pilot, lambda: rows(app.screen.query_one("#jobs-table", DataTable)), what="jobs rows"
        )
        assert len(jobs) == 8
        await pilot.press("3")
        await until(pilot, lambda: app.screen.refreshes > 0, what="queries refresh")
        await pilot.press("t")  # cumulative: the statements ran before the console started
        statements = await until(
            pilot,
            lambda: (
                rows(app.screen.query_one("#queries-table", DataTable))
                or "unavailable" in plain(app.screen.query_one("#queries-status", Static))
            ),
            what="statements or the hint",
        )
        # both test servers preload pg_stat_statements and setup creates the extension
        assert isinstance(statements, list) and any("pgconsole.jobs" in r[-1] for r in statements), statements
        await pilot.press("o")
        await until(
            pilot,
            lambda: "by mean time" in plain(app.screen.query_one("#queries-status", Static)),
            what="order by mean",
        )
        await pilot.press("4")
        sessions = await until(
            pilot, lambda: rows(app.screen.query_one("#sessions-table", DataTable)), what="sessions"
        )
        assert "billing" in {r[2] for r in sessions}
        assert all(r[2] != "pgconsole" for r in sessions), "the console's own sessions are hidden"
        await pilot.press("5")
        migrations = await until(
            pilot, lambda: rows(app.screen.query_one("#migrations-table", DataTable)), what="migrations"
        )
        assert len(migrations) >= 5 and all(r[2] != "pending" for r in migrations)
        assert rows(app.screen.query_one("#findings-table", DataTable)), "the doctor's findings"
        assert not app.db_error
        await pilot.press("q")
    other.close()
    assert app.return_code == 0


async def _confirm_and_finish(pilot: Any, app: PgConsoleApp) -> tuple[str, str]:
    confirm = await until(
        pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, what="confirmation"
    )
    question = plain(confirm.query_one("#confirm-question", Static))
    statement = plain(confirm.query_one("#confirm-statement", Static))
    await pilot.press("y")
    run = await until(
        pilot,
        lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished and app.screen,
        what="action finished",
    )
    report = plain(run.query_one("#run-status", Static))
    await pilot.press("enter")
    return question + "\n" + statement, report


async def test_retry_cancel_delete_change_what_was_confirmed(db18: Any) -> None:
    with db18.admin() as conn:
        ids = seed(conn)
    app = make_app(db18.dsn_as("pgconsole_operator"), refresh=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: rows(app.screen.query_one("#jobs-table", DataTable)), what="jobs")
        # retry everything matching status:failed
        await pilot.press("f")
        await until(
            pilot, lambda: len(rows(app.screen.query_one("#jobs-table", DataTable))) == 3, what="filter"
        )
        await pilot.press("R")
        shown, report = await _confirm_and_finish(pilot, app)
        assert "Retry 3 job(s)" in shown and "3 row(s) match" in shown
        assert "pgconsole.retry_jobs" in shown
        assert "3 of 3 changed" in report
        # cancel one pending job: select it via a filter on its type
        await pilot.press("slash")
        await pilot.press(*"type:image.resize")
        await pilot.press("enter")
        await until(
            pilot, lambda: len(rows(app.screen.query_one("#jobs-table", DataTable))) == 2, what="pending"
        )
        await pilot.press("c")
        shown, report = await _confirm_and_finish(pilot, app)
        assert "Cancel 1 job(s)" in shown and "1 of 1 changed" in report
        # delete (cleanup) the completed ones, marked one by one
        await pilot.press("slash")
        await pilot.press("ctrl+u", *"status:completed", "enter")
        await until(
            pilot, lambda: len(rows(app.screen.query_one("#jobs-table", DataTable))) == 2, what="completed"
        )
        await pilot.press("m", "m", "d")
        shown, report = await _confirm_and_finish(pilot, app)
        assert "Delete 2 job(s)" in shown and "2 of 2 changed" in report
        # a processing job is not deleted; the report says why
        await pilot.press("slash")
        await pilot.press("ctrl+u", *"status:processing", "enter")
        await until(
            pilot, lambda: len(rows(app.screen.query_one("#jobs-table", DataTable))) == 1, what="processing"
        )
        await pilot.press("d")
        shown, report = await _confirm_and_finish(pilot, app)
        assert "Delete 0 job(s)" in shown and "left alone: 1 processing (cancel it first)" in shown
        assert "0 of 1 changed" in report and "processing" in report
        await pilot.press("ctrl+q")
    with db18.admin() as conn:
        st = statuses(conn, ids["failed"] + ids["pending"] + ids["completed"] + ids["processing"])
        assert [st[i] for i in ids["failed"]] == ["pending"] * 3
        assert sorted(st[i] for i in ids["pending"]) == ["cancelled", "pending"]
        assert all(i not in st for i in ids["completed"])
        assert st[ids["processing"][0]] == "processing"
        audit = conn.execute("SELECT DISTINCT actor FROM pgconsole.job_log WHERE level = 'audit'").fetchall()
        assert [a[0] for a in audit] == ["pgconsole_operator"]
        n = conn.execute("SELECT count(*) FROM pgconsole.job_log WHERE level = 'audit'").fetchone()
        assert n is not None and n[0] == 3 + 1 + 2


async def test_read_only_role_offers_no_action(db18: Any) -> None:
    with db18.admin() as conn:
        ids = seed(conn)
    for dsn, ro in ((db18.dsn_as("pgconsole_readonly"), False), (db18.dsn_as("pgconsole_operator"), True)):
        app = make_app(dsn, read_only=ro, refresh=5)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await until(pilot, lambda a=app: rows(a.screen.query_one("#jobs-table", DataTable)), what="jobs")
            await until(pilot, lambda a=app: a.header_info is not None)
            assert app.header_info is not None and app.header_info.read_only
            screen = app.screen
            for action in ("retry", "cancel", "delete", "retry_filter", "edit_retry"):
                assert screen.check_action(action, ()) is False
            footer_keys = {b.binding.action for b in screen.active_bindings.values()}
            assert not footer_keys & {"retry", "cancel", "delete"}
            titles = [c.title for c in app.get_system_commands(screen)]
            assert not [t for t in titles if t.startswith(("Retry", "Cancel", "Delete", "Maintenance"))]
            status = plain(screen.query_one("#jobs-status", Static))
            assert "no actions:" in status
            await pilot.press("r", "R", "d")
            await idle(pilot, what="the keys not offered handled")
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("q")
    with db18.admin() as conn:
        assert set(statuses(conn, ids["failed"]).values()) == {"failed"}
        n = conn.execute("SELECT count(*) FROM pgconsole.job_log WHERE level = 'audit'").fetchone()
        assert n is not None and n[0] == 0


async def test_hostile_text_renders_literally(db18: Any) -> None:
    with db18.admin() as conn:
        job = add_job(conn, "webhook.deliver", "failed", payload={"note": HOSTILE, "k": "[/]"}, error=HOSTILE)
        conn.execute(
            "INSERT INTO pgconsole.job_log (job_id, level, message) VALUES (%s, 'error', %s)", (job, HOSTILE)
        )
    app = make_app(db18.dsn_as("pgconsole_operator"), refresh=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#jobs-table", DataTable)
        cells = await until(pilot, lambda: rows(table), what="jobs")
        assert "[bold red]x[/] [/] ␛[31mred␛[0m bell␇ end" in cells[0][-1]
        await pilot.press("enter")
        err = await until(
            pilot,
            lambda: (
                "␛" in plain(app.screen.query_one("#detail-error", Static))
                and plain(app.screen.query_one("#detail-error", Static))
            ),
            what="detail",
        )
        assert "[bold red]x[/] [/] ␛[31mred␛[0m bell␇ end" in err
        assert "\x1b" not in err and "\x07" not in err
        payload = plain(app.screen.query_one("#detail-payload", Static))
        assert (
            '"[bold red]x[/] [/] \\u001b[31mred\\u001b[0m bell\\u0007 end"' in payload and '"[/]"' in payload
        )
        logs = plain(app.screen.query_one("#detail-logs", Static))
        assert "[bold red]x[/] [/] ␛[31mred" in logs
        await pilot.press("escape", "q")
    assert app.return_code == 0
