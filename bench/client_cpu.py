"""Client CPU per job: the pgconsole worker runtime vs the bare SKIP LOCKED loop, one process each.

    .venv/bin/python -m bench.client_cpu                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.client_cpu --dsn URI       # a superuser DSN of a scratch server

Why: on a 2-core box the workers, their handler threads and the server share the cores, so what
a Python client spends per job is taken from the server's throughput. This measures it directly:
user + system CPU of the client process (getrusage, interpreter start-up and imports excluded)
divided by the jobs it handled, one worker, burst mode, no-op handler, for each batch size, sides
alternating, ``--repeat`` times. The bare loop is the same one as in the throughput benchmark
(bench/peers.py: claim statement, no-op per row, finish statement).

The worker's JobContext parses the payload and builds the job's UUID only when the handler reads
them, which the no-op handler does not (the bare loop's psycopg parses every payload it fetches);
``--handler reads`` runs a handler that reads ``ctx.id`` and ``ctx.payload`` of every job.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Any

import psycopg

from bench import peers, pgc

JOBS_PER_BATCH = 1000  # each run handles batch x 1000 jobs


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _noop(ctx: Any) -> None:
    return None


def _reads(ctx: Any) -> None:
    ctx.id, ctx.payload  # noqa: B018 - the reads are the point


HANDLERS = {"noop": _noop, "reads": _reads}


def pgconsole_side(dsn: str, batch: int, handler: str = "noop") -> tuple[float, float]:
    """(jobs/s, client CPU microseconds per job) of one Worker (default concurrency) draining the queue."""
    from pgconsole.queue.worker import Worker, WorkerConfig

    n = batch * JOBS_PER_BATCH
    pgc.fill_sql(dsn, n)
    w = Worker(WorkerConfig(dsn=dsn, handler=HANDLERS[handler], batch=batch, burst=True, rescue_interval=0))
    c0, t0 = _cpu(), time.perf_counter()
    stats = w.run()
    el, cpu = time.perf_counter() - t0, _cpu() - c0
    assert stats.completed == n, stats
    return n / el, cpu / n * 1e6


def bare_side(dsn: str, batch: int) -> tuple[float, float]:
    n = batch * JOBS_PER_BATCH
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("TRUNCATE bare.jobs")
    peers.bare_fill(dsn, n)
    with psycopg.connect(dsn, autocommit=True) as conn:
        done = 0
        c0, t0 = _cpu(), time.perf_counter()
        while True:
            rows = conn.execute(peers.BARE_CLAIM, ("bare-cpu", batch)).fetchall()
            if not rows:
                break
            for _ in rows:
                pass
            conn.execute(peers.BARE_FINISH, ([r[0] for r in rows],))
            done += len(rows)
        el, cpu = time.perf_counter() - t0, _cpu() - c0
    assert done == n
    return n / el, cpu / n * 1e6


def run(dsn: str, batches: list[int], repeat: int, handler: str = "noop") -> dict[str, Any]:
    pgc.install_schema(dsn)
    peers.bare_setup(dsn)
    out: dict[str, Any] = {}
    for b in batches:
        runs: dict[str, list[tuple[float, float]]] = {"pgconsole worker": [], "bare loop": []}
        for rep in range(repeat):
            sides = list(runs) if rep % 2 == 0 else list(reversed(runs))
            for side in sides:
                runs[side].append(
                    pgconsole_side(dsn, b, handler) if side == "pgconsole worker" else bare_side(dsn, b)
                )
        out[str(b)] = {
            side: {
                "jobs_per_s": statistics.median(r[0] for r in v),
                "cpu_us_per_job": statistics.median(r[1] for r in v),
                "cpu_us_per_job_all": [round(r[1], 1) for r in v],
            }
            for side, v in runs.items()
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", default=None)
    ap.add_argument("--batches", default="10,100")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--handler", choices=sorted(HANDLERS), default="noop", help="the worker's handler")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.dsn:
        res = run(args.dsn, batches, args.repeat, args.handler)
    else:
        from bench.common import embedded_server

        with embedded_server() as (admin, _version):
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute("DROP DATABASE IF EXISTS bench_client_cpu WITH (FORCE)")
                c.execute("CREATE DATABASE bench_client_cpu")
            res = run(
                psycopg.conninfo.make_conninfo(admin, dbname="bench_client_cpu"),
                batches,
                args.repeat,
                args.handler,
            )
    print("| batch | side | jobs/s (1 worker) | client CPU µs/job (median; runs) |")
    print("|---|---|---|---|")
    for b, sides in res.items():
        for side, r in sides.items():
            print(
                f"| {b} | {side} | {r['jobs_per_s']:,.0f} | {r['cpu_us_per_job']:.1f} ({', '.join(map(str, r['cpu_us_per_job_all']))}) |"
            )


if __name__ == "__main__":
    main()
