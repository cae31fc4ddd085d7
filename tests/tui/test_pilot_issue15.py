"""Pilot tests against PostgreSQL 18 for issue 15: actions act on what you see (item 6), the filter
line means what it says (item 7), and database errors are named truthfully (item 8). The app runs
as pgconsole_operator (or a role with less), never as superuser."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, Static

from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen, MessageScreen
from pgconsole.tui.source import PgSource
from tests.pgcluster import role_password
from tests.terminal import TMUX, Tmux
from tests.tui.dbseed import add_job, statuses
from tests.tui.helpers import plain, rows, until

SIZE = (160, 45)


def make_app(dsn: str, *, refresh: float = 3600) -> PgConsoleApp:
    return PgConsoleApp(PgSource(dsn), refresh=refresh)


def _table(app: PgConsoleApp) -> DataTable[Any]:
    return app.screen.query_one("#jobs-table", DataTable)


async def _jobs(pilot: Any, app: PgConsoleApp, n: int) -> list[list[str]]:
    return await until(pilot, lambda: len(rows(_table(app))) == n and rows(_table(app)), what=f"{n} job rows")


async def _filter(pilot: Any, line: str) -> None:
    await pilot.press("slash", "ctrl+u", *line, "enter")


async def _confirm(pilot: Any, app: PgConsoleApp) -> ConfirmScreen:
    screen: ConfirmScreen = await until(
        pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, what="confirmation"
    )
    return screen


def _question(c: ConfirmScreen) -> str:
    return plain(c.query_one("#confirm-question", Static))


def _statement(c: ConfirmScreen) -> str:
    return plain(c.query_one("#confirm-statement", Static))


async def _finished(pilot: Any, app: PgConsoleApp) -> ActionRunScreen:
    run: ActionRunScreen = await until(
        pilot,
        lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished and app.screen,
        timeout=30,
        what="action finished",
    )
    return run


def _select(app: PgConsoleApp, job_id: str) -> None:
    _table(app).move_cursor(row=_table(app).get_row_index(job_id))


# -- item 6: actions act on what you see --------------------------------------------------------


async def test_marks_are_cleared_after_an_action(db18: Any) -> None:
    """Retry a marked job; then `c` on another row cancels that row, not the hidden marked job."""
    with db18.admin() as conn:
        marked = add_job(conn, "email.send", "failed", error="boom", age=10)
        other = add_job(conn, "email.send", "pending", age=20)
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 2)
        _select(app, marked)
        await pilot.press("m")
        assert app.screen.marked == {marked}
        await pilot.press("r")
        await _confirm(pilot, app)
        await pilot.press("y")
        await _finished(pilot, app)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ActionRunScreen), what="report closed")
        assert app.screen.marked == set(), "the marks are spent by the action"
        assert all(r[0].strip() == "" for r in rows(_table(app))), "no mark shown"
        _select(app, other)
        await pilot.press("c")
        c = await _confirm(pilot, app)
        assert other in _statement(c) and marked not in _statement(c), _statement(c)
        await pilot.press("n")
        await pilot.press("q")
    with db18.admin() as conn:
        assert statuses(conn, [marked, other]) == {marked: "pending", other: "pending"}


async def test_the_confirmation_names_source_count_and_first_ids(db18: Any) -> None:
    with db18.admin() as conn:
        # made oldest first, as jobs are: "newest first" is the UUIDv7 id's order (queue/browse.py)
        ids = [add_job(conn, "email.send", "failed", error="boom", age=10 + i) for i in reversed(range(4))][
            ::-1
        ]
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 4)
        _select(app, ids[0])
        await pilot.press("r")
        q = _question(await _confirm(pilot, app))
        assert f"the job under the cursor: {ids[0][-12:]}" in q and "1 row(s) match" in q, q
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        _select(app, ids[0])
        await pilot.press("m", "m", "m", "m", "r")  # all four, newest first
        q = _question(await _confirm(pilot, app))
        first = sorted(ids)[:3]
        assert f"4 marked job(s): {', '.join(i[-12:] for i in first)}, …" in q and "4 row(s) match" in q, q
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        await pilot.press("f")
        await pilot.press("R")
        q = _question(await _confirm(pilot, app))
        assert "all jobs matching the filter: status=failed" in q and "4 row(s) match" in q, q
        await pilot.press("n")
        await pilot.press("q")


async def _audit_reasons(db: Any, job_id: str) -> list[str]:
    with db.admin() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT metadata->>'reason' FROM pgconsole.job_log WHERE job_id = %s AND level = 'audit' ORDER BY id",
                (job_id,),
            ).fetchall()
        ]


async def test_the_audit_reason_is_typed_in_the_confirmation(db18: Any) -> None:
    with db18.admin() as conn:
        typed = add_job(conn, "email.send", "failed", error="boom", age=10)
        default = add_job(conn, "email.send", "failed", error="boom", age=20)
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 2)
        _select(app, typed)
        await pilot.press("r")
        c = await _confirm(pilot, app)
        assert c.query_one("#confirm-reason", Input).value == "pgconsole console"
        await pilot.press("r", "ctrl+u", *"smtp relay fixed, INC-42", "enter")
        assert "'smtp relay fixed, INC-42'" in _statement(c), _statement(c)
        await pilot.press("y")
        await _finished(pilot, app)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ActionRunScreen), what="report closed")
        _select(app, default)
        await pilot.press("r")
        await _confirm(pilot, app)
        await pilot.press("y")
        await _finished(pilot, app)
        await pilot.press("enter")
        await pilot.press("q")
    assert await _audit_reasons(db18, typed) == ["smtp relay fixed, INC-42"]
    assert await _audit_reasons(db18, default) == ["pgconsole console"]


async def test_the_action_result_closes_on_any_key(db18: Any) -> None:
    with db18.admin() as conn:
        job = add_job(conn, "email.send", "failed", error="boom", age=10)
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 1)
        await pilot.press("r")
        await _confirm(pilot, app)
        await pilot.press("y")
        await _finished(pilot, app)
        await pilot.press("x")  # a key bound to nothing
        await until(
            pilot, lambda: not isinstance(app.screen, (ActionRunScreen, ConfirmScreen)), what="report closed"
        )
        assert app.screen.query_one("#jobs-table", DataTable) is not None
        await pilot.press("q")
    with db18.admin() as conn:
        assert statuses(conn, [job]) == {job: "pending"}


async def _palette(pilot: Any, app: PgConsoleApp, text: str) -> None:
    await pilot.press("ctrl+p")
    palette = await until(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, what="palette"
    )
    palette.query_one(Input).value = text
    await until(pilot, lambda: palette.query_one(CommandList).option_count > 0, what="palette match")
    await pilot.press("enter")


async def test_every_maintenance_confirmation_shows_its_sql(db18: Any) -> None:
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.header_info is not None, what="header")
        for text, call in (
            # the statements `pgconsole maintain` runs, with its limits
            ("Maintenance: rescue", "SELECT * FROM pgconsole.rescue_stuck_jobs(10000, NULL)"),
            ("Maintenance: expire", "SELECT pgconsole.expire_stale_jobs(10000)"),
            ("Maintenance: delete finished", "SELECT pgconsole.cleanup_old_jobs(NULL, NULL, 5000)"),
        ):
            await _palette(pilot, app, text)
            c = await _confirm(pilot, app)
            assert call in _statement(c), _statement(c)
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        # and its result closes on any key too
        await _palette(pilot, app, "Maintenance: expire")
        await _confirm(pilot, app)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, MessageScreen), timeout=30, what="result")
        await pilot.press("x")
        await until(pilot, lambda: not isinstance(app.screen, MessageScreen), what="result closed")
        await pilot.press("q")


# -- item 7: the filter line means what it says -------------------------------------------------


def _status(app: PgConsoleApp) -> str:
    return plain(app.screen.query_one("#jobs-status", Static))


async def test_unknown_filter_keys_and_unitless_ages_are_errors(db18: Any) -> None:
    with db18.admin() as conn:
        add_job(conn, "flaky.job", "failed", error="typ:flaky not here", age=10)
        add_job(conn, "email.send", "pending", age=20)
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 2)
        await _filter(pilot, "typ:flaky")
        await until(pilot, lambda: "unknown filter key 'typ'" in _status(app), what="the error")
        for key in ("status", "type", "age", "error", "payload", "sort"):
            assert key in _status(app), _status(app)
        assert len(rows(_table(app))) == 2, "the table is left as it was"
        await _filter(pilot, "age:>7")
        await until(pilot, lambda: "has no unit" in _status(app), what="the age error")
        for spelled in ("7d", "7h", "7m", "7s"):
            assert spelled in _status(app), _status(app)
        await _filter(pilot, "age:>7s")
        await _jobs(pilot, app, 2)
        assert "has no unit" not in _status(app)
        await pilot.press("q")


async def test_type_takes_a_prefix_or_a_glob(db18: Any) -> None:
    with db18.admin() as conn:
        send = add_job(conn, "email.send", "pending", age=10)
        receive = add_job(conn, "email.receive", "pending", age=20)
        build = add_job(conn, "report.build", "pending", age=30)
        odd = add_job(conn, "email_x", "pending", age=40)  # "_" is literal, not LIKE's any-character
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 4)
        for line, want in (
            ("type:email.", {send, receive}),
            ("type:email.*", {send, receive}),
            ("type:email", {send, receive, odd}),
            ("type:*.build", {build}),
            ("type:email.send", {send}),
            ("type:email_", {odd}),
            ("type:email?x", {odd}),
            ("type:report.build,email.r", {build, receive}),
        ):
            await _filter(pilot, line)
            got = await until(
                pilot,
                lambda w=want: {str(k.value) for k in _table(app).rows} == w and w,
                what=f"{line} -> {len(want)} rows",
            )
            assert got == want
        await pilot.press("q")


async def test_an_empty_result_says_no_job_matches(db18: Any) -> None:
    with db18.admin() as conn:
        add_job(conn, "email.send", "pending", age=10)
    app = make_app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await _jobs(pilot, app, 1)
        empty = app.screen.query_one("#jobs-empty", Static)
        assert not empty.display
        await _filter(pilot, "status:cancelled type:nothing")
        await until(pilot, lambda: empty.display, what="the empty message")
        assert "no job matches status=cancelled type=nothing*" in plain(empty), plain(empty)
        await _filter(pilot, "")
        await _jobs(pilot, app, 1)
        assert not empty.display
        await pilot.press("q")


# -- item 8: errors named truthfully ------------------------------------------------------------


def _banner(app: PgConsoleApp) -> str:
    return plain(app.screen.query_one(".banner", Static))


@pytest.fixture
def bare_role(db18: Any) -> Iterator[str]:
    role = f"pgc_bare_{uuid.uuid4().hex[:8]}"
    with db18.admin() as su:
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(role_password(role))
            )
        )
    yield role
    with db18.admin() as su:
        su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def test_a_missing_privilege_names_the_grant(db18: Any, bare_role: str) -> None:
    app = make_app(db18.dsn_as(bare_role), refresh=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: app.db_error, what="the banner")
        banner = _banner(app)
        assert "permission denied" in banner and f"GRANT pgconsole_readonly TO {bare_role}" in banner, banner
        assert "unreachable" not in banner and "reconnecting" not in banner, banner
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_missing_schema_names_setup_and_migrate(pg18: Any) -> None:
    name = pg18.empty_database()
    try:
        app = make_app(pg18.dsn(name), refresh=1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await until(pilot, lambda: app.db_error, what="the banner")
            banner = _banner(app)
            assert "pgconsole setup" in banner and "pgconsole migrate" in banner, banner
            assert "unreachable" not in banner and "reconnecting" not in banner, banner
            await pilot.press("q")
    finally:
        pg18.drop_database(name)


async def test_a_network_error_still_says_unreachable_and_reconnects(db18: Any) -> None:
    app = make_app(db18.dsn_as("pgconsole_operator"), refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = app.screen
        await until(pilot, lambda: screen.refreshes > 0, what="first refresh")
        with db18.admin() as su:
            su.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgconsole'"
            )
        await until(pilot, lambda: app.db_error, what="the banner")
        assert "database unreachable" in _banner(app) and "reconnecting by itself" in _banner(app)
        before = screen.refreshes
        await until(
            pilot, lambda: not app.db_error and screen.refreshes > before, timeout=20, what="recovery"
        )
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_refused_login_ends_the_console(db18: Any) -> None:
    dsn = db18.dsn_as("pgconsole_operator").replace(role_password("pgconsole_operator"), "wrong-password")
    app = make_app(dsn, refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.return_code is not None, timeout=20, what="the app ends")
    assert app.return_code == 2
    assert "password authentication failed" in app.fatal_error and "wrong-password" not in app.fatal_error


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the real-terminal test needs it")
def test_a_wrong_password_in_a_real_terminal_is_one_line_and_exit_2(db18: Any, tmp_path: Path) -> None:
    dsn = db18.dsn_as("pgconsole_operator").replace(role_password("pgconsole_operator"), "wrong-password")
    exe = str(Path(sys.executable).with_name("pgconsole"))
    exit_file = tmp_path / "exit"
    repo = Path(__file__).resolve().parents[2]
    tmux = Tmux()
    try:
        # Textual draws on stderr, so the message is read from the terminal once the app has left it.
        tmux.start(
            f"cd {repo} && PYTHONPATH={repo} {exe} --dsn '{dsn}' --refresh 1;"
            f" echo $? > {exit_file}; sleep 30",
            200,
            30,
        )
        deadline = time.monotonic() + 20
        while not (exit_file.exists() and exit_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.exists(), f"pgconsole kept retrying; screen:\n{tmux.screen()}"
        assert exit_file.read_text().strip() == "2"
        shown = [line for line in tmux.screen().splitlines() if line.strip()]
        assert len(shown) == 1 and shown[0].startswith("pgconsole: cannot connect: "), shown
        assert "password authentication failed" in shown[0] and "wrong-password" not in shown[0], shown
    finally:
        tmux.run("kill-server")


def test_classify_auth_failures_from_the_server(db18: Any) -> None:
    """The wordings the console treats as a refused login come from the server itself."""
    from pgconsole.db.connect import ConnectError, Purpose, connect

    dsn = db18.dsn_as("pgconsole_operator").replace(role_password("pgconsole_operator"), "wrong-password")
    with pytest.raises(ConnectError) as refused:
        connect(dsn, Purpose.DASHBOARD)
    assert refused.value.auth
    with pytest.raises(ConnectError) as unreachable:
        connect("host=127.0.0.1 port=1 connect_timeout=2", Purpose.DASHBOARD)
    assert not unreachable.value.auth
