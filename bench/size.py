"""Q4 size invariance and Q8 retention.

Size: claim 10 + complete latency with 0.1M, 1M and 10M finished jobs in history, using
:mod:`bench.claim_size` (owned by the queue issue) for the 0.1M and 1M databases and its
measurement loop; the 10M side is the shared history database (:mod:`bench.dataset`). Each
repetition alternates rounds between the two databases of a pair; ratio = median large / median small.

Retention: expire the history of the 10M database with ``pgconsole.cleanup_old_jobs`` (batched
DELETE, 5,000 rows per call, as ``pgconsole maintain`` does) within a time budget, while a worker
stand-in claims and completes 10 jobs every 50 ms: rows/s, WAL bytes, and the probe's claim p99
before and during. This runs last: it deletes the shared history.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench.common import MP, Env, Flag, percentile, spread
from bench.dataset import HISTORY_DB, ensure_history


def claim_probe(dsn: str, interval: float, stop: Any, max_seconds: float, out_path: str) -> None:
    import json

    lat: list[float] = []
    deadline = time.monotonic() + max_seconds
    with psycopg.connect(dsn, autocommit=True, application_name="bench-claim-probe") as conn:
        while not stop.is_set() and time.monotonic() < deadline:
            t0 = time.perf_counter()
            rows = conn.execute("SELECT id, attempt FROM pgconsole.claim_jobs('bench-probe', 10)").fetchall()
            lat.append((time.perf_counter() - t0) * 1000)
            if rows:
                conn.execute(
                    "SELECT count(*) FROM pgconsole.complete_jobs('bench-probe', %s, %s)",
                    ([r[0] for r in rows], [r[1] for r in rows]),
                )
            rest = interval - (time.perf_counter() - t0)
            if rest > 0:
                time.sleep(rest)
    with open(out_path, "w") as fh:
        json.dump(lat, fh)


def probe_during(dsn: str, seconds_max: float, work: Any) -> tuple[Any, list[float]]:
    import json
    import os
    import tempfile

    fd, out = tempfile.mkstemp(prefix="bench-probe-", suffix=".json")
    os.close(fd)
    stop = Flag(MP.RawArray("b", 1))
    p = MP.Process(target=claim_probe, args=(dsn, 0.05, stop, seconds_max, out))
    p.start()
    try:
        result = work()
    finally:
        stop.set()
        p.join(30)
        if p.is_alive():
            p.terminate()
    with open(out) as fh:
        lat = json.load(fh)
    os.unlink(out)
    return result, lat


def retention(env: Env, budget: float, base_seconds: float = 5.0) -> dict[str, Any]:
    dsn = env.dsn(HISTORY_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute(
            "SELECT count(*) FROM pgconsole.jobs WHERE status IN ('completed','failed','cancelled','expired')"
        ).fetchone()
        # the shared history is consumed from here on: make the next ensure_history rebuild it
        conn.execute("UPDATE public.bench_meta SET finished = -1")
    _, base = probe_during(dsn, base_seconds + 5, lambda: time.sleep(base_seconds))

    def work() -> dict[str, Any]:
        with psycopg.connect(dsn, autocommit=True, application_name="bench-retention") as conn:
            lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
            t0 = time.perf_counter()
            deleted = 0
            calls = 0
            per_call: list[float] = []
            while time.perf_counter() - t0 < budget:
                c0 = time.perf_counter()
                row = conn.execute(
                    "SELECT pgconsole.cleanup_old_jobs('0 seconds', '0 seconds', 5000)"
                ).fetchone()
                per_call.append((time.perf_counter() - c0) * 1000)
                calls += 1
                n = int(row[0]) if row else 0
                deleted += n
                if n == 0:
                    break
            elapsed = time.perf_counter() - t0
            wal = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0[0] if lsn0 else None,)
            ).fetchone()
        return {
            "deleted": deleted,
            "seconds": elapsed,
            "calls": calls,
            "wal_bytes": float(wal[0]) if wal else None,
            "call_ms": spread(per_call),
            "finished_all": deleted >= (before[0] if before else 0),
        }

    res, during = probe_during(dsn, budget + 60, work)
    res["history_before"] = before[0] if before else None
    res["rows_per_s"] = res["deleted"] / res["seconds"] if res["seconds"] else None
    res["wal_bytes_per_row"] = (
        res["wal_bytes"] / res["deleted"] if res["deleted"] and res["wal_bytes"] else None
    )
    res["claim_ms_before"] = {"n": len(base), "p50": percentile(base, 50), "p99": percentile(base, 99)}
    res["claim_ms_during"] = {
        "n": len(during),
        "p50": percentile(during, 50),
        "p99": percentile(during, 99),
        "max": max(during) if during else None,
    }
    res["goal"] = "probe claim p99 during retention < 50 ms"
    return res


def run(
    env: Env,
    finished: int | None = None,
    pending: int | None = None,
    retention_budget: float | None = None,
    rounds: int | None = None,
    sizes: list[int] | None = None,
) -> dict[str, Any]:
    from bench import claim_size

    finished = finished if finished is not None else (100_000 if env.quick else 10_000_000)
    pending = pending if pending is not None else (1_000 if env.quick else 100_000)
    retention_budget = retention_budget or (10.0 if env.quick else 150.0)
    rounds = rounds or (2 if env.quick else 7)
    sizes = sizes or ([100_000, 1_000_000] if not env.quick else [10_000, 50_000])
    dsns: dict[int, str] = {}
    for n in sizes:
        dsns[n] = claim_size.prepare(env.dsn, f"claim_size_{n}", n)
    hist = ensure_history(env, finished, pending)
    dsns[finished] = hist["dsn"]
    small = sizes[0]
    pairs: dict[str, Any] = {}
    for large in [n for n in dsns if n != small]:
        reps = []
        for _ in range(env.repeat):
            reps.append(
                claim_size.measure(
                    dsns[small], dsns[large], rounds=rounds, per_round=50 if env.quick else 100
                )
            )
        pairs[str(large)] = {
            "small_ms": spread([r["small_ms"] for r in reps]),
            "large_ms": spread([r["large_ms"] for r in reps]),
            "ratio": spread([r["ratio"] for r in reps]),
            "claims_each_per_rep": reps[0]["claims_each"],
        }
        print(f"  size {small:,} vs {large:,}: ratio {pairs[str(large)]['ratio']}", flush=True)
    ret = retention(env, retention_budget, base_seconds=1.0 if env.quick else 5.0)
    print(
        f"  retention: {ret['deleted']:,} rows in {ret['seconds']:.0f} s; probe p99 during "
        f"{ret['claim_ms_during']['p99']:.1f} ms",
        flush=True,
    )
    from bench.report import fmt, fspread

    rows = [
        [
            f"{small:,} vs {int(k):,}",
            fspread(v["small_ms"], 3, " ms"),
            fspread(v["large_ms"], 3, " ms"),
            fspread(v["ratio"], 3),
            "≤ 1.2",
        ]
        for k, v in pairs.items()
    ]
    rrows = [
        [
            f"{ret['deleted']:,} of {fmt(ret['history_before'])} finished rows",
            f"{ret['seconds']:.0f} s ({fmt(ret['rows_per_s'])} rows/s)",
            f"{(ret['wal_bytes'] or 0) / 2**20:,.0f} MiB ({fmt(ret['wal_bytes_per_row'])} B/row)",
            f"{ret['claim_ms_before']['p99']:.1f} ms",
            f"{ret['claim_ms_during']['p99']:.1f} ms",
            "< 50 ms",
        ]
    ]
    return {
        "pairs": pairs,
        "retention": ret,
        "history": hist,
        "table_header": [
            "history small vs large",
            "claim 10 median, small",
            "claim 10 median, large",
            "ratio large/small",
            "goal",
        ],
        "table": rows,
        "retention_header": [
            "expired (batched DELETE, 5,000/call)",
            "time",
            "WAL",
            "probe claim p99 before",
            "during",
            "goal",
        ],
        "retention_table": rrows,
    }
