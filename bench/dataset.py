"""A large job history in pgconsole.jobs, built once per server and reused by the benchmarks
that need it (check latency, dashboard cost): N finished jobs (90 % completed, 8 % failed,
2 % cancelled) spread over 30 days, plus a pending backlog, built with one INSERT … SELECT
generate_series each, then VACUUM ANALYZE so the visibility map and statistics are current.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Env, Skipped

HISTORY_DB = "bench_history"

FINISHED_SQL = """
INSERT INTO pgconsole.jobs (job_type, status, payload, attempt, scheduled_at, started_at, completed_at,
                            created_at, updated_at, error_message)
SELECT 'type_' || (g %% 8),
       CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' ELSE 'completed' END,
       jsonb_build_object('i', g),
       1,
       t, t, t + interval '20 ms', t, t + interval '20 ms',
       CASE WHEN g %% 12 = 0 AND g %% 50 <> 0 THEN 'boom' END
  FROM (SELECT g, now() - (g %% 2592000) * interval '1 second' AS t
          FROM generate_series(1, %(n)s) g) s
"""
PENDING_SQL = """
INSERT INTO pgconsole.jobs (job_type, payload)
SELECT 'type_' || (g %% 8), jsonb_build_object('i', g) FROM generate_series(1, %(n)s) g
"""


def ensure_history(env: Env, finished: int, pending: int) -> dict[str, Any]:
    """Create (or reuse, when the sizes match) the history database; return its DSN and build time."""
    from bench.pgc import install_schema

    if env.database_exists(HISTORY_DB):
        with env.admin(HISTORY_DB) as conn:
            row = conn.execute(
                "SELECT finished, pending, build_seconds FROM public.bench_meta LIMIT 1"
                if conn.execute("SELECT to_regclass('public.bench_meta')").fetchone() != (None,)
                else "SELECT NULL, NULL, NULL"
            ).fetchone()
        if row and row[0] == finished and row[1] == pending:
            return {
                "dsn": env.dsn(HISTORY_DB),
                "finished": finished,
                "pending": pending,
                "build_seconds": row[2],
                "reused": True,
            }
    dsn = env.fresh_database(HISTORY_DB)
    try:
        install_schema(dsn)
    except Skipped:
        raise
    except Exception as e:
        raise Skipped(
            f"pgconsole schema does not install yet: {type(e).__name__}: {str(e).splitlines()[0]}"
        ) from e
    t0 = time.perf_counter()
    with env.admin(HISTORY_DB) as conn:
        # The doorbell trigger aggregates the whole transition table: off while bulk loading.
        conn.execute("ALTER TABLE pgconsole.jobs DISABLE TRIGGER USER")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(FINISHED_SQL, {"n": finished})
        conn.execute(PENDING_SQL, {"n": pending})
        conn.execute("ALTER TABLE pgconsole.jobs ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE pgconsole.jobs DISABLE TRIGGER jobs_notify_row")  # its shipped default
        conn.execute("VACUUM ANALYZE pgconsole.jobs")
        build = time.perf_counter() - t0
        conn.execute("CREATE TABLE public.bench_meta (finished bigint, pending bigint, build_seconds float8)")
        conn.execute("INSERT INTO public.bench_meta VALUES (%s, %s, %s)", (finished, pending, build))
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('pgconsole.jobs'))").fetchone()
    return {
        "dsn": dsn,
        "finished": finished,
        "pending": pending,
        "build_seconds": build,
        "total_relation_size": size[0] if size else None,
        "reused": False,
    }
