"""pgconsole's side of the queue benchmarks, through its public Python API only.

The queue API (``pgconsole.queue``) is built by the queue issue; until it exists every pgconsole
side reports Skipped with the reason, and the doc says so. No numbers are made up.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

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
    from pgconsole.schema import migrator as migrate
    from pgconsole.schema.setup import run_setup

    with psycopg.connect(dsn, autocommit=True) as conn:
        run_setup(conn)
        migrate.apply(conn)
        has_jobs = conn.execute("SELECT to_regclass('pgconsole.jobs') IS NOT NULL").fetchone()
    if not has_jobs or not has_jobs[0]:
        raise Skipped("pgconsole.jobs does not exist after migrate (the queue migration has not landed)")


def setup(dsn: str) -> None:
    queue_api()
    try:
        from pgconsole.queue import client, worker  # noqa: F401
    except ImportError as e:
        raise Skipped(f"pgconsole.queue.client/worker missing: {e}") from e
    install_schema(dsn)


def new_database(admin_dsn: str, name: str) -> str:
    """A new database on the server with pgconsole set up and pg_stat_statements created; its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    setup(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return dsn


def enqueue_many(conn: psycopg.Connection[Any], n: int, chunk: int = 10_000, start: int = 0) -> None:
    """n no-op jobs through the public Python API (``client.enqueue_many``: one call per chunk, COPY from 500)."""
    from pgconsole.queue import client

    done = 0
    while done < n:
        k = min(chunk, n - done)
        client.enqueue_many(conn, [("noop", {"i": start + done + i}) for i in range(k)])
        done += k


def fill(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        enqueue_many(conn, n)
        conn.execute("VACUUM ANALYZE pgconsole.jobs")


def remaining(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pgconsole.jobs WHERE status IN ('pending', 'processing')"
        ).fetchone()
    return int(row[0]) if row else -1


CONCURRENCY = 4  # handler threads per worker process (pgconsole's default)


def worker(dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    """One pgconsole worker process (the runtime behind ``pgconsole worker``), burst mode, a handler
    that reads the job's id and payload and does nothing else."""
    _run_worker(dsn, batch, max_seconds, go, stop, counter, ready)


def _run_worker(
    dsn: str,
    batch: int,
    max_seconds: float,
    go: Any,
    stop: Any,
    counter: Any,
    ready: Any,
    job_types: list[str] | None = None,
    on_job: Any = None,
) -> None:
    import threading
    import time

    from bench.common import add_count
    from pgconsole.queue.worker import Worker, WorkerConfig

    lock = threading.Lock()
    local = [0]
    flush_every = 1  # a lock-free write per job: the parent reads progress for the steady-state rate

    def handle(ctx: Any) -> None:
        # Read the job's id and payload: JobContext makes them only when read, and the bare loop's
        # psycopg parses every payload it fetches; a handler that never looks at its job would
        # flatter the worker (bench.client_cpu --handler reads vs noop).
        ctx.id, ctx.payload  # noqa: B018
        if on_job is not None:
            on_job(ctx)
        with lock:
            local[0] += 1
            if local[0] >= flush_every:
                add_count(counter, local[0])
                local[0] = 0

    w = Worker(
        WorkerConfig(
            dsn=dsn,
            handler=handle,
            concurrency=CONCURRENCY,
            batch=batch,
            burst=on_job is None,
            job_types=job_types,
        )
    )
    # connect before 'go' so connection set-up is not timed (as for the other systems)
    w._main_conn()
    add_count(ready, 1)
    go.wait(120)
    deadline = time.monotonic() + max_seconds

    done = threading.Event()

    def watch() -> None:
        while not stop.is_set() and not done.is_set() and time.monotonic() < deadline:
            done.wait(0.05)
        w.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        w.run()
    finally:
        done.set()
        watcher.join(5)
        with lock:
            add_count(counter, local[0])
            local[0] = 0


# -- pgconsole's SQL API driven by the same bare loop (no Python runtime) ----------------------
# Separates the cost of the schema + claim/complete functions from the cost of the worker runtime:
# pgconsole-sql / bare = what the SQL API costs; pgconsole / pgconsole-sql = what the runtime costs.
PGC_SQL_DB = "bench_pgconsole_sql"
SQL_CLAIM = "SELECT id, attempt, payload FROM pgconsole.claim_jobs(%s, %s)"
SQL_COMPLETE = "SELECT count(*) FROM pgconsole.complete_jobs(%s, %s, %s)"


def sql_setup(dsn: str) -> None:
    install_schema(dsn)


def sql_fill(dsn: str, n: int) -> None:
    """The same pre-enqueue as the worker side (enqueue_many), so both drain identical rows."""
    fill(dsn, n)


def sql_worker(
    dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    import os
    import time

    from bench.common import add_count

    with psycopg.connect(dsn, autocommit=True, application_name="bench-pgconsole-sql") as conn:
        me = f"bench-sql-{os.getpid()}"
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + max_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            rows = conn.execute(SQL_CLAIM, (me, batch)).fetchall()
            if not rows:
                break
            ids = [r[0] for r in rows]
            attempts = [r[1] for r in rows]
            conn.execute(SQL_COMPLETE, (me, ids, attempts)).fetchone()
            add_count(counter, len(ids))


# -- variants used by the latency and dashboard benchmarks --------------------------------------
def fill_sql(dsn: str, n: int) -> None:
    """Replace the queue with n pending no-op jobs in one generate_series INSERT (fast set-up for
    diagnostics that do not measure enqueue), then VACUUM ANALYZE."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'noop', jsonb_build_object('i', g)"
            " FROM generate_series(1, %s) g",
            (n,),
        )
        conn.execute("VACUUM ANALYZE pgconsole.jobs")


def fill_typed(dsn: str, n: int, job_type: str = "noop") -> None:
    """Add n pending jobs of one type without touching the rest of the table (history stays)."""
    from pgconsole.queue import client

    with psycopg.connect(dsn, autocommit=True) as conn:
        done = 0
        while done < n:
            k = min(10_000, n - done)
            client.enqueue_many(conn, [(job_type, {"i": done + i}) for i in range(k)])
            done += k


def remaining_typed(dsn: str, job_type: str = "noop") -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pgconsole.jobs WHERE status IN ('pending', 'processing') AND job_type = %s",
            (job_type,),
        ).fetchone()
    return int(row[0]) if row else -1


def worker_typed(
    dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    """As :func:`worker`, claiming only job type 'noop' (leaves a big history's pending rows alone)."""
    _run_worker(dsn, batch, max_seconds, go, stop, counter, ready, job_types=["noop"])


def latency_worker(
    dsn: str, out_path: str, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    """A worker whose handler records now - payload['t'] (enqueue-to-start) and writes them at exit."""
    import json as _json
    import time as _time

    lat: list[float] = []

    def on_job(ctx: Any) -> None:
        t = ctx.job.payload.get("t") if isinstance(ctx.job.payload, dict) else None
        if t is not None:
            lat.append(_time.time() - float(t))

    try:
        _run_worker(dsn, 10, max_seconds, go, stop, counter, ready, on_job=on_job)
    finally:
        with open(out_path, "w") as fh:
            _json.dump(lat, fh)


# -- diagnostic: the bare loop's two statements written directly against pgconsole.jobs --------
# (no plpgsql functions; triggers as installed). Used to attribute the SQL loop's cost between
# the table + its triggers and the function layer. Not part of the default throughput grid.
TABLE_CLAIM = """
UPDATE pgconsole.jobs j
   SET status = 'processing', attempt = j.attempt + 1, locked_by = %s, started_at = now(),
       heartbeat_at = now(), lease_expires_at = now() + interval '60 seconds', updated_at = now()
 WHERE j.id = ANY (ARRAY(SELECT id FROM pgconsole.jobs WHERE status = 'pending' AND scheduled_at <= now()
                    ORDER BY priority DESC, scheduled_at LIMIT %s FOR UPDATE SKIP LOCKED))
RETURNING j.id, j.attempt, j.payload
"""
TABLE_COMPLETE = """
UPDATE pgconsole.jobs j SET status = 'completed', completed_at = now(), updated_at = now(),
       progress_percent = 100, lease_expires_at = NULL
  FROM unnest(%s::uuid[], %s::int[]) AS u(i, a)
 WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = %s
"""


def table_worker(
    dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    import os
    import time

    from bench.common import add_count

    with psycopg.connect(dsn, autocommit=True, application_name="bench-pgconsole-table") as conn:
        me = f"bench-table-{os.getpid()}"
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + max_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            rows = conn.execute(TABLE_CLAIM, (me, batch)).fetchall()
            if not rows:
                break
            conn.execute(TABLE_COMPLETE, ([r[0] for r in rows], [r[1] for r in rows], me))
            add_count(counter, len(rows))
