"""Q3 latency: enqueue-to-start with the NOTIFY doorbell vs polling only.

One producer enqueues single jobs (``client.enqueue``, one transaction each) at a fixed rate, each
carrying its wall-clock enqueue time; one pgconsole worker process (batch 10, default concurrency
and poll interval) runs them and records ``start - enqueue``. "doorbell" is the shipped
configuration (statement-level NOTIFY on INSERT, the worker LISTENs); "polling only" disables the
doorbell triggers, so the worker finds work only on its poll interval (default 1 s). Alternating.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

import psycopg

from bench import pgc
from bench.common import Env, ProcessGang, percentile, rotated, spread

DB = "bench_latency"


def set_doorbell(dsn: str, on: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for trig in ("jobs_notify_insert", "jobs_notify_update"):
            conn.execute(f"ALTER TABLE pgconsole.jobs {'ENABLE' if on else 'DISABLE'} TRIGGER {trig}")
        conn.execute("TRUNCATE pgconsole.jobs")


def produce(dsn: str, rate: float, samples: int) -> float:
    from pgconsole.queue import client

    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.monotonic()
        for i in range(samples):
            target = t0 + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            client.enqueue(conn, "noop", {"t": time.time(), "i": i})
        return time.monotonic() - t0


def once(dsn: str, rate: float, samples: int) -> dict[str, Any]:
    fd, out = tempfile.mkstemp(prefix="bench-latency-", suffix=".json")
    os.close(fd)
    try:
        gang = ProcessGang(pgc.latency_worker, (dsn, out, samples / rate + 60), 1)
        gang.start()
        gang.go.set()
        time.sleep(1.5)  # let the worker reach its idle wait (LISTEN / poll)
        produce(dsn, rate, samples)
        deadline = time.monotonic() + 15
        while gang.handled() < samples and time.monotonic() < deadline:
            time.sleep(0.05)
        gang.join()
        with open(out) as fh:
            lat = [x * 1000 for x in json.load(fh)]
    finally:
        os.unlink(out)
    return {
        "samples": len(lat),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
    }


def run(env: Env, rate: float = 50.0, samples: int | None = None) -> dict[str, Any]:
    samples = samples or (100 if env.quick else 500)
    dsn = env.fresh_database(DB)
    pgc.setup(dsn)
    runs: dict[str, list[dict[str, Any]]] = {"doorbell": [], "polling only": []}
    for rep in range(env.repeat):
        for v in rotated(list(runs), rep):
            set_doorbell(dsn, v == "doorbell")
            r = once(dsn, rate, samples)
            runs[v].append(r)
            print(
                f"  latency {v:12s} rep {rep}: p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms "
                f"({r['samples']} samples)",
                flush=True,
            )
    set_doorbell(dsn, True)
    from bench.report import fspread

    rows = []
    summary: dict[str, Any] = {}
    for v, rs in runs.items():
        p50 = spread([r["p50_ms"] for r in rs])
        p99 = spread([r["p99_ms"] for r in rs])
        summary[v] = {"p50_ms": p50, "p99_ms": p99}
        rows.append([v, fspread(p50, 1, " ms"), fspread(p99, 1, " ms"), str(sum(r["samples"] for r in rs))])
    return {
        "rate_per_s": rate,
        "samples_per_run": samples,
        "runs": runs,
        "summary": summary,
        "table_header": ["mode", "p50 enqueue→start (min–max over reps)", "p99", "samples"],
        "table": rows,
    }
