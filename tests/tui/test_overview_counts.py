"""Overview per job type (issue #5 §2): failed in the last hour and the oldest due pending job, from
one statement that reads the partial indexes only (EXPLAIN), and what the Overview shows."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from textual.widgets import DataTable, Static

from pgconsole.monitor import queue_stats
from pgconsole.tui.app import PgConsoleApp
from pgconsole.tui.source import PgSource
from tests.tui.helpers import plain, rows, until

FILL = """
INSERT INTO pgconsole.jobs (job_type, status, priority, scheduled_at, completed_at, created_at, error_message)
SELECT %(type)s, %(status)s, %(prio)s, now() - make_interval(secs => %(due_s)s),
       CASE WHEN %(status)s <> 'pending' THEN now() - make_interval(secs => %(done_s)s) END,
       now() - interval '3 hours', CASE WHEN %(status)s = 'failed' THEN 'boom' END
  FROM generate_series(1, %(n)s)
"""


def _fill(
    conn: psycopg.Connection[Any],
    type_: str,
    status: str,
    n: int,
    *,
    prio: int = 0,
    due_s: float = 0,
    done_s: float = 0,
) -> None:
    conn.execute(
        FILL, {"type": type_, "status": status, "prio": prio, "due_s": due_s, "done_s": done_s, "n": n}
    )


def _arrange(conn: psycopg.Connection[Any]) -> None:
    _fill(conn, "email.send", "failed", 4, done_s=600)  # in the last hour
    _fill(conn, "email.send", "failed", 7, done_s=7200)  # before it: not counted
    _fill(conn, "webhook.deliver", "failed", 2, done_s=30)
    _fill(conn, "email.send", "pending", 3, prio=5, due_s=90)
    _fill(conn, "email.send", "pending", 2, prio=-3, due_s=400)  # the oldest due, at a lower priority
    _fill(conn, "image.resize", "pending", 1, prio=0, due_s=-3600)  # scheduled in an hour: not due
    _fill(conn, "image.resize", "pending", 1, prio=10, due_s=20)
    _fill(conn, "report.build", "completed", 30_000, done_s=5000)  # history, so that a scan would be costly
    conn.execute("ANALYZE pgconsole.jobs")


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += _plan_nodes(child)
    return out


def test_per_type_counts_and_plan(db18: Any) -> None:
    with db18.admin() as conn:
        _arrange(conn)
    with psycopg.connect(db18.dsn_as("pgconsole_readonly"), autocommit=True) as conn:
        extra = queue_stats.per_type(conn, ["email.send", "image.resize"])
        assert extra.failed_1h == {"email.send": 4, "webhook.deliver": 2, "image.resize": 0}
        assert 395 <= extra.oldest_due_age_s["email.send"] <= 460
        assert 15 <= extra.oldest_due_age_s["image.resize"] <= 80
        assert "webhook.deliver" not in extra.oldest_due_age_s
        plan = conn.execute(
            "EXPLAIN (FORMAT JSON) " + queue_stats.PER_TYPE_SQL,
            {
                "types_list": ["email.send", "image.resize"],
                "types": queue_stats.TYPES_CAP,
                "min": queue_stats.TYPE_CAP_MIN,
                "cap": queue_stats.FAILED_CAP,
            },
        ).fetchone()
        assert plan is not None
        nodes = _plan_nodes(plan[0][0]["Plan"])
        scans = {(n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "jobs"}
        print("scans on pgconsole.jobs:", sorted(scans, key=str))
        used = {s[1] for s in scans}
        assert "jobs_pending_type_idx" in used
        assert used & {"jobs_failed_idx", "jobs_finished_idx"}
        assert not [s for s in scans if s[0] == "Seq Scan"], (
            f"a sequential scan of jobs: {json.dumps(plan[0])[:400]}"
        )
        assert used <= {"jobs_pending_type_idx", "jobs_failed_idx", "jobs_finished_idx", None}


async def test_overview_shows_failed_last_hour_and_oldest_due(db18: Any) -> None:
    with db18.admin() as conn:
        _arrange(conn)
    app = PgConsoleApp(PgSource(db18.dsn_as("pgconsole_operator")), refresh=5)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#queue-table", DataTable)
        got = await until(pilot, lambda: rows(table), what="queue rows")
        by_type = {r[0]: r for r in got}
        header = [str(c.label) for c in table.ordered_columns]
        assert header[3] == "failed 1h" and header[4] == "oldest due"
        assert by_type["email.send"][3] == "4" and by_type["webhook.deliver"][3] == "2"
        assert by_type["email.send"][4] in {"6m", "7m"}
        assert by_type["webhook.deliver"][4] == "–"
        title = plain(app.screen.query_one("#queue-title", Static))
        assert "partial ind" in title and "failed 1h" in title, title
        await pilot.press("q")
