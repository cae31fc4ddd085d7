"""CPU per console refresh, client and server backend, on a queue caught in mid-drain.

    .venv/bin/python -m bench.refresh_cpu [--pending N] [--finished M] [--refreshes K]

Why: on two cores the console's refresh takes its CPU from the workers and the server, so its
effect on a drain is its CPU per second (docs/BENCHMARKS.md §6). Throughput ratios cannot resolve
1-2 % on this machine; CPU time can. This measures it on a still state shaped like the middle of a
drain (N pending 'noop' jobs, M jobs of another type finished by a real worker in the last
minutes, so the window sample is full), with no load besides the refreshes themselves.

For each variant, refreshes on one dashboard connection; reported: client CPU (getrusage of this
process) and its backend's CPU (/proc/<pid>/stat) per refresh, in ms, and the wall time of a
refresh. Variants: the Overview's whole read and build as the TUI does it, one refresh a second
(so data reused for some seconds is reused as often as in the TUI); the same with nothing carried
between refreshes; and, back to back (K each), each collector alone with nothing carried, the
Overview's per-type query and ``build``. Variants alternate in rounds so drift hits all alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench import pgc
from bench.client_cpu import _cpu
from bench.common import MP, embedded_server
from bench.dashboard import _cpu_seconds, nothing_reusable


def _noop(ctx: Any) -> None:
    return None


def _drain_other(dsn: str) -> None:
    from pgconsole.queue.worker import Worker, WorkerConfig

    Worker(
        WorkerConfig(dsn=dsn, handler=_noop, batch=100, burst=True, rescue_interval=0, job_types=["other"])
    ).run()


def main(argv: list[str] | None = None) -> None:
    from pgconsole.console import overview
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot
    from pgconsole.monitor.snapshot import COLLECTORS

    ap = argparse.ArgumentParser(prog="python -m bench.refresh_cpu")
    ap.add_argument("--pending", type=int, default=200_000)
    ap.add_argument("--finished", type=int, default=50_000)
    ap.add_argument("--refreshes", type=int, default=60, help="per variant and round")
    ap.add_argument(
        "--paced-refreshes",
        type=int,
        default=20,
        help="the two Overview variants run one refresh a second, this many per round",
    )
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    with embedded_server({"shared_preload_libraries": "pg_stat_statements"}) as (admin, version):
        dsn = pgc.new_database(admin, "bench_refresh_cpu")
        pgc.fill_typed(dsn, a.finished, job_type="other")
        p = MP.Process(target=_drain_other, args=(dsn,))
        p.start()
        p.join()
        pgc.fill_typed(dsn, a.pending)  # after the drain: statistics are the drained table's, as in a drain

        conn = connect(dsn, Purpose.DASHBOARD)
        caps = read_capabilities(conn)
        backend = conn.info.backend_pid
        first, _ = overview.read(conn, caps, None)

        def whole(prev: Any) -> Any:
            snap, extra = overview.read(conn, caps, prev)
            overview.build(snap, None, extra)
            return snap

        variants: dict[str, Any] = {
            "overview (as the TUI)": lambda prev: whole(prev),
            "overview, nothing carried": lambda prev: whole(nothing_reusable(prev)) and prev,
            "overview per-type SQL": lambda prev: overview.per_type(conn, ["noop"]) and prev,
            "overview.build only": lambda prev: overview.build(prev, None, None) and prev,
        }
        for spec in COLLECTORS:
            variants[f"collector {spec.name}"] = lambda prev, name=spec.name: (
                take_snapshot(conn, caps, nothing_reusable(prev), only={name}) and prev
            )
        paced = {"overview (as the TUI)", "overview, nothing carried"}
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in variants}
        for _ in range(a.rounds):
            for name, fn in variants.items():
                prev = first
                n = a.paced_refreshes if name in paced else a.refreshes
                c0, b0, wall = _cpu(), _cpu_seconds(backend), 0.0
                for _ in range(n):
                    t0 = time.perf_counter()
                    prev = fn(prev)
                    wall += time.perf_counter() - t0
                    if name in paced:  # one refresh a second, so what is reused is reused as in the TUI
                        time.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
                results[name].append(
                    ((_cpu() - c0) / n * 1000, (_cpu_seconds(backend) - b0) / n * 1000, wall / n * 1000)
                )
        conn.close()
        print(
            f"{version}: {a.pending:,} pending, {a.finished:,} finished; per refresh, ms, median of {a.rounds} "
            f"rounds of {a.refreshes} (client CPU, backend CPU, wall):"
        )
        for name, rows in results.items():
            cl, be, wa = (statistics.median(r[i] for r in rows) for i in range(3))
            print(f"  {name:32s} client {cl:6.2f}  backend {be:6.2f}  total {cl + be:6.2f}  wall {wa:6.2f}")


if __name__ == "__main__":
    main()
