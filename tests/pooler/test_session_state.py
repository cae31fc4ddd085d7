"""Through a real PgBouncer in transaction mode: pgconsole's connections prepare nothing, leave no
session setting on a server connection, never LISTEN there, and the migrator refuses in one line."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from pgconsole.db.capabilities import read_capabilities
from pgconsole.db.connect import Pooler, Purpose, connect, pooling
from pgconsole.monitor.snapshot import take_snapshot
from pgconsole.queue import admin, client
from pgconsole.queue.models import ActionTarget
from pgconsole.schema import migrator
from pgconsole.tui.source import PgSource
from tests.pooler.helpers import LISTENING, on_every_server_connection, run_cli

pytestmark = pytest.mark.timeout(180)

# What a plain client of the pool must find on every server connection: the role's own settings.
_PROBE = (
    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
    " current_setting('jit'), current_setting('pgconsole.os_user', true),"
    " (SELECT count(*) FROM pg_prepared_statements), pg_backend_pid()"
)


def _server_pid(conn: psycopg.Connection) -> int:
    """The server's pid (``conn.info.backend_pid`` is PgBouncer's own key, not the server's)."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_detected_and_no_prepared_statements(bouncer, db18):
    direct = connect(db18.dsn_as("pgconsole_worker"), Purpose.WORKER)
    pooled = connect(bouncer.dsn(db18.name, "pgconsole_worker"), Purpose.WORKER)
    try:
        assert pooling(direct) is Pooler.NONE and direct.prepare_threshold is not None
        assert pooling(pooled) is Pooler.TRANSACTION and pooled.prepare_threshold is None
        # the claim statement many times over: psycopg would prepare it from the 5th on
        with client._claim_cursor(pooled) as cur:
            for _ in range(20):
                client._claim_rows(cur, "w-probe", 1, lease_seconds=30)
        declared = connect(db18.dsn_as("pgconsole_worker"), Purpose.WORKER, pooler="session")
        assert pooling(declared) is Pooler.SESSION and declared.prepare_threshold is None
        declared.close()
    finally:
        direct.close()
        pooled.close()
    for row in on_every_server_connection(bouncer.dsn(db18.name, "pgconsole_worker"), _PROBE):
        assert row[4] == 0, row


def test_no_session_setting_reaches_another_client(bouncer, db18):
    """The dashboard, --check's snapshot and an operator action through the pool, then plain
    clients on every server connection of the same pools: the roles' settings, nothing of ours."""
    su_pool = bouncer.dsn(db18.name, "postgres")
    op_pool = bouncer.dsn(db18.name, "pgconsole_operator")
    with db18.admin() as a:
        ids = [client.enqueue(a, "pool.t", {"i": i}) for i in range(5)]
        a.execute(
            "UPDATE pgconsole.jobs SET status = 'failed', completed_at = now() WHERE id = ANY(%s)", (ids,)
        )
    for purpose in (Purpose.DASHBOARD, Purpose.CHECK):
        conn = connect(su_pool, purpose)
        take_snapshot(conn, read_capabilities(conn))
        conn.close()
    source = PgSource(su_pool)
    try:
        asyncio.run(source.overview())
    finally:
        source.close()
    conn = connect(op_pool, Purpose.OPERATOR)
    report = admin.run(conn, "retry", ActionTarget(ids=[str(i) for i in ids], reason="pool test"))
    conn.close()
    assert report.changed == 5
    for row in on_every_server_connection(su_pool, _PROBE):
        assert row[:3] == ("0", "0", "on"), row  # the superuser's defaults
        assert row[3] in (None, ""), row
    for row in on_every_server_connection(op_pool, _PROBE):
        assert row[:2] == ("30s", "0"), row  # ALTER ROLE pgconsole_operator SET statement_timeout = '30s'
        assert row[3] in (None, ""), row
    # ... and the audit records still name the OS user (set inside each batch's transaction)
    with db18.admin() as a:
        users = a.execute(
            "SELECT DISTINCT metadata->>'os_user' FROM pgconsole.job_log WHERE job_id = ANY(%s) AND level = 'audit'",
            (ids,),
        ).fetchall()
    assert len(users) == 1 and users[0][0], users


def test_a_listen_through_the_pool_reaches_a_bystander(bouncer, db18):
    """The hazard the worker avoids, as the issue saw it (a psql doing inserts through the pool): a
    LISTEN on a pooled connection stays on that server connection, and the next client given it
    receives the notifications of its own inserts. Deterministic because the client commits the
    NOTIFY itself: PgBouncer 1.18 drops a notification that reaches an idle, unlinked server ("got
    packet 'A' from server when not linked"), so one sent from elsewhere leaks only by timing."""
    dsn = bouncer.dsn(db18.name, "pgconsole_app")
    listener = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
    listener.execute("LISTEN pgconsole_jobs")
    listener_pid = _server_pid(listener)
    listener.close()  # in transaction mode the server connection keeps its LISTEN
    received: list[psycopg.Notify] = []
    # a fresh database per test: the pool (this database, this role) holds only that server
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as bystander:
        bystander.add_notify_handler(received.append)
        assert _server_pid(bystander) == listener_pid
        for i in range(3):
            client.enqueue(bystander, "pool.t", {"i": i})
    assert len(received) == 3 and all(n.channel == "pgconsole_jobs" for n in received), received
    assert '"pool.t"' in received[0].payload  # job types (and ids) handed to a stranger
    # what the load tests check besides their bystanders: a LISTEN left on a server connection
    assert sorted(on_every_server_connection(dsn, LISTENING)) == [([],), ([],), (["pgconsole_jobs"],)]


def test_migrate_refuses_transaction_pooling_in_one_line(bouncer, db18):
    pooled = bouncer.dsn(db18.name, "pgconsole_migrator")
    r = run_cli(["migrate", "--dsn", pooled])
    assert r.returncode == migrator.EXIT_POOLED, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "transaction pooling" in lines[0], r.stderr
    assert "pw-" not in r.stderr + r.stdout  # no password
    # the console's Schema screen offers no "apply" through it, and says why
    source = PgSource(pooled)
    try:
        schema = asyncio.run(source.schema())
    finally:
        source.close()
    assert not schema.can_migrate and "transaction pooling" in schema.migrate_reason, schema.migrate_reason
    # the direct connection works as ever
    r = run_cli(["migrate", "--dsn", db18.dsn_as("pgconsole_migrator")])
    assert r.returncode == 0, r.stderr


def test_session_state_cannot_leak_in_threads(bouncer, db18):
    """Many pgconsole connections opened and closed concurrently through the pool: still nothing
    of theirs on the server connections afterwards."""
    dsn = bouncer.dsn(db18.name, "postgres")
    errors: list[BaseException] = []

    def body() -> None:
        try:
            for _ in range(5):
                conn = connect(dsn, Purpose.CHECK)
                take_snapshot(conn, read_capabilities(conn), only={"server", "connections"})
                conn.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for row in on_every_server_connection(dsn, _PROBE):
        assert row[:3] == ("0", "0", "on"), row


def test_explain_with_values_leaves_no_prepared_statement(bouncer, db18):
    """EXPLAIN with values prepares the statement: through transaction pooling no other client of
    the pool may ever find it on its server connection, after a failed plan too (a prepared
    statement outlives a rollback, and the next transaction may get another server connection).
    Three other clients keep taking the pool's connections meanwhile and look each time."""
    from pgconsole.monitor.explain import explain

    dsn = bouncer.dsn(db18.name, "pgconsole_operator")
    seen: list[int] = []
    stop = threading.Event()

    def look() -> None:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10, prepare_threshold=None) as c:
            while not stop.is_set():
                row = c.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
                seen.append(row[0] if row else -1)
                time.sleep(0.001)

    lookers = [threading.Thread(target=look, daemon=True) for _ in range(3)]
    for t in lookers:
        t.start()
    query = "SELECT id FROM pgconsole.jobs WHERE job_type = $1 AND priority > $2"
    conn = connect(dsn, Purpose.DASHBOARD)
    try:
        for _ in range(20):
            assert "email.send" in explain(conn, query, server_major=18, params=["email.send", "5"])
            with pytest.raises(psycopg.Error):
                explain(conn, query, server_major=18, params=["x", "not a number"])
    finally:
        conn.close()
        stop.set()
        for t in lookers:
            t.join(timeout=10)
    assert seen and set(seen) == {0}, sorted(set(seen))
    for row in on_every_server_connection(dsn, _PROBE):
        assert row[4] == 0, row
