"""Other queue systems at scale (issue 17 item 8): N finished jobs in a Procrastinate and a pg-boss
table, each made by the library itself (Procrastinate's ``apply_schema``, pg-boss's ``start()`` and
``createQueue`` run by Node), filled with one set-based INSERT … SELECT generate_series in the
library's own schema, then VACUUM ANALYZE.

Side by side, in one run, on the same server:

* the Overview's per-system snapshot (``QueueSystem.summary``: counts by state and queue, oldest
  due, throughput, failures by error, stuck jobs) vs the naive ``SELECT status, count(*) … GROUP
  BY status`` over the library's table;
* pgconsole's job page (failed jobs, 50 a page, keyset) vs the library's own: pg-boss's dashboard
  (``@pg-boss/dashboard`` getJobs: ``… WHERE name = $1 AND state = $2 ORDER BY created_on DESC
  LIMIT 50 OFFSET $n``) at the first page and at page 200; Procrastinate's admin ``list_jobs``
  (``procrastinate/sql/queries.sql``: every job with the status, ORDER BY id, no LIMIT).

Server time is the growth of pg_stat_statements' total_exec_time for a dedicated reader role
(SELECT on the libraries' tables only) across one call, read from another session.

    python -m bench.systems_scale                        # embedded PG 18, 10 M finished jobs each
    python -m bench.systems_scale --finished 1000000     # smaller
    python -m bench.systems_scale --dsn postgresql://postgres@host/postgres
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Env, percentile

DB = "bench_systems"
ROLE = "bench_systems_reader"
ROLE_PW = "bench-systems-reader-pw"
ROOT = Path(__file__).resolve().parents[1]
PAGE = 50
DEEP_PAGE = 200

SERVER_TIME_SQL = """
SELECT coalesce(sum(total_exec_time), 0)::float8
  FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = %s)
"""

# 90 % completed, 8 % failed, 2 % cancelled over 30 days, as bench/dataset.py does for pgconsole's own.
PGBOSS_FILL = """
INSERT INTO pgboss.job (name, id, state, data, output, retry_count, retry_limit, created_on, start_after,
                        started_on, completed_on, keep_until)
SELECT 'bench', gen_random_uuid(),
       (CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' ELSE 'completed' END)::pgboss.job_state,
       jsonb_build_object('i', g),
       CASE WHEN g %% 12 = 0 AND g %% 50 <> 0 THEN jsonb_build_object('message', 'boom ' || (g %% 3)) END,
       0, 0, t, t, t, t + interval '20 ms', t + interval '60 days'
  FROM (SELECT g, now() - (g %% 2592000) * interval '1 second' AS t FROM generate_series(1, %(n)s) g) s
"""
PGBOSS_PENDING = """
INSERT INTO pgboss.job (name, data) SELECT 'bench', jsonb_build_object('i', g) FROM generate_series(1, %(n)s) g
"""
PROC_FILL = """
INSERT INTO procrastinate_jobs (queue_name, task_name, status, args, scheduled_at, attempts)
SELECT 'default', 'task_' || (g %% 8),
       (CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 12 = 0 THEN 'failed' ELSE 'succeeded' END)::procrastinate_job_status,
       jsonb_build_object('i', g), NULL, 1
  FROM generate_series(1, %(n)s) g
"""
PROC_PENDING = """
INSERT INTO procrastinate_jobs (queue_name, task_name, args)
SELECT 'default', 'task_' || (g %% 8), jsonb_build_object('i', g) FROM generate_series(1, %(n)s) g
"""

NAIVE = {
    "pgboss": "SELECT state, count(*) FROM pgboss.job GROUP BY state",
    "procrastinate": "SELECT status, count(*) FROM procrastinate_jobs GROUP BY status",
}
# pg-boss's dashboard (@pg-boss/dashboard 1.9.0, getJobs with a state): its job page.
PGBOSS_DASHBOARD_PAGE = """
SELECT id, name, state, priority, retry_count AS "retryCount", retry_limit AS "retryLimit",
       start_after AS "startAfter", started_on AS "startedOn", completed_on AS "completedOn",
       created_on AS "createdOn", singleton_key AS "singletonKey"
  FROM pgboss.job WHERE name = %s AND state = %s::pgboss.job_state
 ORDER BY created_on DESC LIMIT %s OFFSET %s
"""


def _procrastinate_list_jobs() -> str:
    """Procrastinate's own admin query (``list_jobs`` in its queries.sql), verbatim."""
    import procrastinate

    text = (Path(procrastinate.__file__).parent / "sql" / "queries.sql").read_text()
    body = re.split(r"\n-- \w+ --", text.split("-- list_jobs --", 1)[1], maxsplit=1)[0]
    return "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip().rstrip(";")


def _node_libs() -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.nodequeues.nodelibs import install

    return install()


def build(env: Env, finished: int, pending: int) -> dict[str, Any]:
    """The database with both libraries' schemas and N finished jobs in each (reused when sizes match)."""
    if env.database_exists(DB):
        with env.admin(DB) as conn:
            row = conn.execute(
                "SELECT finished, pending, seconds FROM public.bench_meta"
                if conn.execute("SELECT to_regclass('public.bench_meta')").fetchone() != (None,)
                else "SELECT NULL, NULL, NULL"
            ).fetchone()
        if row and row[0] == finished and row[1] == pending:
            return {"finished": finished, "pending": pending, "build_seconds": row[2], "reused": True}
    dsn = env.fresh_database(DB)
    t0 = time.perf_counter()
    # Each library creates its own schema.
    done = subprocess.run(
        [sys.executable, "-m", "tests.systems.procrastinate_app", "schema"],
        env={"PROC_DSN": dsn, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"procrastinate schema: {done.stderr[-2000:]}")
    libs = _node_libs()
    from tests.nodequeues.nodelibs import run_script

    queues = [{"name": "bench"}, {"name": "email"}, {"name": "reports", "options": {"partition": True}}]
    run_script(libs, "pgboss.mjs", dsn, "setup", {"queues": queues})
    with env.admin(DB) as conn:
        # Procrastinate's per-row triggers (events, NOTIFY) are its runtime, not its data: the load skips them.
        conn.execute("SET session_replication_role = replica")
        conn.execute(PROC_FILL, {"n": finished})
        conn.execute(PROC_PENDING, {"n": pending})
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute(PGBOSS_FILL, {"n": finished})
        conn.execute(PGBOSS_PENDING, {"n": pending})
        conn.execute("VACUUM ANALYZE procrastinate_jobs")
        conn.execute("VACUUM ANALYZE pgboss.job_common")
        conn.execute("ANALYZE pgboss.job")
        seconds = round(time.perf_counter() - t0, 1)
        conn.execute("CREATE TABLE public.bench_meta (finished bigint, pending bigint, seconds float8)")
        conn.execute("INSERT INTO public.bench_meta VALUES (%s, %s, %s)", (finished, pending, seconds))
    return {"finished": finished, "pending": pending, "build_seconds": seconds, "reused": False}


def _reader(env: Env) -> str:
    with env.admin(DB) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PW}'")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute(f"GRANT USAGE ON SCHEMA pgboss TO {ROLE}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA pgboss TO {ROLE}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLE}")
    return psycopg.conninfo.make_conninfo(env.dsn(DB), user=ROLE, password=ROLE_PW)


def _measure(admin: psycopg.Connection[Any], fn: Callable[[], Any], samples: int) -> dict[str, Any]:
    server: list[float] = []
    wall: list[float] = []
    for _ in range(samples):
        before = admin.execute(SERVER_TIME_SQL, (ROLE,)).fetchone()
        t0 = time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        after = admin.execute(SERVER_TIME_SQL, (ROLE,)).fetchone()
        assert before is not None and after is not None
        server.append(after[0] - before[0])
    return {
        "server_ms_p50": round(percentile(server, 50), 3),
        "server_ms_p95": round(percentile(server, 95), 3),
        "wall_ms_p50": round(percentile(wall, 50), 3),
        "samples": samples,
    }


def _ratio(a: dict[str, Any], b: dict[str, Any], key: str = "server_ms_p50") -> float | None:
    return round(a[key] / b[key], 1) if b[key] else None


def run(env: Env, finished: int = 10_000_000, pending: int = 10_000, samples: int = 30) -> dict[str, Any]:
    from pgconsole.db import Purpose, connect
    from pgconsole.queue.models import JobFilter
    from pgconsole.queue.systems.pgboss import PgBoss
    from pgconsole.queue.systems.procrastinate import Procrastinate

    built = build(env, finished, pending)
    dsn = _reader(env)
    mon = connect(dsn, Purpose.DASHBOARD)
    # The peer side gets no time limit and no parallel workers (the dashboard connection has none).
    peer = psycopg.connect(dsn, autocommit=True, application_name="bench-naive-peer")
    peer.execute("SET max_parallel_workers_per_gather = 0")
    systems = {"pgboss": PgBoss.detect(mon)[0], "procrastinate": Procrastinate.detect(mon)[0]}
    failed = JobFilter(statuses=["failed"])
    out: dict[str, Any] = {"dataset": built, "systems": {}}
    list_jobs = _procrastinate_list_jobs()
    with env.admin(DB) as admin:
        for name, system in systems.items():
            for _ in range(3):  # warm caches and plans on both sides
                system.summary(mon)
                peer.execute(NAIVE[name]).fetchall()  # type: ignore[call-overload]
            summary = system.summary(mon)
            snap = _measure(admin, lambda s=system: s.summary(mon), samples)  # type: ignore[misc]
            naive = _measure(admin, lambda n=name: peer.execute(NAIVE[n]).fetchall(), max(3, samples // 6))  # type: ignore[misc]
            # pgconsole's failed-jobs page: the first, and page DEEP_PAGE by its keyset cursor.
            cursor = None
            for _ in range(DEEP_PAGE - 1):
                cursor = system.page(mon, failed, after=cursor, limit=PAGE).next_after
            first = _measure(admin, lambda s=system: s.page(mon, failed, limit=PAGE), samples)  # type: ignore[misc]
            deep = _measure(
                admin,
                lambda s=system, c=cursor: s.page(mon, failed, after=c, limit=PAGE),  # type: ignore[misc]
                samples,
            )
            row: dict[str, Any] = {
                "counts_as_shown": {s.state: [s.count, s.method] for s in summary.states},
                "snapshot": snap,
                "group_by_status": naive,
                "snapshot_cheaper_x": _ratio(naive, snap),
                "goal_snapshot_p95_under_20ms": snap["server_ms_p95"] < 20.0,
                "goal_50x_cheaper": (_ratio(naive, snap) or 0) >= 50,
                "page_first": first,
                f"page_{DEEP_PAGE}": deep,
            }
            if name == "pgboss":
                lib_first = _measure(
                    admin,
                    lambda: peer.execute(PGBOSS_DASHBOARD_PAGE, ("bench", "failed", PAGE, 0)).fetchall(),
                    samples,
                )
                lib_deep = _measure(
                    admin,
                    lambda: peer.execute(
                        PGBOSS_DASHBOARD_PAGE, ("bench", "failed", PAGE, PAGE * (DEEP_PAGE - 1))
                    ).fetchall(),
                    samples,
                )
                row |= {
                    "library_page": "@pg-boss/dashboard getJobs(state=failed), LIMIT/OFFSET",
                    "library_page_first": lib_first,
                    f"library_page_{DEEP_PAGE}": lib_deep,
                }
            else:
                params = {
                    "id": None, "queue_name": None, "task_name": None, "status": "failed",
                    "lock": None, "queueing_lock": None, "worker_id": None,
                }  # fmt: skip
                lib = _measure(
                    admin,
                    lambda p=params: peer.execute(list_jobs, p).fetchall(),  # type: ignore[misc]
                    max(3, samples // 6),
                )
                row |= {
                    "library_page": "procrastinate list_jobs(status=failed): every failed job, no LIMIT",
                    "library_page_first": lib,
                }
            out["systems"][name] = row
    mon.close()
    peer.close()
    return out


def main() -> None:
    from bench.common import embedded_server, server_version

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a server to use (default: a throwaway embedded PG 18)")
    ap.add_argument("--finished", type=int, default=10_000_000)
    ap.add_argument("--pending", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    def go(env: Env) -> None:
        result = {"server": env.server_version, **run(env, args.finished, args.pending, args.samples)}
        text = json.dumps(result, indent=2, default=str)
        print(text)
        if args.json:
            Path(args.json).write_text(text + "\n")

    if args.dsn:
        go(Env(args.dsn, server_version=server_version(args.dsn)))
        return
    with embedded_server() as (dsn, version):
        go(Env(dsn, server_version=version))


if __name__ == "__main__":
    main()
