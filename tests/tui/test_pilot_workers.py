"""A failed attempt's traceback in the job detail screen, and the Workers mode (key 6), against a
real PostgreSQL with real `pgconsole worker` processes; the console runs as pgconsole_operator."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from pgconsole.db import Purpose, connect
from pgconsole.queue import client
from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.source import PgSource
from tests.queue.workers import start_worker
from tests.tui.helpers import plain, rows, until


def _app(dsn: str) -> PgConsoleApp:
    return PgConsoleApp(PgSource(dsn), refresh=0.3)


async def test_the_job_detail_shows_each_failed_attempts_traceback(db18: Any, tmp_path: Path) -> None:
    with connect(db18.dsn_as("pgconsole_app"), Purpose.APP) as app_conn:
        jid = client.enqueue(app_conn, "fragile", {}, max_retries=0)
    w = start_worker(db18.dsn_as("pgconsole_worker"), "tests.queue.handlers:boom", tmp_path / "l", "--burst")
    _, err = w.communicate(timeout=60)
    assert w.returncode == 0, err.decode()
    app = _app(db18.dsn_as("pgconsole_operator"))
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: rows(app.screen.query_one("#jobs-table", DataTable)), what="the job")
        await pilot.press("enter")
        shown = await until(
            pilot,
            lambda: (
                "in boom" in plain(app.screen.query_one("#detail-failures", Static))
                and plain(app.screen.query_one("#detail-failures", Static))
            ),
            what="the traceback",
        )
        assert "Failed attempts (1, newest first)" in shown and "attempt 1" in shown
        assert "Traceback (most recent call last)" in shown and 'handlers.py", line' in shown
        assert str(jid) in plain(app.screen.query_one("#detail-head", Static))


async def test_the_workers_mode_lists_live_workers_with_their_held_jobs(db18: Any, tmp_path: Path) -> None:
    with connect(db18.dsn_as("pgconsole_app"), Purpose.APP) as app_conn:
        jid = client.enqueue(app_conn, "slow", {})
    w = start_worker(
        db18.dsn_as("pgconsole_worker"),
        "tests.queue.handlers:block",
        tmp_path / "l",
        "--worker-id",
        "tui-w1",
        "--heartbeat",
        "0.3",
        release=tmp_path / "release",
    )
    try:
        app = _app(db18.dsn_as("pgconsole_operator"))
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.press("6")
            table = await until(
                pilot,
                lambda: [r for r in rows(app.screen.query_one("#workers-table", DataTable)) if r[3] == "1"],
                timeout=30,
                what="the worker holding a job",
            )
            assert table[0][0] == "tui-w1" and table[0][2] == str(w.pid)
            detail = plain(app.screen.query_one("#worker-detail", Static))
            assert str(jid) in detail and "backends: pid" in detail
            assert "6 Workers" in plain(app.screen.query_one(".topbar", Static))
    finally:
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=30)
