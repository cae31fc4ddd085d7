"""Wall time of one full collector snapshot (client + server) at two queue backlogs, idle queue.

    .venv/bin/python -m bench.snapshot_wall        # embedded PostgreSQL 18 in a temp dir

Used by docs/BENCHMARKS.md §6 to bound what the console's refresh itself costs: the 4th of four
consecutive snapshots (deltas on) is timed, with each collector's own ``elapsed_ms``.
"""

from __future__ import annotations

import time

import psycopg

from bench import pgc
from bench.common import embedded_server


def main() -> None:
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot

    with embedded_server() as (admin, _version):
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_snapshot_wall")
        dsn = psycopg.conninfo.make_conninfo(admin, dbname="bench_snapshot_wall")
        pgc.install_schema(dsn)
        for n in (20_000, 250_000):
            pgc.fill_sql(dsn, n)
            conn = connect(dsn, Purpose.DASHBOARD)
            caps = read_capabilities(conn)
            prev = None
            el = 0.0
            for _ in range(4):
                t = time.perf_counter()
                prev = take_snapshot(conn, caps, previous=prev)
                el = time.perf_counter() - t
            conn.close()
            assert prev is not None
            top = sorted(
                ((s.name, round(s.elapsed_ms, 1)) for s in prev.collectors.values()), key=lambda x: -x[1]
            )
            print(f"{n:,} pending: snapshot {el * 1000:.0f} ms wall; slowest collectors (ms): {top[:4]}")


if __name__ == "__main__":
    main()
