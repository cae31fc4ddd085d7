"""How often the statements inside the worker's claim call are planned, and what that costs.

    .venv/bin/python -m bench.claim_plans                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.claim_plans --dsn URI       # a superuser DSN of a scratch server

Why (migration 0008): PL/pgSQL caches each statement's plan, but the plan cache re-plans a
statement on every call while it judges a custom plan cheaper than the generic one. This drains
``--jobs`` pending jobs through ``complete_and_claim_jobs`` at batch 10 from one session with
pg_stat_statements tracking nested statements and planning (``track = all``,
``track_planning = on``; both superuser-settable per session), then prints, per statement inside
the function: calls, plans, planning ms per plan and execution ms per call — first with the
migrations before 0008 applied, then after applying 0008 to the same database.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import psycopg

from bench import pgc
from bench.common import embedded_server

STATS_SQL = """
SELECT calls, plans, round((total_plan_time / greatest(plans, 1))::numeric, 3) AS plan_ms,
       round((total_exec_time / greatest(calls, 1))::numeric, 3) AS exec_ms, toplevel,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS statement
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND (query ILIKE '%%pgconsole.jobs%%' OR query ILIKE '%%complete_and_claim_jobs%%')
 ORDER BY toplevel DESC, calls DESC
"""


def measure(dsn: str, jobs: int) -> list[tuple[object, ...]]:
    pgc.fill_sql(dsn, jobs)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SET pg_stat_statements.track = 'all'")
        conn.execute("SET pg_stat_statements.track_planning = on")
        conn.execute("SELECT pg_stat_statements_reset()")
        ids: list[object] = []
        attempts: list[int] = []
        while True:
            rows = conn.execute(
                "SELECT id, attempt FROM pgconsole.complete_and_claim_jobs('bench-plans', %s, %s, NULL, 10, 60)",
                (ids, attempts),
            ).fetchall()
            claimed = [r for r in rows if r[0] is not None]
            if not claimed:
                break
            ids, attempts = [r[0] for r in claimed], [r[1] for r in claimed]
        return list(conn.execute(STATS_SQL).fetchall())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a scratch server (default: start an embedded one)")
    ap.add_argument("--jobs", type=int, default=2000)
    args = ap.parse_args()

    def report(dsn: str) -> None:
        from pgconsole.schema import migrator as migrate
        from pgconsole.schema.setup import run_setup

        before = Path(tempfile.mkdtemp(prefix="pgconsole-migrations-"))
        try:
            for m in sorted(migrate.default_migrations_dir().glob("*.sql")):
                if m.name < "0008":
                    shutil.copy(m, before / m.name)
            with psycopg.connect(dsn, autocommit=True) as conn:
                run_setup(conn)
                migrate.apply(conn, before)
            for label, upto in (("migrations 0001-0007", None), ("after 0008", "all")):
                if upto:
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        migrate.apply(conn)
                print(f"-- {label}: {args.jobs} jobs through complete_and_claim_jobs at batch 10")
                print("calls | plans | plan ms | exec ms | top-level | statement")
                for row in measure(dsn, args.jobs):
                    print(" | ".join(str(v) for v in row))
        finally:
            shutil.rmtree(before, ignore_errors=True)

    if args.dsn:
        report(args.dsn)
        return
    with embedded_server() as (admin, _version):
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_claim_plans")
        report(psycopg.conninfo.make_conninfo(admin, dbname="bench_claim_plans"))


if __name__ == "__main__":
    main()
