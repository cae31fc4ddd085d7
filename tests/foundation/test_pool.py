"""Done-when: terminating every backend of a pool, or restarting the server, while the pool is open
costs zero failed requests on the next use (reliability.md F2/F3: `check=` on the pool)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from pgconsole.db import Purpose
from pgconsole.db.connect import make_async_pool, make_pool
from tests.foundation.helpers import SetUpDB, set_up_database, wait_until
from tests.pgcluster import Cluster, available_servers, start_cluster

# Six dead connections: psycopg_pool's own check= loop sleeps 0+1+2+4+8 s between candidates and
# gives up at the pool timeout (10 s) before the sixth; make_pool's sweep must not (measured here:
# a bare ConnectionPool(check=check_connection) raised PoolTimeout after 10.0 s).
POOL_SIZE = 6
REQUESTS = 2 * POOL_SIZE


def _backend_pids(db: SetUpDB, app_name: str) -> set[int]:
    with db.admin() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app_name,)
        ).fetchall()
    return {r[0] for r in rows}


def _terminate(db: SetUpDB, app_name: str) -> int:
    with db.admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app_name,)
        ).fetchall()
    return sum(1 for r in rows if r[0])


def _request(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_terminated_backends_cost_no_failed_request(setup_db: SetUpDB) -> None:
    suffix = uuid.uuid4().hex[:8]
    app_name = f"pgconsole-operator:{suffix}"
    with make_pool(
        setup_db.dsn_as("pgconsole_app"),
        Purpose.OPERATOR,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        app_suffix=suffix,
    ) as pool:
        pool.wait(timeout=10)
        before = _backend_pids(setup_db, app_name)
        assert len(before) == POOL_SIZE
        assert _terminate(setup_db, app_name) == POOL_SIZE
        wait_until(
            lambda: not _backend_pids(setup_db, app_name) & before, timeout=10, what="backends to exit"
        )
        served = [_request(pool) for _ in range(REQUESTS)]  # raises on the first failed request
        assert not set(served) & before  # really new sessions, not the terminated ones
        assert pool.get_stats().get("connections_lost", 0) >= 1  # the check caught the dead ones


async def test_async_pool_survives_terminated_backends(setup_db: SetUpDB) -> None:
    suffix = uuid.uuid4().hex[:8]
    app_name = f"pgconsole:{suffix}"
    pool = make_async_pool(
        setup_db.dsn_as("pgconsole_app"),
        Purpose.DASHBOARD,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        app_suffix=suffix,
    )
    await pool.open(wait=True, timeout=10)
    try:
        before = _backend_pids(setup_db, app_name)
        assert _terminate(setup_db, app_name) == POOL_SIZE
        wait_until(
            lambda: not _backend_pids(setup_db, app_name) & before, timeout=10, what="backends to exit"
        )
        for _ in range(REQUESTS):
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT current_setting('statement_timeout')")
                assert await cur.fetchone() == ("5s",)  # configure= ran on the new connections
    finally:
        await pool.close()


@pytest.fixture(scope="module", params=available_servers())
def own_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A cluster of our own: restarting the shared one would disturb every other test."""
    cluster = start_cluster(request.param)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_server_restart_costs_no_failed_request_after_it_is_back(own_cluster: Cluster) -> None:
    db = set_up_database(own_cluster)
    suffix = uuid.uuid4().hex[:8]
    with make_pool(
        db.dsn_as("pgconsole_app"), Purpose.WORKER, min_size=POOL_SIZE, max_size=POOL_SIZE, app_suffix=suffix
    ) as pool:
        pool.wait(timeout=10)
        before = {_request(pool) for _ in range(REQUESTS)}
        for _round in range(2):  # twice in a row: the reconnect path must itself survive (pg_activity#367)
            own_cluster.server.restart()  # pg_ctl restart -w: returns when the server accepts connections
            served = {_request(pool) for _ in range(REQUESTS)}
            assert not served & before
            before = served
        with pool.connection() as conn:
            row = conn.execute("SELECT current_setting('application_name')").fetchone()
        assert row == (f"pgconsole-worker:{suffix}",)
    # Control: without check= the same restart does cost failed requests, so the test can fail.
    with ConnectionPool(
        db.dsn_as("pgconsole_app"), min_size=POOL_SIZE, max_size=POOL_SIZE, open=True
    ) as bare:
        bare.wait(timeout=10)
        own_cluster.server.restart()
        with pytest.raises(psycopg.OperationalError), bare.connection() as conn:
            conn.execute("SELECT 1")
