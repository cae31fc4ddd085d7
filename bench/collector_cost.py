"""Server time of one full pgconsole snapshot (every collector) on a big queue, vs a naive peer set.

The job table holds N finished jobs (default 10 M) and a pending backlog (default 100 k), built by
:mod:`bench.dataset`. Snapshots run as a dedicated login role (member of pgconsole_readonly), and
the server time of a snapshot is the growth of ``sum(total_exec_time)`` in pg_stat_statements for
that role across the snapshot, read from another session (nothing is reset). The naive side is
what a peer dashboard does per refresh: ``GROUP BY status`` over the table, pg_stat_statements with
query texts, pg_stat_activity and pg_stat_database.

    python -m bench.collector_cost                     # embedded PG 18, 10 M / 100 k
    python -m bench.collector_cost --finished 1000000  # smaller
    python -m bench.collector_cost --dsn postgresql://postgres@host/postgres
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg

from bench.common import Env, percentile
from bench.dataset import HISTORY_DB, ensure_history

ROLE = "bench_monitor"
ROLE_PW = "bench-monitor-pw"

NAIVE_SQL = (
    "SELECT status, count(*) FROM pgconsole.jobs GROUP BY status",
    "SELECT queryid, calls, total_exec_time, left(query, 200) FROM pg_stat_statements"
    " ORDER BY total_exec_time DESC LIMIT 20",
    "SELECT pid, usename, application_name, state, wait_event_type, query_start, left(query, 200)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend'",
    "SELECT datname, xact_commit, xact_rollback, blks_hit, blks_read FROM pg_stat_database",
)

SERVER_TIME_SQL = """
SELECT coalesce(sum(total_exec_time), 0)::float8, coalesce(sum(calls), 0)::bigint
  FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = %s)
"""
PER_QUERY_SQL = """
SELECT calls, round((total_exec_time / calls)::numeric, 3)::float8 AS mean_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 90)
  FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = %s) AND calls > 0
 ORDER BY total_exec_time DESC LIMIT 8
"""


def _ensure_role(env: Env) -> None:
    with env.admin(HISTORY_DB) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PW}'")
        conn.execute(f"GRANT pgconsole_readonly TO {ROLE}")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def _measure(admin: psycopg.Connection[Any], fn: Any, samples: int) -> dict[str, Any]:
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
        "wall_ms_p95": round(percentile(wall, 95), 3),
        "samples": samples,
    }


def run(env: Env, finished: int = 10_000_000, pending: int = 100_000, samples: int = 30) -> dict[str, Any]:
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot

    history = ensure_history(env, finished, pending)
    _ensure_role(env)
    dsn = psycopg.conninfo.make_conninfo(env.dsn(HISTORY_DB), user=ROLE, password=ROLE_PW)
    mon = connect(dsn, Purpose.DASHBOARD)
    # the peer side gets no time limit (its GROUP BY over 10 M rows exceeds the dashboard's 5 s)
    peer_conn = psycopg.connect(dsn, autocommit=True, application_name="bench-naive-peer")
    peer_conn.execute("SELECT set_config('max_parallel_workers_per_gather', '0', false)")
    caps = read_capabilities(mon)
    state: dict[str, Any] = {"prev": None}

    def snapshot() -> None:
        snap = take_snapshot(mon, caps, previous=state["prev"])
        bad = {k: v.message for k, v in snap.collectors.items() if v.status not in ("ok",)}
        if bad:
            raise RuntimeError(f"collectors failed: {bad}")
        state["prev"] = snap

    def naive() -> None:
        for q in NAIVE_SQL:
            peer_conn.execute(q).fetchall()  # type: ignore[call-overload]

    with env.admin(HISTORY_DB) as admin:
        for _ in range(3):  # warm caches and plans on both sides
            snapshot()
            naive()
        cheap = _measure(admin, snapshot, samples)
        top = [list(r) for r in admin.execute(PER_QUERY_SQL, (ROLE,)).fetchall()]
        peer = _measure(admin, naive, max(3, samples // 6))
        counts = (
            {s.status: s.label for s in state["prev"].queue.states}
            if state["prev"] and state["prev"].queue
            else {}
        )
    mon.close()
    peer_conn.close()
    ratio = peer["server_ms_p50"] / cheap["server_ms_p50"] if cheap["server_ms_p50"] else None
    return {
        "history": history,
        "pgconsole_snapshot": cheap,
        "naive_peer_set": peer,
        "server_time_ratio_p50": round(ratio, 1) if ratio else None,
        "queue_counts_as_shown": counts,
        "costliest_statements_mean_ms": top,
        "goal": "full snapshot server time p95 < 20 ms",
        "goal_met": cheap["server_ms_p95"] < 20.0,
    }


def main() -> None:
    from bench.common import embedded_server, server_version

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a server to use (default: a throwaway embedded PG 18)")
    ap.add_argument("--finished", type=int, default=10_000_000)
    ap.add_argument("--pending", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    if args.dsn:
        env = Env(args.dsn, server_version=server_version(args.dsn))
        print(json.dumps(run(env, args.finished, args.pending, args.samples), indent=2, default=str))
        return
    with embedded_server() as (dsn, version):
        env = Env(dsn, server_version=version)
        print(json.dumps(run(env, args.finished, args.pending, args.samples), indent=2, default=str))


if __name__ == "__main__":
    main()
