"""graphile-worker's table past the size pgconsole counts whole (SMALL_TABLE_ROWS): available jobs
are counted through graphile's own partial index up to the cap, locked and failed ones are the
planner's estimates, and the summary says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pgconsole.queue.models import JobFilter
from pgconsole.queue.systems import graphile_worker as gwmod
from pgconsole.queue.systems.graphile_worker import GraphileWorker
from tests.nodequeues.nodelibs import run_script
from tests.nodequeues.test_graphile_worker import allow, grant

FAILED = 110_000
AVAILABLE = 12_000


def test_graphile_summary_past_the_small_table(db: Any, node_libs: Path, readonly: Any) -> None:
    run_script(node_libs, "graphile.mjs", db.dsn, "setup", {})
    grant(db)
    allow(db)
    with db.admin() as su:
        su.execute("INSERT INTO graphile_worker._private_tasks (identifier) VALUES ('bulk')")
        # Set-based, into graphile's own table: permanently failed jobs and an available backlog.
        su.execute(
            "INSERT INTO graphile_worker._private_jobs (task_id, payload, attempts, max_attempts, last_error, run_at)"
            " SELECT t.id, '{}', 1, 1, 'boom ' || (g %% 3), now() - interval '1 hour'"
            "   FROM generate_series(1, %s) g, graphile_worker._private_tasks t WHERE t.identifier = 'bulk'",
            (FAILED,),
        )
        su.execute(
            "INSERT INTO graphile_worker._private_jobs (task_id, payload, run_at)"
            " SELECT t.id, '{}', now() - interval '10 minutes'"
            "   FROM generate_series(1, %s) g, graphile_worker._private_tasks t WHERE t.identifier = 'bulk'",
            (AVAILABLE,),
        )
        su.execute("ANALYZE graphile_worker._private_jobs")
    assert FAILED + AVAILABLE > gwmod.SMALL_TABLE_ROWS
    [system] = GraphileWorker.detect(readonly)
    summary = system.summary(readonly)
    states = {s.state: (s.count, s.method) for s in summary.states}
    assert states["pending"] == (gwmod.COUNT_CAP, "capped")
    failed, method = states["failed"]
    assert method == "estimate" and abs(failed - FAILED) < FAILED * 0.1
    assert any("planner's estimates" in n for n in summary.notes)
    assert summary.oldest_due_age_s is not None and summary.oldest_due_age_s > 500
    assert sum(f.count for f in summary.failures) == gwmod.FAILURE_SAMPLE
    page = system.page(readonly, JobFilter(statuses=["failed"]), limit=20)
    assert (
        len(page.rows) == 20
        and page.has_more
        and {j.native_status for j in page.rows} == {"permanently_failed"}
    )
