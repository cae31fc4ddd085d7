"""Past the small-table rule (1,000 pages): the counts change method instead of reading the history.
Procrastinate's finished states become planner estimates while todo stays counted through its
partial index; a team's table with an index led by its status is counted up to the cap."""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.db import Purpose, connect
from pgconsole.queue.systems import registry
from pgconsole.queue.systems.common import ACTIVE_CAP, SMALL_TABLE_PAGES
from tests.systems.test_custom_table import SEED_DDL
from tests.systems.test_procrastinate import setup_procrastinate

ROWS = 150_000


def _pages(su: psycopg.Connection[Any], table: str) -> int:
    return int(su.execute("SELECT pg_relation_size(%s::regclass) / 8192", (table,)).fetchone()[0])


def test_procrastinate_history_is_estimated_not_counted(db18: Any) -> None:
    with psycopg.connect(db18.dsn, autocommit=True) as su:
        setup_procrastinate(db18, su)
        su.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args)"
            " SELECT 'default', 'bulk', 'succeeded', jsonb_build_object('pad', repeat('x', 40)) FROM generate_series(1, %s)",
            (ROWS,),
        )
        su.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status) SELECT 'default', 'bulk', 'todo' FROM generate_series(1, 20)"
        )
        su.execute("ANALYZE procrastinate_jobs")
        assert _pages(su, "procrastinate_jobs") > SMALL_TABLE_PAGES
    with connect(db18.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as reader:
        proc = registry.choose(registry.detect(reader), "procrastinate")
        s = proc.summary(reader)
    native = {n.native: (n.count, n.method) for n in s.native_states}
    assert native["todo"] == (20, "exact")
    assert native["doing"] == (0, "exact")
    count, method = native["succeeded"]
    assert method == "estimate" and 0.8 * ROWS <= count <= 1.2 * ROWS
    # The window's sample is the newest events only: full, so labelled capped.
    assert s.throughput is not None and s.throughput.method in ("exact", "capped")
    assert {t.name: t.counts for t in s.types} == {"bulk": {"pending": 20}}


def test_seed_table_counted_up_to_the_cap(db18: Any) -> None:
    with psycopg.connect(db18.dsn, autocommit=True) as su:
        su.execute(SEED_DDL)
        su.execute(
            "INSERT INTO jobs (job_type, status, completed_at, payload)"
            " SELECT 'bulk', CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'completed' END, now() - interval '1 day',"
            "        jsonb_build_object('pad', repeat('x', 60)) FROM generate_series(1, %s) g",
            (ROWS,),
        )
        su.execute("INSERT INTO jobs (job_type, status) SELECT 'bulk', 'pending' FROM generate_series(1, 7)")
        su.execute("ANALYZE jobs")
        assert _pages(su, "jobs") > SMALL_TABLE_PAGES
    with connect(db18.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as reader:
        table = registry.choose(registry.detect(reader, {"app_jobs": {"table": "public.jobs"}}), "app_jobs")
        s = table.summary(reader)
    counts = {st.state: (st.count, st.method) for st in s.states}
    assert counts["pending"] == (7, "exact")
    assert counts["completed"] == (ACTIVE_CAP, "capped")  # idx_jobs_status serves it; stops at the cap
    assert counts["failed"] == (ACTIVE_CAP, "capped")
    # No index leads with completed_at in the seeds' DDL: no throughput, and a note names the index.
    assert s.throughput is None
    assert any('CREATE INDEX ON "public"."jobs" ("completed_at")' in n for n in s.notes), s.notes
