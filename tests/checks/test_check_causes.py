"""Each check driven to WARNING/CRITICAL by a real cause, then back to OK when the cause is gone."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from tests.checks.helpers import by_name, check_json, eventually, status_of

pytestmark = pytest.mark.timeout(120)


def _status(capsys, dsn, name, *sets):
    return lambda: status_of(capsys, dsn, name, *sets)


def _is(*statuses):
    return lambda r: r["status"] in statuses


def test_idle_in_transaction(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    sets = ("idle_in_transaction.warn=1s", "idle_in_transaction.crit=1h")
    holder = psycopg.connect(db.dsn, application_name="app-holder")
    try:
        holder.execute("SELECT 1")  # now idle in transaction (psycopg opened one)
        r = eventually(_status(capsys, dsn, "idle_in_transaction", *sets), _is("WARNING"))
        assert r["status"] == "WARNING", r
        assert str(holder.info.backend_pid) in r["message"]
        holder.rollback()
        r = status_of(capsys, dsn, "idle_in_transaction", *sets)
        assert r["status"] == "OK", r
    finally:
        holder.close()


def test_long_running_query(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    sets = ("long_running_query.warn=1s", "long_running_query.crit=1h")
    sleeper = psycopg.connect(db.dsn, autocommit=True)
    t = threading.Thread(target=lambda: _swallow(sleeper, "SELECT pg_sleep(60)"), daemon=True)
    t.start()
    try:
        r = eventually(_status(capsys, dsn, "long_running_query", *sets), _is("WARNING"))
        assert r["status"] == "WARNING", r
        assert str(sleeper.info.backend_pid) in r["message"]
    finally:
        sleeper.cancel_safe()
        t.join(10)
        sleeper.close()
    r = status_of(capsys, dsn, "long_running_query", *sets)
    assert r["status"] == "OK", r


def _swallow(conn, query):
    try:
        conn.execute(query)
    except psycopg.Error:
        pass


def test_blocked_sessions(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    with db.admin() as a:
        a.execute("CREATE TABLE lockme (id int)")
    blocker = psycopg.connect(db.dsn)
    waiter = psycopg.connect(db.dsn, autocommit=True)
    t = threading.Thread(target=lambda: _swallow(waiter, "SELECT count(*) FROM lockme"), daemon=True)
    try:
        blocker.execute("LOCK TABLE lockme IN ACCESS EXCLUSIVE MODE")
        t.start()
        r = eventually(_status(capsys, dsn, "blocked_sessions"), _is("WARNING"))
        assert r["status"] == "WARNING", r
        assert str(blocker.info.backend_pid) in r["message"]  # the root blocker is named
        assert r["perfdata"]["blocked_sessions"]["value"] == 1
        r = status_of(capsys, dsn, "blocked_sessions", "blocked_sessions.warn=off", "blocked_sessions.crit=1")
        assert r["status"] == "CRITICAL"
        blocker.rollback()
        t.join(10)
        r = status_of(capsys, dsn, "blocked_sessions")
        assert r["status"] == "OK", r
    finally:
        blocker.close()
        waiter.close()


def test_connections_used_up_to_threshold(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    base = status_of(capsys, dsn, "connections_used")
    usable = base["perfdata"]["connections"]["max"]
    used = base["perfdata"]["connections"]["value"]
    assert base["status"] == "OK"
    # Warn at 4 more connections than now, critical at 8 more: open 5, then 9.
    warn = 100.0 * (used + 4) / usable
    crit = 100.0 * (used + 8) / usable
    sets = (f"connections_used.warn={warn:.4f}%", f"connections_used.crit={crit:.4f}%")
    extra = []
    try:
        extra += [psycopg.connect(db.dsn) for _ in range(5)]
        assert status_of(capsys, dsn, "connections_used", *sets)["status"] == "WARNING"
        extra += [psycopg.connect(db.dsn) for _ in range(4)]
        assert status_of(capsys, dsn, "connections_used", *sets)["status"] == "CRITICAL"
    finally:
        for c in extra:
            c.close()
    r = eventually(_status(capsys, dsn, "connections_used", *sets), _is("OK"), timeout=10)
    assert r["status"] == "OK", r


def test_inactive_replication_slot(db, capsys):
    dsn = db.dsn_as("pgconsole_readonly")
    slot = f"pgc_test_{uuid.uuid4().hex[:8]}"
    with db.admin() as a:
        a.execute("SELECT pg_create_physical_replication_slot(%s, true)", (slot,))
        try:
            r = status_of(capsys, dsn, "replication_slots")
            assert r["status"] == "WARNING", r
            assert slot in r["message"] and "inactive" in r["message"]
            # a retained-WAL threshold below what the slot holds makes it CRITICAL
            a.execute("SELECT pg_switch_wal()")
            a.execute("CHECKPOINT")
            r = status_of(capsys, dsn, "replication_slots", "replication_slots.crit=1B")
            assert r["status"] == "CRITICAL", r
        finally:
            a.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    r = status_of(capsys, dsn, "replication_slots")
    assert r["status"] == "OK", r


def test_connect_only_role_gets_unknown_with_the_grant(db, capsys):
    role = f"pgc_connect_{uuid.uuid4().hex[:8]}"
    password = "Conn3ct-only-pw"
    with db.admin() as a:
        a.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
    try:
        dsn = f"postgresql://{role}:{password}@127.0.0.1:{db.cluster.info.port}/{db.name}"
        code, report = check_json(capsys, dsn)
        checks = by_name(report)
        assert "idle_in_transaction" in checks, report
        for name in ("idle_in_transaction", "long_running_query", "blocked_sessions"):
            assert checks[name]["status"] == "UNKNOWN", checks[name]
            assert f'GRANT pg_read_all_stats TO "{role}"' in checks[name]["message"]
        for name in (
            "queue_latency",
            "stuck_jobs",
            "failure_rate",
            "queue_table_bloat",
            "pending_migrations",
        ):
            assert checks[name]["status"] == "UNKNOWN", checks[name]
            assert f'GRANT pgconsole_readonly TO "{role}"' in checks[name]["message"], checks[name]
        for name in (
            "connection",
            "connections_used",
            "cache_hit",
            "wraparound",
            "replication_slots",
            "notify_queue_usage",
            "archiver",
        ):
            assert checks[name]["status"] == "OK", checks[name]
        assert code == 3 and report["status"] == "UNKNOWN"
        assert password not in str(report)
    finally:
        with db.admin() as a:
            a.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
