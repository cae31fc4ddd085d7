"""Collector and statement times during a drain: which part of the console's refresh grows while jobs move.

    .venv/bin/python -m bench.drain_snapshots [--jobs N]    # embedded PostgreSQL 18 in a temp dir

N no-op jobs (default 200,000) enqueued through the Python API (so the statistics are those of the
table before the jobs arrived, as between autovacuum's analyzes), 2 pgconsole worker processes
(batch 10, burst). In this process, once a second: each collector alone (``take_snapshot(only=…)``),
each of the queue collector's statements alone (with the collector's plan settings), the Overview's
per-type query, and the Overview's whole read twice in alternating order: as the TUI does it (the
slow-moving collectors reuse data younger than their ``min_interval_s``) and with them forced to
read again. At the end: median, p90 and max of each (client wall
time, ms), then the 20 costliest statements by pg_stat_statements. Used by docs/BENCHMARKS.md §6.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import psycopg

from bench import pgc
from bench.common import MP, embedded_server
from bench.dashboard import nothing_reusable


def _noop(ctx: Any) -> None:
    return None


def _work(dsn: str) -> None:
    from pgconsole.queue.worker import Worker, WorkerConfig

    Worker(
        WorkerConfig(dsn=dsn, handler=_noop, batch=10, burst=True, rescue_interval=0, job_types=["noop"])
    ).run()


def _timed(times: dict[str, list[float]], key: str, fn: Any) -> None:
    t0 = time.perf_counter()
    fn()
    times.setdefault(key, []).append((time.perf_counter() - t0) * 1000)


def main(argv: list[str] | None = None) -> None:
    from pgconsole.console import overview
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import queue as Q
    from pgconsole.monitor import take_snapshot
    from pgconsole.monitor.snapshot import COLLECTORS

    ap = argparse.ArgumentParser(prog="python -m bench.drain_snapshots")
    ap.add_argument("--jobs", type=int, default=200_000)
    a = ap.parse_args(argv)
    statements = {
        "active counts": (Q.ACTIVE_COUNTS_SQL, {"cap": Q.ACTIVE_CAP + 1}),
        "estimates": (Q.ESTIMATE_SQL, None),
        "oldest pending": (Q.OLDEST_PENDING_SQL, None),
        "window sample": (Q.WINDOW_SQL, {"cap": Q.WINDOW_CAP}),
        "stuck": (Q.STUCK_SQL, None),
    }
    with embedded_server({"shared_preload_libraries": "pg_stat_statements"}) as (admin, version):
        dsn = pgc.new_database(admin, "bench_drain_snapshots")
        pgc.fill_typed(dsn, a.jobs)
        conn = connect(dsn, Purpose.DASHBOARD)
        caps = read_capabilities(conn)
        procs = [MP.Process(target=_work, args=(dsn,)) for _ in range(2)]
        for p in procs:
            p.start()
        times: dict[str, list[float]] = {}
        prev = None
        t_start = time.monotonic()

        def statement(sql: str, params: Any) -> None:
            with conn.transaction():
                conn.execute(Q.PLAN_SETTINGS_SQL)
                conn.execute(sql, params).fetchall()

        while any(p.is_alive() for p in procs):
            t = time.perf_counter()
            for spec in COLLECTORS:
                _timed(
                    times, "collector " + spec.name, lambda n=spec.name: take_snapshot(conn, caps, only={n})
                )
            for k, (sql, params) in statements.items():
                _timed(times, "queue SQL " + k, lambda s=sql, p=params: statement(s, p))
            _timed(times, "overview per-type SQL", lambda: overview.per_type(conn, ["noop"]))
            # The Overview's whole read twice, in alternating order: as the TUI does it (slow-moving
            # collectors reuse data younger than their min_interval_s) and with them forced to read.
            kinds = (
                ["carried", "re-read"]
                if len(times.get("queue SQL stuck", [])) % 2
                else ["re-read", "carried"]
            )
            for kind in kinds:
                base = prev if kind == "carried" or prev is None else nothing_reusable(prev)
                t0 = time.perf_counter()
                snap, _extra = overview.read(conn, caps, base)
                times.setdefault(f"Overview read, slow collectors {kind}", []).append(
                    (time.perf_counter() - t0) * 1000
                )
                if kind == "carried" or prev is None:
                    prev = snap
            time.sleep(max(0.0, 1 - (time.perf_counter() - t)))
        print(f"{version}: drained {a.jobs:,} jobs in {time.monotonic() - t_start:.1f} s; client wall ms:")
        for k, v in sorted(times.items()):
            v = sorted(v)
            print(
                f"  {k:32s} n={len(v):3d}  median {statistics.median(v):6.1f}  p90 {v[int(0.9 * len(v))]:6.1f}"
                f"  max {v[-1]:6.1f}"
            )
        conn.close()
        with psycopg.connect(dsn, autocommit=True) as c:
            print("costliest statements (calls, mean ms, total ms):")
            for r in c.execute(
                "SELECT calls, round(mean_exec_time::numeric, 2), round(total_exec_time::numeric),"
                " left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements"
                " ORDER BY total_exec_time DESC LIMIT 20"
            ):
                print("  ", r)


if __name__ == "__main__":
    main()
