"""Server CPU per one-row enqueue: client.enqueue vs a plain INSERT, and what the INSERT's own
parts cost.

    .venv/bin/python -m bench.enqueue_cost                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.enqueue_cost --dsn URI       # a superuser DSN of a scratch server on this machine

Why: a one-row enqueue is one statement and one commit, so what the server spends on it bounds
the rate of many producers on a small box, and the producer's Python cannot be told from the
server's work in a rate. This reads the backend's own CPU (user + system from /proc/<pid>/stat,
so the server must run on this machine) over ``--jobs`` enqueues, one autocommit connection,
prepared statements, ``synchronous_commit = off`` (the WAL flush waits are no CPU), sides
alternating, ``--repeat`` times, the table emptied before each:

* ``enqueue``: ``client.enqueue(conn, "noop", {"i": n})``, the producers' call;
* ``enqueue-app``: the same as pgconsole_app (``SET ROLE``: the producers' role, whose INSERT
  fires the jobs_guard_insert trigger);
* ``insert``: ``INSERT INTO pgconsole.jobs (job_type, payload) VALUES (%s, %s) RETURNING id``;
* ``insert-sql-uuid``: the same INSERT with the id default a SQL function pinning search_path,
  as ``uuid_generate_v7()`` was before migration 0012 (PostgreSQL before 18 plans it at each call);
* ``insert-no-doorbell``: the INSERT with the statement doorbell (``jobs_notify_insert``) off.

Reported: backend CPU in microseconds per job, median (min–max), and its ratio to ``insert``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import psycopg

from bench import pgc
from bench.common import chosen_sides, print_cost_table, scratch_database
from bench.row_cost import backend_cpu_s

SIDES = ["enqueue", "enqueue-app", "insert", "insert-sql-uuid", "insert-no-doorbell"]
INSERT = "INSERT INTO pgconsole.jobs (job_type, payload) VALUES (%s, %s::jsonb) RETURNING id"
# uuid_generate_v7() as 0001 defined it: a SQL function that cannot be inlined (it pins search_path).
SQL_UUID = """CREATE OR REPLACE FUNCTION public.bench_uuid_sql() RETURNS uuid
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.encode(pg_catalog.set_bit(pg_catalog.set_bit(overlay(
           pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
           PLACING substring(pg_catalog.int8send(
             pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000)::bigint) FROM 3)
           FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$"""


def _setup(conn: psycopg.Connection[Any], side: str) -> None:
    sql_uuid = side == "insert-sql-uuid"
    conn.execute(
        "ALTER TABLE pgconsole.jobs ALTER COLUMN id SET DEFAULT "
        + ("public.bench_uuid_sql()" if sql_uuid else "pgconsole.uuid_generate_v7()")
    )
    conn.execute(
        "ALTER TABLE pgconsole.jobs "
        + ("DISABLE" if side == "insert-no-doorbell" else "ENABLE")
        + " TRIGGER jobs_notify_insert"
    )
    conn.execute("TRUNCATE pgconsole.jobs")


def _call(conn: psycopg.Connection[Any], side: str) -> Callable[[int], Any]:
    if side.startswith("enqueue"):
        from pgconsole.queue import client

        return lambda i: client.enqueue(conn, "noop", {"i": i})
    return lambda i: conn.execute(INSERT, ("noop", json.dumps({"i": i})), prepare=True).fetchone()


def measure_side(dsn: str, side: str, jobs: int) -> float:
    """Backend CPU microseconds per job of ``jobs`` one-row enqueues."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        _setup(admin, side)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        if side == "enqueue-app":
            conn.execute("SET ROLE pgconsole_app")
        call = _call(conn, side)
        for i in range(50):  # prepared and warm before the count
            call(-i)
        pid = conn.info.backend_pid
        before = backend_cpu_s(pid)
        for i in range(jobs):
            call(i)
        after = backend_cpu_s(pid)
        conn.execute("RESET ROLE")
        row = conn.execute("SELECT count(*) FROM pgconsole.jobs").fetchone()
    if not row or row[0] != jobs + 50:
        raise RuntimeError(f"{side}: {row[0] if row else 0} jobs enqueued, not {jobs + 50}")
    return (after - before) / jobs * 1e6


def measure(dsn: str, sides: list[str], jobs: int, repeat: int) -> dict[str, list[float]]:
    pgc.install_schema(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL_UUID)
    res: dict[str, list[float]] = {s: [] for s in sides}
    try:
        for r in range(repeat):
            for side in sides if r % 2 == 0 else sides[::-1]:
                res[side].append(measure_side(dsn, side, jobs))
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _setup(conn, "insert")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a scratch server on this machine (default: embedded 18)")
    ap.add_argument("--jobs", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, from {','.join(SIDES)}")
    args = ap.parse_args()
    sides = chosen_sides(ap, args.sides, SIDES)
    with scratch_database(args.dsn, "bench_enqueue_cost") as (dsn, server):
        res = measure(dsn, sides, args.jobs, args.repeat)
    print_cost_table(res, "insert", f"{server}: backend CPU per one-row enqueue")


if __name__ == "__main__":
    main()
