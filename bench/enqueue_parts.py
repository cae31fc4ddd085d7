"""Where enqueue_many's COPY path spends its time: the staged rows' INSERT into pgconsole.jobs.

    .venv/bin/python -m bench.enqueue_parts [--jobs 200000] [--rounds 8]

Stages ``--jobs`` rows the way ``client.enqueue_many`` does (enqueue_stage, binary COPY), then
times one variant of enqueue_staged's INSERT on an emptied table: wall time and the backend's CPU
(``/proc/<pid>/stat``, so the server must run on this machine). Variants rotate between rounds:
with and without ``ORDER BY ord``, and with the id from the column default (a SQL function) or
``pg_catalog.uuidv7()`` written in (PostgreSQL 18); and, for scale, the whole enqueue_many call
of the same jobs (its wall time includes the client's encoding). A diagnostic, not part of the recorded run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg

from bench import pgc
from bench.common import embedded_server, rotated
from bench.dashboard import _cpu_seconds

_INSERT = (
    "INSERT INTO pgconsole.jobs AS j ({idcol}job_type, payload, priority, max_retries, tenant_id,"
    " scheduled_at, expires_at) SELECT {idval}s.job_type, s.payload, s.priority, 3, NULL, now(),"
    " now() + interval '1 day' FROM ONLY pg_temp.pgconsole_enqueue_stage s {order} RETURNING j.id"
)
VARIANTS = {
    "ORDER BY, id default": _INSERT.format(idcol="", idval="", order="ORDER BY s.ord"),
    "no ORDER BY, id default": _INSERT.format(idcol="", idval="", order=""),
    "ORDER BY, uuidv7()": _INSERT.format(idcol="id, ", idval="pg_catalog.uuidv7(), ", order="ORDER BY s.ord"),
    "no ORDER BY, uuidv7()": _INSERT.format(idcol="id, ", idval="pg_catalog.uuidv7(), ", order=""),
}


def measure(dsn: str, n: int, rounds: int) -> dict[str, tuple[float, float]]:
    from pgconsole.queue import client

    jobs = [("noop", {"i": i}) for i in range(n)]
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in [*VARIANTS, "whole enqueue_many call"]}
    with psycopg.connect(dsn, autocommit=True) as conn:
        pid = conn.info.backend_pid
        known: set[str] = set()
        for r in range(rounds):
            for name in rotated(list(VARIANTS), r):
                conn.execute("TRUNCATE pgconsole.jobs")
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(client._STAGE)
                    with cur.copy(client._STAGE_COPY) as copy:
                        copy.set_types(client._STAGE_TYPES)
                        for i, j in enumerate(jobs):
                            job_type, data, priority = client._many_row(i, j, known)
                            copy.write_row((i, job_type, client._JSONB_V1 + data, priority))
                    c0, t0 = _cpu_seconds(pid), time.perf_counter()
                    cur.execute(VARIANTS[name]).fetchall()
                    res[name].append((time.perf_counter() - t0, _cpu_seconds(pid) - c0))
            conn.execute("TRUNCATE pgconsole.jobs")
            c0, t0 = _cpu_seconds(pid), time.perf_counter()
            client.enqueue_many(conn, jobs)
            res["whole enqueue_many call"].append((time.perf_counter() - t0, _cpu_seconds(pid) - c0))
    return {
        k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in res.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    with embedded_server() as (admin_dsn, version):
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_enqueue_parts")
        dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname="bench_enqueue_parts")
        pgc.setup(dsn)
        print(version, f"{args.jobs:,} staged jobs, median of {args.rounds}")
        for name, (wall, cpu) in measure(dsn, args.jobs, args.rounds).items():
            print(f"  {name:26s} wall {wall:.2f} s  backend CPU {cpu:.2f} s")


if __name__ == "__main__":
    main()
