"""Honest at any backlog (issue 20 item 1): every job type with pending work is listed with its
own count, exact up to its share of the cap and labelled capped beyond, whatever the total — in
the collector, the Overview's view model, the Overview through PgSource, and --check's message.

Before migration 0006 the pending count stopped after ACTIVE_CAP index entries in total, so 100k
pending jobs over 8 types showed one type (`big.0 10k+`) and nothing for the other seven.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import queue_stats as Q
from pgconsole.tui import overview_data
from pgconsole.tui.source import PgSource
from tests.checks.helpers import status_of

pytestmark = pytest.mark.timeout(300)

BACKLOG = 100_000


def _backlog(db: Any, types: int, *, small: dict[str, int] | None = None) -> list[str]:
    """BACKLOG pending jobs spread evenly over ``types`` types, plus ``small`` types with a few."""
    names = [f"big.{i}" for i in range(types)]
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload, scheduled_at) "
            "SELECT 'big.' || (g %% %s), '{}', now() - interval '1 minute' FROM generate_series(1, %s) g",
            (types, BACKLOG),
        )
        for name, n in (small or {}).items():
            a.execute(
                "INSERT INTO pgconsole.jobs (job_type, payload) SELECT %s, '{}' FROM generate_series(1, %s)",
                (name, n),
            )
        a.execute("ANALYZE pgconsole.jobs")
    return names


def _collect(db: Any) -> Q.QueueStats:
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        return Q.collect_queue(conn, read_capabilities(conn))


@pytest.mark.parametrize("types", [8, 50])
def test_every_type_of_a_backlog_over_the_cap_is_listed_with_a_capped_count(db, types):
    names = _backlog(db, types)
    q = _collect(db)
    share = max(Q.TYPE_CAP_MIN, Q.ACTIVE_CAP // types)
    assert BACKLOG // types > share, "each type is over its share: the test is about capped counts"
    assert [t.job_type for t in q.by_type] == sorted(names)
    for t in q.by_type:
        assert (t.pending, t.pending_capped, t.pending_label) == (share, True, f"{share:,}+"), t
    pending = q.state("pending")
    assert pending is not None and (pending.method, pending.count) == ("capped", share * types)
    assert not q.types_capped


def test_small_types_beside_a_big_one_are_exact_and_say_so(db):
    _backlog(db, 1, small={"email.send": 3, "image.resize": 40})
    q = _collect(db)
    by = {t.job_type: t for t in q.by_type}
    share = Q.ACTIVE_CAP // 3
    assert (by["big.0"].pending, by["big.0"].pending_capped) == (share, True)
    assert (by["email.send"].pending, by["email.send"].pending_capped, by["email.send"].pending_label) == (
        3,
        False,
        "3",
    )
    assert (by["image.resize"].pending, by["image.resize"].pending_capped) == (40, False)


def test_a_backlog_under_the_cap_is_exact_for_every_type(db):
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) "
            "SELECT 't.' || (g % 8), '{}' FROM generate_series(1, 8 * 1000) g"
        )
    q = _collect(db)
    assert [(t.job_type, t.pending, t.pending_capped) for t in q.by_type] == [
        (f"t.{i}", 1000, False) for i in range(8)
    ]
    pending = q.state("pending")
    assert pending is not None and (pending.method, pending.count) == ("exact", 8000)


def _scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if "Scan" in plan["Node Type"] else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


def test_the_count_reads_about_the_budget_through_indexes_only(db):
    _backlog(db, 8)
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn, conn.transaction():
        conn.execute(Q.PLAN_SETTINGS_SQL)
        row = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + Q.ACTIVE_COUNTS_SQL, Q.active_params()
        ).fetchone()
    assert row is not None
    scans = [s for s in _scans(row[0][0]["Plan"]) if s.get("Relation Name") == "jobs"]
    kinds = {s["Node Type"] for s in scans}
    assert kinds and not kinds & {"Seq Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}, kinds
    read = sum(s["Actual Rows"] * s["Actual Loops"] + s.get("Rows Removed by Filter", 0) for s in scans)
    # 8 types counted to their share + 1 each, and one descent per type (and one past the last)
    assert read <= Q.ACTIVE_CAP + 8 + 2 * 9, (read, json.dumps(row[0])[:600])
    used = {s.get("Index Name") for s in scans}
    assert "jobs_pending_type_idx" in used, used
    # Each type's count walks that type's own entries: through the claim index (job_type is its
    # last column) a per-type count is a skip scan over every type's entries, which the read
    # above does not show (entries skipped inside the index are not rows removed by a filter).
    counts = [s for s in scans if "job_type = t" in s.get("Index Cond", "")]
    assert counts and {s["Index Name"] for s in counts} <= {"jobs_pending_type_idx", "jobs_processing_idx"}, [
        (s["Index Name"], s["Index Cond"]) for s in counts
    ]


def test_failed_in_the_last_hour_lists_every_type_with_its_own_cap(db):
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message) "
            "SELECT 'f.' || (g % 8), 'failed', now(), now() - interval '1 minute', 'boom' "
            "FROM generate_series(1, 40000) g"
        )
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message) "
            "SELECT 'rare', 'failed', now(), now() - interval '1 minute', 'boom' FROM generate_series(1, 2)"
        )
        a.execute("ANALYZE pgconsole.jobs")
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        extra = Q.per_type(conn, [])
    assert extra is not None
    share = Q.FAILED_CAP // 9
    assert extra.failed_1h == {**{f"f.{i}": share for i in range(8)}, "rare": 2}
    assert extra.failed_capped_types == {f"f.{i}" for i in range(8)}


def test_the_overview_view_model_lists_every_type_and_says_which_are_capped(db):
    _backlog(db, 8, small={"email.send": 2})
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        snap, extra = overview_data.read(conn, read_capabilities(conn), None)
    data = overview_data.build(snap, None, extra)
    by = {r.job_type: r for r in data.queue}
    share = Q.ACTIVE_CAP // 9
    assert sorted(by) == sorted([f"big.{i}" for i in range(8)] + ["email.send"])
    assert all(by[f"big.{i}"].pending_label == f"{share:,}+" for i in range(8)), data.queue
    assert (by["email.send"].pending_label, by["email.send"].pending_capped) == ("2", False)
    assert "capped per type" in data.count_method and "8 type(s)" in data.count_method, data.count_method
    # every pending type has its oldest due job's age
    assert all(by[f"big.{i}"].oldest_due_age_s is not None for i in range(8))


async def test_the_overview_through_the_data_source_lists_every_type(db):
    names = _backlog(db, 8)
    source = PgSource(db.dsn_as("pgconsole_operator"))
    try:
        data = await source.overview()
    finally:
        source.close()
    share = Q.ACTIVE_CAP // 8
    assert [(r.job_type, r.pending_label) for r in data.queue] == [(n, f"{share:,}+") for n in sorted(names)]


def test_check_message_names_every_type_with_its_count(db, capsys):
    _backlog(db, 8)
    r = status_of(capsys, db.dsn_as("pgconsole_readonly"), "queue_latency")
    share = Q.ACTIVE_CAP // 8
    for i in range(8):
        assert f"big.{i} {share:,}+" in r["message"], r["message"]
        assert f"big.{i}: {share:,}+ pending, 0 processing" in r["details"], r["details"]


def test_get_job_queue_stats_lists_every_type_capped_per_type(db):
    _backlog(db, 8, small={"email.send": 2})
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at, error_message) "
            "SELECT 'f.x', 'failed', now(), now() - interval '1 minute', 'boom' FROM generate_series(1, 30)"
        )
        a.execute("ANALYZE pgconsole.jobs")
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        rows = conn.execute(
            "SELECT job_type, status, job_count, capped, oldest_created_at IS NULL, oldest_scheduled_at IS NULL "
            "FROM pgconsole.get_job_queue_stats('1 hour', 5000)"
        ).fetchall()
    assert rows == [
        *[(f"big.{i}", "pending", 5000, True, True, False) for i in range(8)],
        ("email.send", "pending", 2, False, False, False),
        ("f.x", "failed", 30, False, False, False),
    ]


def test_get_job_queue_stats_finished_sample_says_when_it_is_full(db):
    with db.admin() as a:
        a.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, started_at, completed_at) "
            "SELECT 'done.' || (g % 2), 'completed', now(), now() - g * interval '1 ms' FROM generate_series(1, 300) g"
        )
    with connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD) as conn:
        full = conn.execute(
            "SELECT job_type, job_count, capped FROM pgconsole.get_job_queue_stats('1 hour', 100)"
        ).fetchall()
        exact = conn.execute(
            "SELECT job_type, job_count, capped FROM pgconsole.get_job_queue_stats('1 hour', 1000)"
        ).fetchall()
    assert full == [("done.0", 50, True), ("done.1", 50, True)]
    assert exact == [("done.0", 150, False), ("done.1", 150, False)]
