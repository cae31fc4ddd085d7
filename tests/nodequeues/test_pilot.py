"""The console with pg-boss and graphile-worker beside pgconsole's own queue: the Overview's systems
panel and the Queues screen (7) list both with their counts, the system under the cursor lists its
failed jobs, a job's detail shows pg-boss's own fields, and a retry goes through pg-boss's statement
with pgconsole's audit record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from pgconsole.queue.systems.graphile_worker import GraphileWorker
from pgconsole.queue.systems.pgboss import PgBoss
from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.screens.modals import ActionRunScreen, ConfirmScreen
from pgconsole.tui.screens.queues import SystemJobDetailScreen
from pgconsole.tui.source import PgSource
from tests.nodequeues.nodelibs import NodeWorker, run_script, wait_for
from tests.nodequeues.test_graphile_worker import allow
from tests.nodequeues.test_graphile_worker import grant as grant_graphile
from tests.nodequeues.test_pgboss import grant as grant_pgboss
from tests.tui.helpers import plain, rows, until

SIZE = (160, 48)


async def test_console_on_both_node_systems(db: Any, node_libs: Path, tmp_path: Path, readonly: Any) -> None:
    run_script(
        node_libs,
        "pgboss.mjs",
        db.dsn,
        "setup",
        {"queues": [{"name": "email", "options": {"retryLimit": 0}}]},
    )
    run_script(node_libs, "graphile.mjs", db.dsn, "setup", {})
    grant_pgboss(db)
    grant_graphile(db)
    allow(db)
    [boss_failed, _ok] = run_script(
        node_libs, "pgboss.mjs", db.dsn, "send",
        {"jobs": [{"queue": "email", "data": {"fail": True, "error": "smtp down"}}, {"queue": "email", "data": {}}]},
    )["ids"]  # fmt: skip
    run_script(
        node_libs, "graphile.mjs", db.dsn, "send",
        {"jobs": [{"task": "resize", "payload": {"fail": True}, "options": {"maxAttempts": 1}}]},
    )  # fmt: skip
    bug = tmp_path / "bug"
    bug.write_text("fail\n")
    [boss] = PgBoss.detect(readonly)
    [gw] = GraphileWorker.detect(readonly)
    workers = [
        NodeWorker(node_libs, "pgboss.mjs", db.dsn, {"queues": ["email"], "fail_while": str(bug)}),
        NodeWorker(node_libs, "graphile.mjs", db.dsn, {"tasks": ["resize"], "fail_while": str(bug)}),
    ]
    try:
        wait_for(
            "both workers to settle",
            lambda: (
                [boss.summary(readonly).state("failed").count, gw.summary(readonly).state("failed").count]  # type: ignore[union-attr]
                == [1, 1]
            ),
        )
    finally:
        for w in workers:
            w.stop()

    source = PgSource(db.dsn_as("pgconsole_operator"))
    app = PgConsoleApp(source, refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot,
            lambda: "graphile_worker" in plain(app.screen.query_one("#systems-panel", Static)),
            what="the Overview's queue systems panel",
        )
        assert "pgboss" in plain(app.screen.query_one("#systems-panel", Static))

        await pilot.press("7")
        systems = await until(
            pilot, lambda: rows(app.screen.query_one("#systems-table", DataTable)), what="systems"
        )
        names = [r[0].split()[0] for r in systems if r[0]]
        assert names == ["pgconsole", "pgboss", "graphile_worker"]

        table = app.screen.query_one("#systems-table", DataTable)
        table.focus()
        keys = [str(k.value) for k in table.rows]
        table.move_cursor(row=keys.index(next(k for k in keys if k.startswith("pgboss|"))))
        await until(pilot, lambda: app.screen.system == "pgboss", what="pgboss selected")  # type: ignore[attr-defined]
        jobs = await until(
            pilot,
            lambda: [
                r for r in rows(app.screen.query_one("#system-jobs-table", DataTable)) if r[3] == "failed"
            ],
            what="pg-boss's failed job",
        )
        assert len(jobs) == 1

        app.screen.query_one("#system-jobs-table", DataTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SystemJobDetailScreen), what="detail")
        shown = plain(app.screen.query_one("#system-job-detail", Static))
        assert "retry_limit" in shown and "smtp down" in shown
        await pilot.press("escape")

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        await pilot.press("y")
        await until(
            pilot, lambda: isinstance(app.screen, ActionRunScreen) and app.screen.finished, what="run"
        )
        await pilot.press("enter")
        assert not app.db_error
        await pilot.press("q")

    with db.admin() as su:
        audit = su.execute(
            "SELECT message, metadata->>'job_id' FROM pgconsole.job_log"
            " WHERE level = 'audit' AND metadata->>'system' = 'pgboss'"
        ).fetchall()
        state = su.execute("SELECT state::text FROM pgboss.job WHERE id = %s", (boss_failed,)).fetchone()
    assert audit == [("retry", boss_failed)] and state == ("retry",)
