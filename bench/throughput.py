"""Q1 burn-down: pre-enqueue N no-op jobs, drain them with W worker processes at claim batch B.

Systems side by side on the same server, alternating order per repetition: pgconsole's worker
runtime, PgQueuer (same W, same batch) and a bare SKIP LOCKED loop (the ceiling for a Python
client). Time runs from the shared 'go' (all workers connected) until the database confirms every
job finished. Reported: jobs/s (min/median/max), ratio to PgQueuer, ratio to the bare loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import peers, pgc
from bench.common import Env, ProcessGang, Skipped, ratio, rotated, spread, wait_until


@dataclass
class System:
    name: str
    db: str
    setup: Callable[[str], None]
    fill: Callable[[str, int], None]
    remaining: Callable[[str], int]
    worker: Callable[..., None]


def systems() -> dict[str, System]:
    return {
        "pgconsole": System("pgconsole", pgc.PGC_DB, pgc.setup, pgc.fill, pgc.remaining, pgc.worker),
        "pgqueuer": System(
            "pgqueuer", peers.PGQ_DB, peers.pgq_setup, peers.pgq_fill, peers.pgq_remaining, peers.pgq_worker
        ),
        "pgconsole-sql": System(
            "pgconsole-sql", pgc.PGC_SQL_DB, pgc.sql_setup, pgc.sql_fill, pgc.remaining, pgc.sql_worker
        ),
        "pgconsole-table": System(
            "pgconsole-table",
            "bench_pgconsole_table",
            pgc.sql_setup,
            pgc.sql_fill,
            pgc.remaining,
            pgc.table_worker,
        ),
        "bare": System(
            "bare", peers.BARE_DB, peers.bare_setup, peers.bare_fill, peers.bare_remaining, peers.bare_worker
        ),
    }


def prepare(env: Env, names: list[str]) -> tuple[dict[str, System], dict[str, str], dict[str, str]]:
    """Create one database per system; return the ready ones, their DSNs, and skip reasons."""
    ready: dict[str, System] = {}
    dsns: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name in names:
        s = systems()[name]
        try:
            dsn = env.fresh_database(s.db)
            s.setup(dsn)
        except Skipped as e:
            skipped[name] = str(e)
            continue
        except Exception as e:  # e.g. a half-built migration of pgconsole: report, keep the peers
            skipped[name] = f"setup failed: {type(e).__name__}: {str(e).splitlines()[0]}"
            continue
        ready[name] = s
        dsns[name] = dsn
    return ready, dsns, skipped


def drain_once(
    system: System,
    dsn: str,
    jobs: int,
    workers: int,
    batch: int,
    max_seconds: float,
    extra: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Fill, start the gang, time the drain. ``extra`` may start a side load (returns a stopper)."""
    system.fill(dsn, jobs)
    gang = ProcessGang(system.worker, (dsn, batch, max_seconds), workers)
    gang.start()
    stopper = extra() if extra else None
    try:
        t0 = time.perf_counter()
        gang.go.set()
        # Watch the shared counters (no database load): the steady-state rate is taken between 10 %
        # and 90 % of the jobs handled, so start-up and drain-detection costs (fixed per run, and
        # large for short runs) do not dominate; then confirm the end in the database.
        t10 = t90 = None
        deadline = t0 + max_seconds
        while time.perf_counter() < deadline:
            h = gang.handled()
            now = time.perf_counter()
            if t10 is None and h >= 0.1 * jobs:
                t10 = now
            if t90 is None and h >= 0.9 * jobs:
                t90 = now
            if h >= jobs or not gang.any_alive():
                break
            time.sleep(0.002)
        confirmed = wait_until(
            lambda: system.remaining(dsn) == 0, 30 if gang.handled() >= jobs else 0.1, 0.005
        )
        elapsed = time.perf_counter() - t0
    finally:
        if stopper is not None:
            stopper()
        gang.join()
    handled = gang.handled()
    return {
        "jobs": jobs,
        "handled": handled,
        "seconds": elapsed,
        "jobs_per_s": jobs / elapsed if confirmed else None,
        "steady_jobs_per_s": 0.8 * jobs / (t90 - t10) if confirmed and t10 and t90 and t90 > t10 else None,
        "complete": confirmed,
        "worker_failed": gang.failed(),
    }


def jobs_for(batch: int, full_jobs: int, env: Env, job_scale: dict[int, int] | None) -> int:
    if job_scale and batch in job_scale:
        return job_scale[batch]
    if env.quick:
        return {1: 2_000, 10: 10_000}.get(batch, 20_000)
    return full_jobs


def run(
    env: Env,
    *,
    workers: tuple[int, ...] = (1, 2, 4),
    batches: tuple[int, ...] = (1, 10, 100),
    names: tuple[str, ...] = ("pgconsole", "pgqueuer", "pgconsole-sql", "bare"),
    jobs: int = 200_000,
    job_scale: dict[int, int] | None = None,
    max_seconds: float = 600,
) -> dict[str, Any]:
    ready, dsns, skipped = prepare(env, list(names))
    cells: list[dict[str, Any]] = []
    for w in workers:
        for b in batches:
            n = jobs_for(b, jobs, env, job_scale)
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in ready}
            for rep in range(env.repeat):
                for name in rotated(list(ready), rep):
                    r = drain_once(ready[name], dsns[name], n, w, b, max_seconds)
                    r["rep"] = rep
                    runs[name].append(r)
                    print(
                        f"  throughput W{w} b{b} {name:13s} rep {rep}: steady {(r['steady_jobs_per_s'] or 0):,.0f}"
                        f" jobs/s, end-to-end {(r['jobs_per_s'] or 0):,.0f} jobs/s ({r['seconds']:.2f} s)",
                        flush=True,
                    )
            cell: dict[str, Any] = {"workers": w, "batch": b, "jobs": n, "runs": runs, "spread": {}}
            cell["spread_end_to_end"] = {}
            for name, rs in runs.items():
                cell["spread"][name] = spread([r["steady_jobs_per_s"] for r in rs if r["steady_jobs_per_s"]])
                cell["spread_end_to_end"][name] = spread([r["jobs_per_s"] for r in rs if r["jobs_per_s"]])
            med = {k: v.get("median") for k, v in cell["spread"].items()}
            e2e = {k: v.get("median") for k, v in cell["spread_end_to_end"].items()}
            cell["ratio_end_to_end_pgconsole_to_pgqueuer"] = ratio(e2e.get("pgconsole"), e2e.get("pgqueuer"))
            cell["ratio_end_to_end_pgconsole_to_bare"] = ratio(e2e.get("pgconsole"), e2e.get("bare"))
            cell["ratio_pgconsole_to_pgqueuer"] = ratio(med.get("pgconsole"), med.get("pgqueuer"))
            cell["ratio_pgconsole_to_bare"] = ratio(med.get("pgconsole"), med.get("bare"))
            cell["ratio_pgqueuer_to_bare"] = ratio(med.get("pgqueuer"), med.get("bare"))
            cell["ratio_pgconsole_sql_to_bare"] = ratio(med.get("pgconsole-sql"), med.get("bare"))
            cell["ratio_pgconsole_sql_to_pgqueuer"] = ratio(med.get("pgconsole-sql"), med.get("pgqueuer"))
            cells.append(cell)
    return {
        "cells": cells,
        "skipped": skipped,
        "goal": "pgconsole >= 1.5x PgQueuer at every cell; >= 0.8x bare at batch >= 10",
    }
