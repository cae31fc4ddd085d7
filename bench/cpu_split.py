"""Where a burn-down's CPU goes: worker (client) processes vs the server, per job, pgconsole vs bare.

    .venv/bin/python -m bench.cpu_split [--workers 4] [--batch 100] [--jobs 100000] [--repeat 3]

Why: at 4 workers × batch 100 the throughput benchmark's pgconsole worker ran at 0.71× the bare
loop (docs/BENCHMARKS.md §1), while pgbench driving pgconsole's one statement per batch kept up
with the bare loop's two (``bench.server_side --clients 4``: 0.97×). On two cores the clients and
the server share the CPU, so this splits it: the same drain as the throughput benchmark (the same
worker functions, processes started before the clock), with CPU from ``/proc`` of the worker
processes (their start-up excluded; they are this process's children, so their CPU is counted
after they exit) and of the server (its processes, plus what the postmaster reaped from backends
that exited), divided by the jobs. The server's figure includes its background processes (WAL
writer, autovacuum) over the drain and the exit of the backends. Sides alternate.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Any

from bench.common import Env, ProcessGang, embedded_server, server_version
from bench.dashboard import _cpu_seconds, _server_cpu
from bench.throughput import prepare


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def drain(system: Any, dsn: str, jobs: int, workers: int, batch: int) -> dict[str, float]:
    system.fill(dsn, jobs)
    children0 = _children_cpu()
    gang = ProcessGang(system.worker, (dsn, batch, 600.0), workers)
    gang.start()
    try:
        time.sleep(0.5)
        # the workers' start-up (imports, connection) is excluded: their CPU so far, at the start
        startup = sum(_cpu_seconds(p.pid) for p in gang.procs if p.pid)
        server0 = _server_cpu()
        t0 = time.perf_counter()
        gang.go.set()
        while gang.handled() < jobs and gang.any_alive() and time.perf_counter() - t0 < 600:
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
    finally:
        gang.join()  # the workers exit when the queue is empty; their CPU is then the children's
    time.sleep(0.2)  # their backends exit and are reaped
    client = _children_cpu() - children0 - startup
    server = _server_cpu() - server0
    return {
        "jobs_per_s": jobs / elapsed,
        "client_us_per_job": client / jobs * 1e6,
        "server_us_per_job": server / jobs * 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu_split")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    with embedded_server({"max_connections": "200"}) as (admin, _version):
        env = Env(admin_dsn=admin, repeat=a.repeat, server_version=server_version(admin))
        ready, dsns, skipped = prepare(env, ["pgconsole", "bare"])
        assert not skipped, skipped
        res: dict[str, list[dict[str, float]]] = {n: [] for n in ready}
        for rep in range(a.repeat):
            for name in list(ready) if rep % 2 == 0 else list(ready)[::-1]:
                res[name].append(drain(ready[name], dsns[name], a.jobs, a.workers, a.batch))
        print(
            f"{env.server_version}: {a.workers} workers × batch {a.batch}, {a.jobs:,} jobs, median of "
            f"{a.repeat} (all runs):"
        )
        for name, rows in res.items():
            cols = []
            for key, fmt in (
                ("jobs_per_s", ",.0f"),
                ("client_us_per_job", ".1f"),
                ("server_us_per_job", ".1f"),
            ):
                vals = [r[key] for r in rows]
                cols.append(
                    f"{key} {statistics.median(vals):{fmt}} ({', '.join(format(v, fmt) for v in vals)})"
                )
            print(f"  {name:10s} " + "  ".join(cols))


if __name__ == "__main__":
    main()
