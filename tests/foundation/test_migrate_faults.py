"""Done-when: two migrators at once apply each migration once; a SIGKILLed migrator leaves schema
and history in agreement and a rerun succeeds (reliability.md F5, F6). Real subprocesses."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pgconsole.schema.migrator import load_migrations
from tests.foundation.helpers import MIGRATOR, SetUpDB, cli, cli_popen, copy_migrations, wait_until

# Holds its transaction open long enough for the second migrator to arrive while it runs.
SLOW_PROBE = """CREATE TABLE pgconsole.concurrency_probe (id int);
SELECT pg_sleep(2.5);
"""

# DDL, then a sleep the test kills the client in; the sleep is shortened by PGOPTIONS on the rerun.
KILL_ME = """CREATE TABLE pgconsole.half_done (id int PRIMARY KEY);
CREATE INDEX half_done_idx ON pgconsole.half_done (id);
INSERT INTO pgconsole.settings (key, value) VALUES ('test.half_done', '1');
SELECT pg_sleep(coalesce(nullif(current_setting('pgctest.sleep', true), ''), '5')::float);
"""


def test_two_migrators_at_once_apply_each_migration_once(setup_db: SetUpDB, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path / "m", extra={"9000_concurrency_probe.sql": SLOW_PROBE})
    files = load_migrations(directory)
    dsn = setup_db.dsn_as(MIGRATOR)
    args = ("migrate", "--dsn", dsn, "--migrations-dir", str(directory))
    procs = [cli_popen(*args), cli_popen(*args)]  # started back to back: both race for the lock
    results = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, (out, err)
        assert "UniqueViolation" not in err and "duplicate key" not in err and "already exists" not in err
    outs = [out for out, _ in results]
    # One applied everything, the other waited for the lock and then found nothing to do: proof
    # that they really overlapped (the probe sleeps 2.5 s inside its transaction).
    assert sorted("applied " in o for o in outs) == [False, True], outs
    assert any("waiting" in o and "database is up to date" in o for o in outs), outs
    history = setup_db.history()
    assert history == [(m.version, m.checksum) for m in files]


def _migrator_backend(db: SetUpDB) -> tuple[int, str | None] | None:
    with db.admin() as conn:
        row = conn.execute(
            "SELECT pid, wait_event FROM pg_stat_activity WHERE datname = current_database()"
            " AND usename = %s AND application_name = 'pgconsole-migrator'",
            (MIGRATOR,),
        ).fetchone()
    return None if row is None else (row[0], row[1])


def test_sigkill_mid_migration_leaves_schema_and_history_in_agreement(
    setup_db: SetUpDB, tmp_path: Path
) -> None:
    directory = copy_migrations(tmp_path / "m", only=["0001_tables.sql"], extra={"0002_kill_me.sql": KILL_ME})
    dsn = setup_db.dsn_as(MIGRATOR)
    args = ("migrate", "--dsn", dsn, "--migrations-dir", str(directory))
    proc = cli_popen(*args)
    try:
        # Kill the client while its backend sleeps inside 0002's transaction, after the DDL.
        wait_until(
            lambda: (b := _migrator_backend(setup_db)) is not None and b[1] == "PgSleep",
            timeout=30,
            what="the migrator to reach pg_sleep",
        )
        backend = _migrator_backend(setup_db)
        assert backend is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # The server ends the orphaned backend (client_connection_check_interval=1s for the migrator
    # role on PG14+); until then its transaction is merely open, never committed.
    wait_until(lambda: _migrator_backend(setup_db) is None, timeout=15, what="the backend to end")

    assert setup_db.scalar("SELECT to_regclass('pgconsole.half_done')") is None
    assert setup_db.scalar("SELECT to_regclass('pgconsole.half_done_idx')") is None
    assert setup_db.scalar("SELECT count(*) FROM pgconsole.settings WHERE key = 'test.half_done'") == 0
    assert [v for v, _ in setup_db.history()] == [1]
    # The advisory lock died with the session, so the rerun does not wait for it.
    rerun = cli(*args, env={"PGOPTIONS": "-c pgctest.sleep=0"})
    assert rerun.returncode == 0, rerun.stderr
    assert "waiting" not in rerun.stdout
    assert [v for v, _ in setup_db.history()] == [1, 2]
    assert setup_db.scalar("SELECT to_regclass('pgconsole.half_done')::text") == "pgconsole.half_done"


def test_migrator_role_has_client_connection_check(setup_db: SetUpDB) -> None:
    """What makes the killed migrator's backend go away within a second (PG14+)."""
    import psycopg

    with psycopg.connect(setup_db.dsn_as(MIGRATOR)) as conn:
        value = conn.execute("SELECT current_setting('client_connection_check_interval', true)").fetchone()
    assert setup_db.cluster.major < 14 or value == ("1s",)


def test_backend_terminated_mid_migration_exits_connect_code_and_rolls_back(
    setup_db: SetUpDB, tmp_path: Path
) -> None:
    """The other side of F6: the server ends the session (failover, pg_terminate_backend)."""
    from pgconsole.schema.migrator import EXIT_CONNECT

    directory = copy_migrations(tmp_path / "m", only=["0001_tables.sql"], extra={"0002_kill_me.sql": KILL_ME})
    proc = cli_popen("migrate", "--dsn", setup_db.dsn_as(MIGRATOR), "--migrations-dir", str(directory))
    try:
        wait_until(
            lambda: (b := _migrator_backend(setup_db)) is not None and b[1] == "PgSleep",
            timeout=30,
            what="the migrator to reach pg_sleep",
        )
        backend = _migrator_backend(setup_db)
        assert backend is not None
        assert setup_db.scalar("SELECT pg_terminate_backend(%s)", (backend[0],)) is True
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_CONNECT, (out, err)
    assert "0002_kill_me.sql: connection lost" in err and len(err.splitlines()) == 1
    assert setup_db.scalar("SELECT to_regclass('pgconsole.half_done')") is None
    assert [v for v, _ in setup_db.history()] == [1]
