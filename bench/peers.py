"""The two reference sides of the queue benchmarks, written here so they are the same every run.

* ``bare``: a bare SQL ``FOR UPDATE SKIP LOCKED`` loop (psycopg, sync, autocommit) over a
  minimal table shaped like shared/anchors/perf.md §3.1 (partial claim index on queued rows,
  rows kept and marked done). It is the ceiling for a Python client: no runtime, no lease
  bookkeeping beyond one timestamp, no heartbeats.
* ``pgqueuer``: PgQueuer through its public Python API (``Queries`` for install and enqueue,
  ``QueueManager`` + ``PsycopgDriver`` for workers), psycopg driver, its default schema.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg

from bench.common import Skipped, add_count

# -- bare SKIP LOCKED loop ----------------------------------------------------------------------
BARE_DB = "bench_bare"

BARE_DDL = """
DROP SCHEMA IF EXISTS bare CASCADE;
CREATE SCHEMA bare;
CREATE TABLE bare.jobs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status       text        NOT NULL DEFAULT 'queued',
  priority     smallint    NOT NULL DEFAULT 0,
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  attempts     int         NOT NULL DEFAULT 0,
  locked_by    text,
  locked_at    timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  payload      jsonb       NOT NULL DEFAULT '{}'
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02);
CREATE INDEX jobs_claim ON bare.jobs (priority DESC, scheduled_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running ON bare.jobs (locked_at) WHERE status = 'running';
"""

BARE_CLAIM = """
UPDATE bare.jobs SET status = 'running', locked_by = %s, locked_at = now(), attempts = attempts + 1
 WHERE id IN (SELECT id FROM bare.jobs WHERE status = 'queued'
               ORDER BY priority DESC, scheduled_at, id LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING id, payload
"""
BARE_FINISH = "UPDATE bare.jobs SET status = 'done' WHERE id = ANY(%s) AND status = 'running'"
BARE_REMAINING = "SELECT count(*) FROM bare.jobs WHERE status IN ('queued', 'running')"


def bare_setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BARE_DDL)


def bare_fill(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE bare.jobs RESTART IDENTITY")
        conn.execute(
            "INSERT INTO bare.jobs (payload) SELECT jsonb_build_object('i', g) FROM generate_series(1, %s) g",
            (n,),
        )
        conn.execute("VACUUM ANALYZE bare.jobs")


def bare_remaining(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(BARE_REMAINING).fetchone()
    return int(row[0]) if row else -1


def bare_worker(
    dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    """One worker process: claim ``batch``, run a no-op per job, mark them done; until empty."""
    import os

    with psycopg.connect(dsn, autocommit=True, application_name="bench-bare") as conn:
        me = f"bare:{os.getpid()}"
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + max_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            rows = conn.execute(BARE_CLAIM, (me, batch)).fetchall()
            if not rows:
                break
            ids = []
            for job_id, payload in rows:
                _ = payload  # the no-op handler
                ids.append(job_id)
            conn.execute(BARE_FINISH, (ids,))
            add_count(counter, len(ids))


# -- PgQueuer ------------------------------------------------------------------------------------
PGQ_DB = "bench_pgqueuer"
PGQ_ENTRYPOINT = "noop"


def pgqueuer_available() -> str | None:
    try:
        import pgqueuer

        return str(getattr(pgqueuer, "__version__", "?"))
    except ImportError:
        return None


def _require_pgqueuer() -> None:
    if pgqueuer_available() is None:
        raise Skipped("PgQueuer is not installed (pip install -e '.[bench]')")


async def _pgq_queries(dsn: str) -> tuple[Any, Any]:
    from pgqueuer import Queries

    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    return conn, Queries.from_psycopg_connection(conn)


def pgq_setup(dsn: str) -> None:
    _require_pgqueuer()

    async def main() -> None:
        conn, q = await _pgq_queries(dsn)
        try:
            await q.install()
        finally:
            await conn.close()

    asyncio.run(main())


def pgq_truncate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")


async def pgq_enqueue_batches(q: Any, n: int, chunk: int, start: int = 0) -> None:
    """Enqueue ``n`` jobs through PgQueuer's batch form of ``Queries.enqueue`` (lists)."""
    done = 0
    while done < n:
        k = min(chunk, n - done)
        payloads = [json.dumps({"i": start + done + i}).encode() for i in range(k)]
        await q.enqueue([PGQ_ENTRYPOINT] * k, payloads, [0] * k)
        done += k


def pgq_fill(dsn: str, n: int, chunk: int = 10_000) -> None:
    _require_pgqueuer()
    pgq_truncate(dsn)

    async def main() -> None:
        conn, q = await _pgq_queries(dsn)
        try:
            await pgq_enqueue_batches(q, n, chunk)
        finally:
            await conn.close()

    asyncio.run(main())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE pgqueuer")


def pgq_remaining(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pgqueuer").fetchone()
    return int(row[0]) if row else -1


def pgq_worker(
    dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any
) -> None:
    """One PgQueuer worker process in drain mode with a no-op async entrypoint."""
    from datetime import timedelta

    from pgqueuer import Queries, QueueManager
    from pgqueuer.domain.types import QueueExecutionMode

    async def main() -> None:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, application_name="bench-pgqueuer")
        qm = QueueManager(Queries.from_psycopg_connection(conn))

        @qm.entrypoint(PGQ_ENTRYPOINT)
        async def noop(job: Any) -> None:
            add_count(counter, 1)  # a lock-free write to this process's slot

        async def watch_stop() -> None:
            deadline = time.monotonic() + max_seconds
            while not stop.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            qm.shutdown.set()

        add_count(ready, 1)
        await asyncio.get_running_loop().run_in_executor(None, go.wait, 120)
        watcher = asyncio.create_task(watch_stop())
        try:
            await qm.run(
                batch_size=batch,
                mode=QueueExecutionMode.drain,
                dequeue_timeout=timedelta(seconds=1),
            )
        finally:
            watcher.cancel()
            await conn.close()

    asyncio.run(main())
