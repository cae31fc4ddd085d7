"""pgconsole's side of the queue benchmarks, through its public Python API only.

The queue API (``pgconsole.queue``) is built by the queue issue; until it exists every pgconsole
side reports Skipped with the reason, and the doc says so. No numbers are made up.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bench.common import Skipped

PGC_DB = "bench_pgconsole"


def queue_api() -> Any:
    try:
        import pgconsole.queue as q
    except ImportError as e:
        raise Skipped(f"pgconsole.queue is not importable yet ({e})") from e
    return q


def install_schema(dsn: str) -> None:
    """pgconsole setup + migrate as superuser (the benchmark's own throwaway database)."""
    from pgconsole.schema import migrate
    from pgconsole.schema.setup import run_setup

    with psycopg.connect(dsn, autocommit=True) as conn:
        run_setup(conn)
        migrate.apply(conn)
        has_jobs = conn.execute("SELECT to_regclass('pgconsole.jobs') IS NOT NULL").fetchone()
    if not has_jobs or not has_jobs[0]:
        raise Skipped("pgconsole.jobs does not exist after migrate (the queue migration has not landed)")


def setup(dsn: str) -> None:
    queue_api()
    install_schema(dsn)
    raise Skipped("the pgconsole worker/enqueue API has not landed yet")


def fill(dsn: str, n: int) -> None:
    raise Skipped("pgconsole queue API missing")


def remaining(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pgconsole.jobs WHERE status IN ('pending', 'processing')"
        ).fetchone()
    return int(row[0]) if row else -1


def worker(dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    raise Skipped("pgconsole worker runtime missing")


# -- pgconsole's SQL API driven by the same bare loop (no Python runtime) ----------------------
# Separates the cost of the schema + claim/complete functions from the cost of the worker runtime:
# pgconsole-sql / bare = what the SQL API costs; pgconsole / pgconsole-sql = what the runtime costs.
PGC_SQL_DB = "bench_pgconsole_sql"
SQL_CLAIM = "SELECT id, attempt, payload FROM pgconsole.claim_jobs(%s, %s)"
SQL_COMPLETE = "SELECT count(*) FROM pgconsole.complete_jobs(%s, %s, %s)"


def sql_setup(dsn: str) -> None:
    install_schema(dsn)


def sql_fill(dsn: str, n: int) -> None:
    """Pre-enqueue n jobs with one INSERT … SELECT (a plain INSERT is a valid enqueue by contract)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) "
            "SELECT 'noop', jsonb_build_object('i', g) FROM generate_series(1, %s) g", (n,)
        )
        conn.execute("VACUUM ANALYZE pgconsole.jobs")


def sql_worker(dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    import os
    import time

    from bench.common import add_count

    with psycopg.connect(dsn, autocommit=True, application_name="bench-pgconsole-sql") as conn:
        me = f"bench-sql-{os.getpid()}"
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + max_seconds
        handled = 0
        while not stop.is_set() and time.monotonic() < deadline:
            rows = conn.execute(SQL_CLAIM, (me, batch)).fetchall()
            if not rows:
                break
            ids = [r[0] for r in rows]
            attempts = [r[1] for r in rows]
            conn.execute(SQL_COMPLETE, (me, ids, attempts)).fetchone()
            handled += len(ids)
            if handled >= 1000:
                add_count(counter, handled)
                handled = 0
        add_count(counter, handled)
