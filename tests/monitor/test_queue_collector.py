"""The queue collector on a busy queue with stale statistics: bounded reads, real rates, failures.

The table is analyzed while empty, then filled, as a queue table is between autovacuum's analyzes
(the drain in docs/BENCHMARKS.md §6): the planner then believes the queue is tiny. The collector's
statements must still stop at their caps, and a full window sample must give the rate over the
time it spans, not a lower bound over 60 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import queue_stats as Q
from pgconsole.monitor import queue_window as W

pytestmark = pytest.mark.timeout(120)

SPACING_MS = 10  # finished jobs are 10 ms apart: the newest WINDOW_CAP span WINDOW_CAP / 100 s


def _busy_queue_with_stale_stats(db: Any) -> None:
    with db.admin() as a:
        a.execute("VACUUM ANALYZE pgconsole.jobs")  # statistics of an empty table
        a.execute("ALTER TABLE pgconsole.jobs SET (autovacuum_enabled = off)")  # keep them stale
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) "
            "SELECT 'type_' || (g % 3), '{}' FROM generate_series(1, 30000) g"
        )
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at) "
            "SELECT 'type_' || (g %% 3), 'completed', now(), now() - g * %s * interval '1 ms' "
            "FROM generate_series(1, 20000) g",
            (SPACING_MS,),
        )
        # 50 failures among the newest jobs, two distinct errors.
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_code, error_message) "
            "SELECT 'type_0', 'failed', now(), now() - (g * %s + 5) * interval '1 ms', 'E', "
            "       CASE WHEN g <= 30 THEN 'timeout' ELSE 'boom' END "
            "FROM generate_series(1, 50) g",
            (SPACING_MS,),
        )


def _scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if "Scan" in plan["Node Type"] else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.mark.parametrize("name", ["active", "window", "slices"])
def test_statements_stop_at_their_cap_with_stale_statistics(db, name):
    _busy_queue_with_stale_stats(db)
    # slices: as if the previous read were 10 s ago (the 20,000 jobs span 200 s, so each slice holds
    # about 1,000 of them but the newest is over the cap of the 50 failures + the completions).
    t = datetime.now(UTC) - timedelta(seconds=10)
    # active: 3 types, each counted to its share of ACTIVE_CAP + 1, one descent per type and past the last
    sql, params, cap = {
        "active": (Q.ACTIVE_COUNTS_SQL, Q.active_params(), Q.ACTIVE_CAP // 3 + 1 + 8),
        "window": (W.WINDOW_SQL, {"cap": W.WINDOW_CAP, "settle": W.SETTLE_S}, W.WINDOW_CAP),
        "slices": (
            W.SLICES_SQL,
            {"cap": W.WINDOW_CAP, "settle": W.SETTLE_S, "t": t, "s": t - timedelta(seconds=W.SETTLE_S)},
            W.WINDOW_CAP,
        ),
    }[name]
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn, conn.transaction():
        conn.execute(Q.PLAN_SETTINGS_SQL)
        row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()
    assert row is not None
    scans = _scans(row[0][0]["Plan"])
    kinds = {s["Node Type"] for s in scans}
    assert kinds and not kinds & {"Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}, kinds
    for s in scans:
        if s["Node Type"] in ("CTE Scan", "WorkTable Scan"):
            continue  # rows the statement's own CTEs hold (the slices' four, each up to the cap)
        per_loop = (s["Actual Rows"] * s["Actual Loops"] + s.get("Rows Removed by Filter", 0)) / max(
            s["Actual Loops"], 1
        )
        assert per_loop <= cap, (s["Node Type"], s.get("Index Name"), per_loop)


def test_full_sample_gives_the_rate_over_its_span_and_the_failures_in_it(db):
    _busy_queue_with_stale_stats(db)
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        q = Q.collect_queue(conn, read_capabilities(conn))
    pending = q.state("pending")
    # 30,000 pending over 3 types: each type counted to its share of the cap
    assert pending is not None and (pending.method, pending.count) == ("capped", Q.ACTIVE_CAP // 3 * 3)
    assert [(t.pending, t.pending_capped) for t in q.by_type] == [(Q.ACTIVE_CAP // 3, True)] * 3
    assert q.window_capped and q.finished("15m") == W.WINDOW_CAP
    # The newest WINDOW_CAP are the 50 failed and WINDOW_CAP - 50 completed jobs 10 ms apart; the
    # span also holds the time between the INSERT and the read.
    span = (W.WINDOW_CAP - 50) * SPACING_MS / 1000
    assert q.window_span_s is not None and span <= q.window_span_s < span + 5, q.window_span_s
    rate = q.rate_per_s("1m")
    assert W.WINDOW_CAP / (span + 5) < rate <= W.WINDOW_CAP / span, rate
    # The failures are counted in the same sample: 50 of the newest 2,000 finished jobs.
    assert [(f.error, f.n) for f in q.failures] == [("timeout", 30), ("boom", 20)]
    assert q.failure_rate_percent("15m") == pytest.approx(100 * 50 / W.WINDOW_CAP)
    assert q.stuck == []


def test_quiet_queue_counts_exactly_over_the_whole_window(db):
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at) "
            "SELECT 'q', 'completed', now(), now() - g * interval '1 second' FROM generate_series(1, 120) g"
        )
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        q = Q.collect_queue(conn, read_capabilities(conn))
    assert not q.window_capped and q.window_span_s is None
    assert (q.finished("1m"), q.finished("5m"), q.finished("15m")) == (59, 120, 120)
    assert q.rate_per_s("5m") == pytest.approx(120 / 300)
    assert q.failures == [] and q.failure_rate_percent() == 0.0


def test_a_capped_pending_count_is_reused_until_it_is_old_then_counted_again(db, monkeypatch):
    monkeypatch.setattr(Q, "ACTIVE_CAP", 4)
    monkeypatch.setattr(Q, "TYPE_CAP_MIN", 1)
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'cap', '{}' FROM generate_series(1, 6)"
        )
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        caps = read_capabilities(conn)
        first = Q.collect_queue(conn, caps)
        pending = first.state("pending")
        assert pending is not None and (pending.method, pending.count) == ("capped", 4)
        with db.admin() as a:  # below the cap now, and one job processing
            a.execute("DELETE FROM pgconsole.jobs WHERE id IN (SELECT id FROM pgconsole.jobs LIMIT 4)")
            a.execute(
                "UPDATE pgconsole.jobs SET status = 'processing', locked_by = 'w', started_at = now(), "
                "lease_expires_at = now() + interval '1 minute' "
                "WHERE id = (SELECT id FROM pgconsole.jobs LIMIT 1)"
            )
        second = Q.collect_queue(conn, caps, first)
        assert second.state("pending") == pending and second.pending_counted_at == first.pending_counted_at
        processing = second.state("processing")
        assert processing is not None and (processing.method, processing.count) == ("exact", 1), "read again"
        assert first.pending_counted_at is not None
        old = first.model_copy(
            update={"pending_counted_at": first.pending_counted_at - Q.PENDING_RECOUNT_S - 0.1}
        )
        third = Q.collect_queue(conn, caps, old)
        again = third.state("pending")
        assert again is not None and (again.method, again.count) == ("exact", 1)
        assert third.pending_counted_at is not None and third.pending_counted_at > first.pending_counted_at
        # below the cap, every read counts
        with db.admin() as a:
            a.execute("INSERT INTO pgconsole.jobs (job_type, payload) VALUES ('cap', '{}')")
        fourth = Q.collect_queue(conn, caps, third)
        now = fourth.state("pending")
        assert now is not None and (now.method, now.count) == ("exact", 2)
