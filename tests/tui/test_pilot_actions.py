"""Pilot tests against PostgreSQL 18 for the actions outside the Jobs screen: cancel/terminate a
backend (Activity), apply a pending migration (Schema), EXPLAIN and the twice-confirmed EXPLAIN
ANALYZE (Queries), and the maintenance commands of the palette. The app never runs as superuser."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ConfirmScreen, MessageScreen
from pgconsole.tui.source import PgSource
from tests.tui.dbseed import add_job
from tests.tui.helpers import idle, plain, rows, until

SIZE = (160, 45)


def make_app(dsn: str, *, read_only: bool = False, refresh: float = 3600) -> PgConsoleApp:
    return PgConsoleApp(PgSource(dsn, read_only=read_only), refresh=refresh)


def _session(dsn: str, app_name: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=True, application_name=app_name)
    return conn


async def _select_pid(pilot: Any, app: PgConsoleApp, pid: int) -> None:
    table = app.screen.query_one("#sessions-table", DataTable)
    await until(pilot, lambda: str(pid) in {r[0] for r in rows(table)}, what=f"session {pid}")
    table.move_cursor(row=table.get_row_index(str(pid)))
    # the highlight handled: the detail pane names the session (the status line is set just before it)
    detail = app.screen.query_one("#session-detail", Static)
    await until(pilot, lambda: plain(detail).startswith(f"pid {pid} "), what=f"session {pid} selected")


async def _confirm(pilot: Any, app: PgConsoleApp) -> tuple[str, str, str]:
    c = await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, what="confirmation")
    title = c.title_text
    question = plain(c.query_one("#confirm-question", Static))
    statement = plain(c.query_one("#confirm-statement", Static)) if c.statement else ""
    return title, question, statement


async def _message(pilot: Any, app: PgConsoleApp) -> str:
    m = await until(
        pilot, lambda: isinstance(app.screen, MessageScreen) and app.screen, timeout=30, what="message"
    )
    return plain(m.query_one("#message-body", Static))


async def test_activity_cancel_and_terminate_follow_the_servers_rules(db18: Any) -> None:
    op_dsn = db18.dsn_as("pgconsole_operator")
    sleeper = _session(op_dsn, "op-sleeper")  # the operator's own role: it may cancel this one
    op_idle = _session(op_dsn, "op-idle")
    su_idle = _session(db18.dsn, "su-idle")  # a superuser's session: only a superuser may signal it
    app_idle = _session(db18.dsn_as("pgconsole_app"), "app-idle")  # another role: needs pg_signal_backend
    outcome: list[BaseException | None] = []

    def sleep() -> None:
        try:
            sleeper.execute("SELECT pg_sleep(60)")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    t = threading.Thread(target=sleep, daemon=True)
    t.start()
    app = make_app(op_dsn, refresh=1)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            screen = app.screen
            # the sleeper is active (the monitor's collector), the idle ones come from console/backends.py
            await _select_pid(pilot, app, sleeper.info.backend_pid)
            for conn in (op_idle, su_idle, app_idle):
                await _select_pid(pilot, app, conn.info.backend_pid)

            await _select_pid(pilot, app, sleeper.info.backend_pid)
            assert screen.check_action("cancel_backend", ()) is True
            await pilot.press("k")
            title, question, statement = await _confirm(pilot, app)
            assert title == "Cancel query" and "session stays" in question
            assert statement == f"SELECT pg_cancel_backend({sleeper.info.backend_pid})"
            await pilot.press("y")
            await until(pilot, lambda: outcome, timeout=10, what="the sleeper's query cancelled")
            assert isinstance(outcome[0], psycopg.errors.QueryCanceled)
            assert not sleeper.closed, "cancel leaves the session"

            await _select_pid(pilot, app, su_idle.info.backend_pid)
            assert screen.check_action("terminate_backend", ()) is None, "shown, but disabled"
            assert "only a superuser" in plain(screen.query_one("#activity-status", Static))
            await pilot.press("K", "k")
            await idle(pilot, what="the disabled keys handled")
            assert not isinstance(app.screen, ConfirmScreen)

            await _select_pid(pilot, app, app_idle.info.backend_pid)
            assert screen.check_action("cancel_backend", ()) is None
            assert "GRANT pg_signal_backend TO pgconsole_operator" in plain(
                screen.query_one("#activity-status", Static)
            )

            await _select_pid(pilot, app, op_idle.info.backend_pid)
            await pilot.press("K")
            title, question, statement = await _confirm(pilot, app)
            assert title == "Terminate session" and "ENDS the session" in question
            assert statement == f"SELECT pg_terminate_backend({op_idle.info.backend_pid})"
            await pilot.press("y")
            table = screen.query_one("#sessions-table", DataTable)
            await until(
                pilot,
                lambda: str(op_idle.info.backend_pid) not in {r[0] for r in rows(table)},
                what="terminated session gone from the table",
            )
            await pilot.press("q")
        with db18.admin() as admin:
            alive = {r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity").fetchall()}
        assert op_idle.info.backend_pid not in alive
        assert {sleeper.info.backend_pid, su_idle.info.backend_pid, app_idle.info.backend_pid} <= alive
    finally:
        for c in (sleeper, op_idle, su_idle, app_idle):
            c.close()

    # read-only: neither offered; the status line says why
    other = _session(op_dsn, "op-other")
    try:
        app = make_app(op_dsn, read_only=True, refresh=1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await _select_pid(pilot, app, other.info.backend_pid)
            assert app.screen.check_action("cancel_backend", ()) is False
            assert app.screen.check_action("terminate_backend", ()) is False
            assert "read-only" in plain(app.screen.query_one("#activity-status", Static))
            await pilot.press("k", "K")
            await idle(pilot, what="the keys not offered handled")
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("q")
        assert not other.closed and other.execute("SELECT 1").fetchone() == (1,)
    finally:
        other.close()


async def test_schema_apply_pending_migration_with_confirmation(db18: Any) -> None:
    with db18.admin() as conn:  # make 0005 pending again: drop what it creates, forget it was applied
        for fn in (
            "detect_stuck_jobs()",
            "rescue_stuck_jobs(integer, uuid[])",
            "retry_failed_jobs(integer, interval)",
            "expire_stale_jobs(integer)",
            "cleanup_old_jobs(interval, interval, integer)",
            "get_job_queue_stats(interval, integer)",  # 0007 replaced 0005's form; re-applying 0005 brings that back
        ):
            conn.execute(f"DROP FUNCTION pgconsole.{fn}")
        conn.execute("DELETE FROM pgconsole.schema_migrations WHERE version = 5")
    # the operator sees it pending but may not apply it, and is told why
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.screen.refreshes > 0, what="schema refresh")
        assert any(r[2] == "pending" for r in rows(app.screen.query_one("#migrations-table", DataTable)))
        assert app.screen.check_action("apply_migrations", ()) is None
        assert "GRANT pgconsole_migrator" in plain(app.screen.query_one("#setup-status", Static))
        await pilot.press("a")
        await idle(pilot, what="the disabled key handled")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q")
    # the migrator: confirmation names the file; "n" changes nothing; "y" applies it
    app = make_app(db18.dsn_as("pgconsole_migrator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.screen.refreshes > 0, what="schema refresh")
        await pilot.press("a")
        title, question, statement = await _confirm(pilot, app)
        assert "Apply 1 pending migration(s)" in question and "maintenance" in statement
        await pilot.press("n")
        await idle(pilot, what="the declined apply finished")
        with db18.admin() as conn:
            assert conn.execute(
                "SELECT count(*) FROM pgconsole.schema_migrations WHERE version = 5"
            ).fetchone() == (0,)
        await pilot.press("a")
        await _confirm(pilot, app)
        await pilot.press("y")
        body = await _message(pilot, app)
        assert "0005_maintenance" in body, body
        await pilot.press("enter")
        table = app.screen.query_one("#migrations-table", DataTable)
        await until(
            pilot, lambda: rows(table) and all(r[2] != "pending" for r in rows(table)), what="none pending"
        )
        await pilot.press("q")
    with db18.admin() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pgconsole.schema_migrations WHERE version = 5"
        ).fetchone() == (1,)
        assert conn.execute(
            "SELECT to_regprocedure('pgconsole.retry_job_with_payload(uuid,jsonb,text)') IS NOT NULL"
        ).fetchone() == (True,)


async def test_queries_explain_and_analyze_only_after_two_confirmations(db18: Any) -> None:
    with db18.admin() as conn:
        for _ in range(3):
            conn.execute("SELECT count(*) FROM pgconsole.jobs WHERE job_type = 'x'")  # normalized to $1
            conn.execute("SELECT count(*) AS explain_me FROM pgconsole.job_log")  # no constant, can run
            conn.execute("UPDATE pgconsole.settings SET description = description")  # a write, no constant
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        screen = app.screen
        await until(pilot, lambda: screen.refreshes > 0, what="queries refresh")
        await pilot.press("t")  # cumulative: the statements ran before the console started
        table = screen.query_one("#queries-table", DataTable)

        async def select(fragment: str) -> None:
            await until(pilot, lambda: any(fragment in r.query for r in screen.rows), what=fragment)
            i = next(i for i, r in enumerate(screen.rows) if fragment in r.query)
            table.move_cursor(row=i)
            text = screen.query_one("#query-text", Static)
            await until(pilot, lambda: fragment in plain(text), what=f"{fragment} selected (its text shown)")
            assert fragment in screen.selected().query

        await select("job_type = $1")
        await pilot.press("x")
        plan = await _message(pilot, app)
        assert "Aggregate" in plan and "actual" not in plan, plan
        await pilot.press("enter")

        # ANALYZE: two confirmations; "no" at the second runs nothing
        await select("explain_me")
        await pilot.press("X")
        title, question, _ = await _confirm(pilot, app)
        assert "executes the statement" in question
        await pilot.press("y")
        title2, question2, _ = await _confirm(pilot, app)
        assert "second confirmation" in title2
        await pilot.press("n")
        await idle(pilot, what="the declined EXPLAIN ANALYZE finished")
        assert not isinstance(app.screen, MessageScreen), "nothing ran after a no"
        await pilot.press("X", "y")
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and "second" in app.screen.title_text
        )
        await pilot.press("y")
        plan = await _message(pilot, app)
        assert "actual time" in plan, plan
        await pilot.press("enter")

        # ANALYZE of a write runs in a read-only transaction: refused, nothing written
        await select("UPDATE pgconsole.settings")
        await pilot.press("X", "y")
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and "second" in app.screen.title_text
        )
        await pilot.press("y")
        plan = await _message(pilot, app)
        assert "no plan" in plan and "read-only transaction" in plan, plan
        await pilot.press("enter", "q")


async def _palette(pilot: Any, app: PgConsoleApp, text: str) -> None:
    await pilot.press("ctrl+p")
    palette = await until(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, what="palette"
    )
    palette.query_one(Input).value = text
    await idle(pilot, what=f"the palette's search for {text!r}")  # its gather worker, so every match is in
    await until(pilot, lambda: palette.query_one(CommandList).option_count > 0, what=f"a match for {text!r}")
    await pilot.press("enter")


async def test_maintenance_from_the_palette(db18: Any) -> None:
    with db18.admin() as conn:
        stuck = add_job(conn, "report.build", "processing", age=900)
        conn.execute(
            "UPDATE pgconsole.jobs SET lease_expires_at = now() - interval '1 minute',"
            " heartbeat_at = now() - interval '10 minutes', locked_by = 'w-dead' WHERE id = %s",
            (stuck,),
        )
        overdue = add_job(conn, "email.send", "pending")
        conn.execute(
            "UPDATE pgconsole.jobs SET expires_at = now() - interval '1 second' WHERE id = %s", (overdue,)
        )
        old = add_job(conn, "email.send", "completed")
        conn.execute(
            "UPDATE pgconsole.jobs SET completed_at = now() - interval '30 days' WHERE id = %s", (old,)
        )
        recent = add_job(conn, "email.send", "completed")
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.header_info is not None, what="header")
        for text, expect in (
            ("Maintenance: rescue", "rescued 1 stuck job"),
            ("Maintenance: expire", "expired 1 overdue"),
            ("Maintenance: delete finished", "deleted 1 finished job"),
        ):
            await _palette(pilot, app, text)
            title, question, _ = await _confirm(pilot, app)
            assert title == "Maintenance"
            await pilot.press("y")
            body = await _message(pilot, app)
            assert expect in body, body
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, MessageScreen), what="message closed")
        await pilot.press("q")
    with db18.admin() as conn:
        st = dict(conn.execute("SELECT id::text, status FROM pgconsole.jobs").fetchall())
    assert st[stuck] == "pending" and st[overdue] == "expired" and old not in st and st[recent] == "completed"

    # read-only: the palette has no maintenance command
    app = make_app(db18.dsn_as("pgconsole_operator"), read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.header_info is not None, what="header")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles and not [t for t in titles if t.startswith("Maintenance")]
        await pilot.press("q")
