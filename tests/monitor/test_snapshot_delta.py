"""Snapshots and deltas against real servers: rates match pg_stat_database read independently,
collectors answer on PG 15 and 18, and a missing privilege disables a collector once, with a hint."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from psycopg import sql

from pgconsole.db import Purpose, connect
from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor import COLLECTOR_NAMES, take_snapshot
from pgconsole.monitor.statements import columns_for

pytestmark = pytest.mark.timeout(120)

STAT_SQL = (
    """SELECT xact_commit, xact_rollback, blks_hit, blks_read FROM pg_stat_database WHERE datname = %s"""
)


def test_cache_hit_and_tps_deltas_match_pg_stat_database(pg, db):
    # The workload runs in its own database, so the monitor's and the test's own statements
    # (which count in *their* database) cannot blur the comparison.
    work_db = pg.new_database("w")
    try:
        mon = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
        caps = read_capabilities(mon)
        with pg.admin(work_db) as setup:
            setup.execute(
                "CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g"
            )
        with pg.admin(db.name) as probe:
            _wait_gone(probe, work_db)
            before = probe.execute(STAT_SQL, (work_db,)).fetchone()
            s1 = take_snapshot(mon, caps)
            with psycopg.connect(pg.dsn(work_db)) as w:
                for i in range(150):
                    w.execute("SELECT count(*) FROM t WHERE id %% 7 = %s", (i % 7,))
                    w.commit()
                for _ in range(25):
                    w.execute("SELECT 1")
                    w.rollback()
            _wait_gone(probe, work_db)
            after = probe.execute(STAT_SQL, (work_db,)).fetchone()
            s2 = take_snapshot(mon, caps, previous=s1)
        mon.close()
        assert s2.delta is not None
        d = s2.delta.databases[work_db]
        commits, rollbacks, hit, read = (a - b for a, b in zip(after, before, strict=True))
        assert (d.commits, d.rollbacks) == (commits, rollbacks)
        assert commits >= 150 and rollbacks >= 25
        assert (d.blks_hit, d.blks_read) == (hit, read)
        assert d.cache_hit_percent == pytest.approx(100.0 * hit / (hit + read))
        assert d.interval_s == pytest.approx((s2.server.now - s1.server.now).total_seconds())
        assert d.tps == pytest.approx((commits + rollbacks) / d.interval_s)
        # and the cluster total includes it
        assert s2.delta.cluster is not None and s2.delta.cluster.commits >= commits
    finally:
        pg.drop_database(work_db)


def _wait_gone(probe: psycopg.Connection, dbname: str) -> None:
    """A backend flushes its statistics before it leaves pg_stat_activity (before_shmem_exit), so once
    no session of ``dbname`` is left, every count of that database is in pg_stat_database."""
    for _ in range(200):
        if (
            probe.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)).fetchone()[0]
            == 0
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"sessions of {dbname} did not go away")


def test_full_snapshot_on_this_server(pg, db):
    conn = connect(db.dsn_as("pgconsole_readonly"), Purpose.DASHBOARD)
    try:
        caps = read_capabilities(conn)
        snap = take_snapshot(conn, caps)
        bad = {n: s for n, s in snap.collectors.items() if s.status != "ok"}
        assert not bad, bad
        assert set(snap.collectors) == set(COLLECTOR_NAMES)
        assert snap.server and snap.server.version_num // 10000 == pg.major
        assert snap.statements is not None and snap.statements.extension_version == caps.pgss_version
        assert snap.queue is not None and {s.status for s in snap.queue.states} == {
            "pending",
            "processing",
            "completed",
            "failed",
            "cancelled",
            "expired",
        }
        assert snap.migrations is not None and snap.migrations.pending == []
        # statements: a statement run between two snapshots shows up as a delta of one call
        conn2 = psycopg.connect(db.dsn, autocommit=True)
        conn2.execute("SELECT 42 AS pgconsole_delta_probe")
        s2 = take_snapshot(conn, caps, previous=snap)
        conn2.execute("SELECT 42 AS pgconsole_delta_probe")
        s3 = take_snapshot(conn, caps, previous=s2)
        conn2.close()
        assert s3.delta is not None and s3.delta.statements, s3.delta
        from pgconsole.monitor import fetch_query_texts

        texts = fetch_query_texts(
            conn, caps, [s.queryid for s in s3.delta.statements if s.queryid is not None]
        )
        probe = [s for s in s3.delta.statements if "pgconsole_delta_probe" in texts.get(s.queryid or 0, "")]
        assert len(probe) == 1 and probe[0].calls == 1
    finally:
        conn.close()


def test_disabled_collector_keeps_its_hint_and_is_not_retried(db):
    role = f"pgc_mon_{uuid.uuid4().hex[:8]}"
    with db.admin() as a:
        a.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x-pw-123'").format(sql.Identifier(role)))
    try:
        conn = connect(
            f"postgresql://{role}:x-pw-123@127.0.0.1:{db.cluster.info.port}/{db.name}", Purpose.DASHBOARD
        )
        try:
            caps = read_capabilities(conn)
            s1 = take_snapshot(conn, caps)
            q = s1.collectors["queue"]
            assert q.status == "disabled" and q.hint == f'GRANT pgconsole_readonly TO "{role}";', q
            assert s1.collectors["activity"].status == "limited"
            assert s1.collectors["activity"].hint == f'GRANT pg_read_all_stats TO "{role}";'
            s2 = take_snapshot(conn, caps, previous=s1)
            assert s2.collectors["queue"].status == "disabled" and s2.collectors["queue"].elapsed_ms == 0.0
            assert s2.collectors["server"].status == "ok" and s2.collectors["database"].status == "ok"
        finally:
            conn.close()
    finally:
        with db.admin() as a:
            a.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_pgss_columns_follow_the_extension_version():
    assert "shared_blk_read_time" in columns_for((1, 11))
    assert "blk_read_time + blk_write_time" in columns_for((1, 10))
    assert "total_exec_time" in columns_for((1, 8)) and "toplevel" not in columns_for((1, 8)).split("AS")[0]
    assert "total_time AS total_time_ms" in columns_for((1, 7))


def test_blocking_tree_shape():
    from pgconsole.monitor.activity import Activity, Session

    def s(pid, blocked_by=()):
        return Session(
            pid=pid,
            leader_pid=None,
            usename="u",
            application_name="a",
            client_addr=None,
            state="active",
            wait_event_type="Lock" if blocked_by else None,
            wait_event=None,
            backend_xid=None,
            backend_xmin=None,
            xmin_age=None,
            query_start=None,
            xact_start=None,
            state_change=None,
            query_age_s=1.0,
            xact_age_s=1.0,
            state_age_s=1.0,
            blocked_by=list(blocked_by),
            query="q",
        )

    a = Activity(sessions=[s(1), s(2, [1]), s(3, [2]), s(4, [1])], limit=10, hidden=0)
    (root,) = a.blocking_trees()
    assert root.pid == 1 and [b.pid for b in root.blocked] == [2, 4] and root.blocked[0].blocked[0].pid == 3
    assert root.size() == 3
