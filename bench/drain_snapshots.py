"""Collector times during a drain: which part of the console's refresh grows while jobs move.

    .venv/bin/python -m bench.drain_snapshots       # embedded PostgreSQL 18 in a temp dir

200,000 no-op jobs, 2 pgconsole worker processes (batch 10, burst), and in this process one full
snapshot per second; every 5th snapshot prints its wall time and its four slowest collectors
(``elapsed_ms`` as recorded by ``take_snapshot``). Used by docs/BENCHMARKS.md §6.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench import pgc
from bench.common import MP, embedded_server


def _noop(ctx: Any) -> None:
    return None


def _work(dsn: str) -> None:
    from pgconsole.queue.worker import Worker, WorkerConfig

    Worker(WorkerConfig(dsn=dsn, handler=_noop, batch=10, burst=True, rescue_interval=0)).run()


def main(jobs: int = 200_000, workers: int = 2) -> None:
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot

    with embedded_server() as (admin, _version):
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_drain_snapshots")
        dsn = psycopg.conninfo.make_conninfo(admin, dbname="bench_drain_snapshots")
        pgc.install_schema(dsn)
        pgc.fill_sql(dsn, jobs)
        conn = connect(dsn, Purpose.DASHBOARD)
        caps = read_capabilities(conn)
        prev = None
        procs = [MP.Process(target=_work, args=(dsn,)) for _ in range(workers)]
        for p in procs:
            p.start()
        t0 = time.monotonic()
        i = 0
        while any(p.is_alive() for p in procs):
            t = time.perf_counter()
            prev = take_snapshot(conn, caps, previous=prev)
            ms = (time.perf_counter() - t) * 1000
            if i % 5 == 0:
                top = sorted(((s.name, round(s.elapsed_ms)) for s in prev.collectors.values()), key=lambda x: -x[1])
                print(f"t={time.monotonic() - t0:5.1f} s  snapshot {ms:4.0f} ms  slowest: {top[:4]}", flush=True)
            i += 1
            time.sleep(max(0.0, 1 - ms / 1000))
        print(f"drained {jobs:,} jobs in {time.monotonic() - t0:.1f} s")
        conn.close()


if __name__ == "__main__":
    main()
