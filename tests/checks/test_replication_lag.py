"""replication_lag from a real standby: pg_basebackup of the test cluster, replay paused, then resumed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from pgconsole.embedded import EmbeddedServer
from tests.checks.helpers import eventually, status_of
from tests.pgcluster import SUPERUSER_PASSWORD, TEST_SETTINGS, Cluster, make_data_parent

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def standby(pg: Cluster, db) -> Iterator[EmbeddedServer]:
    parent = make_data_parent()
    data = parent / "data"
    conninfo = f"host=127.0.0.1 port={pg.info.port} user=postgres password={SUPERUSER_PASSWORD}"
    server = EmbeddedServer(
        data,
        pg_bin=pg.server.bin_dir,
        password=SUPERUSER_PASSWORD,
        host_auth="scram-sha-256",
        extra_settings={
            **TEST_SETTINGS,
            "primary_conninfo": f"'{conninfo} application_name=standby1'",
            "hot_standby": "on",
        },
    )
    import os
    import shutil

    data.mkdir(mode=0o700)
    if server.os_user:
        shutil.chown(data, server.os_user, server.os_user)
    if server.os_user and pg.server.state_path.exists():
        # the harness's state file is root's and private; the walsender must be able to read it
        shutil.chown(pg.server.state_path, server.os_user, server.os_user)
    server._cmd("pg_basebackup", "-D", str(data), "-d", conninfo, "-X", "stream", "-c", "fast", timeout=120)
    (data / "standby.signal").touch()
    (data / "pgconsole-embedded.json").unlink(missing_ok=True)  # the primary's port and state
    if server.os_user:
        shutil.chown(data / "standby.signal", server.os_user, server.os_user)
    os.chmod(data, 0o700)
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        try:
            server.stop(mode="immediate")
        finally:
            shutil.rmtree(parent, ignore_errors=True)


def _lsn(conn: psycopg.Connection, q: str) -> str:
    return conn.execute(q).fetchone()[0]


def test_replication_lag_on_paused_standby(pg, db, standby, capsys):
    assert standby.info is not None
    standby_dsn = standby.info.dsn(db.name, "pgconsole_readonly", "pw-pgconsole_readonly-x9")
    with db.admin() as primary, psycopg.connect(standby.info.superuser_dsn(db.name), autocommit=True) as sb:
        primary.execute("SET synchronous_commit = on")  # the test cluster runs with it off: flush each commit
        primary.execute("CREATE TABLE ticks (at timestamptz DEFAULT now())")
        primary.execute("INSERT INTO ticks DEFAULT VALUES")
        target = _lsn(primary, "SELECT pg_current_wal_flush_lsn()::text")
        assert eventually(
            lambda: sb.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0], bool
        )
        sets = ("replication_lag.warn=1s", "replication_lag.crit=1h")
        assert status_of(capsys, standby_dsn, "replication_lag", *sets)["status"] == "OK"
        # The primary sees its standby streaming.
        r = eventually(
            lambda: status_of(capsys, db.dsn_as("pgconsole_readonly"), "replication_lag"),
            lambda r: "1 standby" in r["message"],
        )
        assert r["status"] == "OK" and "1 standby" in r["message"], r

        sb.execute("SELECT pg_wal_replay_pause()")
        assert (
            eventually(
                lambda: sb.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0],
                lambda s: s == "paused",
            )
            == "paused"
        )
        time.sleep(1.5)  # the last replayed commit becomes older than the 1 s threshold
        primary.execute("INSERT INTO ticks DEFAULT VALUES")
        target = _lsn(primary, "SELECT pg_current_wal_flush_lsn()::text")
        assert eventually(
            lambda: sb.execute("SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn", (target,)).fetchone()[0],
            bool,
        )
        r = status_of(capsys, standby_dsn, "replication_lag", *sets)
        assert r["status"] == "WARNING", r
        assert "paused" in r["message"]
        assert r["perfdata"]["replay_delay"]["value"] >= 1.5

        sb.execute("SELECT pg_wal_replay_resume()")
        r = eventually(
            lambda: status_of(capsys, standby_dsn, "replication_lag", *sets), lambda r: r["status"] == "OK"
        )
        assert r["status"] == "OK", r
