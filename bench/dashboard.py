"""Q6 dashboard cost, two parts.

1. Server time of one full collector snapshot vs a naive peer query set at 10M finished / 100k
   pending: delegated to :mod:`bench.collector_cost` (owned by the collectors issue).
2. The console's effect on the queue: pgconsole workers drain jobs in the same big database with
   the TUI-equivalent refresh loop (``take_snapshot`` every second on a dashboard connection, as
   the Overview does) running vs not running; alternating; jobs/s ratio (goal >= 0.98).
"""

from __future__ import annotations

import time
from typing import Any

from bench import pgc
from bench.common import MP, Env, Flag, ratio, rotated, spread
from bench.dataset import ensure_history


def refresh_loop(dsn: str, interval: float, stop: Any, max_seconds: float, out: Any) -> None:
    """A headless stand-in for the TUI's refresh: one full snapshot per interval, deltas kept."""
    from pgconsole.db import Purpose, connect
    from pgconsole.db.capabilities import read_capabilities
    from pgconsole.monitor import take_snapshot

    conn = connect(dsn, Purpose.DASHBOARD)
    caps = read_capabilities(conn)
    prev = None
    n = 0
    deadline = time.monotonic() + max_seconds
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            prev = take_snapshot(conn, caps, previous=prev)
            n += 1
            rest = interval - (time.monotonic() - t0)
            while rest > 0 and not stop.is_set():
                time.sleep(min(rest, 0.05))
                rest = interval - (time.monotonic() - t0)
    finally:
        out[0] = n
        conn.close()


def effect(env: Env, dsn: str, jobs: int, workers: int, batch: int) -> dict[str, Any]:
    from bench.throughput import System, drain_once

    sys_ = System("pgconsole", "", lambda d: None, pgc.fill_typed, pgc.remaining_typed, pgc.worker_typed)
    runs: dict[str, list[dict[str, Any]]] = {"without console": [], "with 1 s refresh": []}
    for rep in range(env.repeat):
        for v in rotated(list(runs), rep):
            extra = None
            counts = MP.RawArray("q", 1)
            if v == "with 1 s refresh":
                def extra(counts: Any = counts) -> Any:
                    stop = Flag(MP.RawArray("b", 1))
                    p = MP.Process(target=refresh_loop, args=(dsn, 1.0, stop, 900, counts))
                    p.start()
                    time.sleep(1.0)  # connected and first snapshot taken before the drain starts

                    def stopper() -> None:
                        stop.set()
                        p.join(10)
                        if p.is_alive():
                            p.terminate()
                    return stopper
            r = drain_once(sys_, dsn, jobs, workers, batch, 600, extra=extra)
            r["snapshots"] = int(counts[0])
            runs[v].append(r)
            print(f"  dashboard effect {v:17s} rep {rep}: steady {(r['steady_jobs_per_s'] or 0):,.0f} jobs/s "
                  f"({r['seconds']:.1f} s, {r['snapshots']} snapshots)", flush=True)
    sp = {v: spread([r["steady_jobs_per_s"] for r in rs if r["steady_jobs_per_s"]]) for v, rs in runs.items()}
    return {"jobs": jobs, "workers": workers, "batch": batch, "runs": runs, "spread": sp,
            "ratio_with_to_without": ratio(sp["with 1 s refresh"].get("median"), sp["without console"].get("median")),
            "goal": ">= 0.98"}


def run(env: Env, finished: int | None = None, pending: int | None = None,
        drain_jobs: int | None = None) -> dict[str, Any]:
    finished = finished if finished is not None else (100_000 if env.quick else 10_000_000)
    pending = pending if pending is not None else (1_000 if env.quick else 100_000)
    result: dict[str, Any] = {}
    try:
        from bench import collector_cost

        result["collector_cost"] = collector_cost.run(env, finished, pending, samples=10 if env.quick else 30)
    except Exception as e:  # the collectors side is another issue's code: report, keep going
        result["collector_cost"] = {"status": "error", "reason": f"{type(e).__name__}: {e}"}
    hist = ensure_history(env, finished, pending)
    jobs = drain_jobs or (5_000 if env.quick else 20_000)
    result["effect"] = effect(env, hist["dsn"], jobs, workers=2, batch=10)
    from bench.report import fratio, fspread

    cc = result["collector_cost"]
    rows = []
    if "pgconsole_snapshot" in cc:
        s, n = cc["pgconsole_snapshot"], cc["naive_peer_set"]
        rows.append([f"one refresh, server time ({finished:,} finished / {pending:,} pending)",
                     f"p50 {s.get('server_ms_p50', 0):.2f} ms, p95 {s.get('server_ms_p95', 0):.2f} ms",
                     f"p50 {n.get('server_ms_p50', 0):.1f} ms, p95 {n.get('server_ms_p95', 0):.1f} ms",
                     f"{cc.get('server_time_ratio_p50')}× cheaper (p50)"])
    else:
        rows.append(["one refresh, server time", "not measured: " + str(cc.get("reason", ""))[:200], "", ""])
    e = result["effect"]
    rows.append([f"queue drain (steady state), 2 workers × batch 10, {jobs:,} jobs, same database",
                 "with 1 s refresh: " + fspread(e["spread"]["with 1 s refresh"]) + " jobs/s",
                 "without: " + fspread(e["spread"]["without console"]) + " jobs/s",
                 fratio(e["ratio_with_to_without"]) + " (goal ≥ 0.98)"])
    result["table_header"] = ["what", "pgconsole", "reference", "ratio"]
    result["table"] = rows
    return result
