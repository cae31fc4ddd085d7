"""Q9 NOTIFY cost: enqueue throughput of 4 producers with the doorbell per statement (pgconsole's
default), per row (its optional feed, on top of the statement doorbell) and none (both triggers
disabled), alternating, on pgconsole.jobs. Each producer commits one INSERT of 10 rows per
transaction (a plain INSERT is a valid enqueue by contract) for a fixed time; one session LISTENs
on both channels and drains, as a worker would.

Also the drain side: the same doorbell trigger fires on the claim and complete UPDATEs, so the
SQL-API drain (4 workers, batch 10) is measured with the triggers on and off.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench import pgc
from bench.common import MP, Env, Flag, ProcessGang, add_count, ratio, rotated, spread, wait_until

DB = "bench_notify"
ROWS_PER_STATEMENT = 10
INSERT = (
    "INSERT INTO pgconsole.jobs (job_type, payload) "
    "SELECT 'noop', jsonb_build_object('i', g) FROM generate_series(1, %s) g"
)

VARIANTS: dict[str, tuple[bool, bool]] = {  # name -> (statement trigger on, row trigger on)
    "none": (False, False),
    "per_statement": (True, False),
    "per_row": (True, True),
}


def set_variant(dsn: str, variant: str) -> None:
    stmt, row = VARIANTS[variant]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for trig in ("jobs_notify_insert", "jobs_notify_update"):
            conn.execute(f"ALTER TABLE pgconsole.jobs {'ENABLE' if stmt else 'DISABLE'} TRIGGER {trig}")
        conn.execute(f"ALTER TABLE pgconsole.jobs {'ENABLE' if row else 'DISABLE'} TRIGGER jobs_notify_row")
        conn.execute("TRUNCATE pgconsole.jobs")
        conn.execute("CHECKPOINT")


def producer(dsn: str, seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    with psycopg.connect(dsn, autocommit=True, application_name="bench-producer") as conn:
        add_count(ready, 1)
        go.wait(120)
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline and not stop.is_set():
            conn.execute(INSERT, (ROWS_PER_STATEMENT,))
            n += ROWS_PER_STATEMENT
        add_count(counter, n)


def listener(dsn: str, seconds: float, started: Any, done: Any, counter: Any) -> None:
    with psycopg.connect(dsn, autocommit=True, application_name="bench-listener") as conn:
        conn.execute("LISTEN pgconsole_jobs")
        conn.execute("LISTEN pgconsole_job_status")
        started.set()
        n = 0
        deadline = time.monotonic() + seconds + 30
        while not done.is_set() and time.monotonic() < deadline:
            for _ in conn.notifies(timeout=0.2):
                n += 1
        for _ in conn.notifies(timeout=0.2):  # what was still in flight
            n += 1
        add_count(counter, n)


def produce_once(dsn: str, seconds: float, producers: int) -> dict[str, Any]:
    heard = MP.Value("q", 0)
    started = MP.Event()
    done = Flag(MP.RawArray("b", 1))
    lst = MP.Process(target=listener, args=(dsn, seconds, started, done, heard))
    lst.start()
    started.wait(30)
    gang = ProcessGang(producer, (dsn, seconds), producers)
    gang.start()
    t0 = time.perf_counter()
    gang.go.set()
    wait_until(lambda: not gang.any_alive(), seconds + 30, 0.05)
    elapsed = time.perf_counter() - t0
    gang.join()
    done.set()
    lst.join(10)
    if lst.is_alive():
        lst.terminate()
        lst.join(5)
    return {
        "rows": gang.handled(),
        "seconds": elapsed,
        "jobs_per_s": gang.handled() / elapsed,
        "notifications_heard": int(heard.value),
    }


def run(
    env: Env, seconds: float | None = None, producers: int = 4, drain_jobs: int | None = None
) -> dict[str, Any]:
    seconds = seconds or (2.0 if env.quick else 10.0)
    drain_jobs = drain_jobs or (5_000 if env.quick else 20_000)
    dsn = env.fresh_database(DB)
    pgc.install_schema(dsn)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for rep in range(env.repeat):
        for v in rotated(list(VARIANTS), rep):
            set_variant(dsn, v)
            r = produce_once(dsn, seconds, producers)
            r["rep"] = rep
            runs[v].append(r)
            print(f"  notify_cost produce {v:13s} rep {rep}: {r['jobs_per_s']:,.0f} jobs/s", flush=True)
    sp = {v: spread([r["jobs_per_s"] for r in rs]) for v, rs in runs.items()}
    # drain with the doorbell on the claim/complete UPDATEs vs off (pgconsole's SQL API, 4 workers, batch 10)
    from bench.throughput import System, drain_once

    sys_ = System("pgconsole-sql", DB, pgc.sql_setup, pgc.sql_fill, pgc.remaining, pgc.sql_worker)
    drains: dict[str, list[dict[str, Any]]] = {"none": [], "per_statement": []}
    for rep in range(env.repeat):
        for v in rotated(list(drains), rep):
            set_variant(dsn, v)
            r = drain_once(sys_, dsn, drain_jobs, 4, 10, 600)
            drains[v].append(r)
            print(
                f"  notify_cost drain {v:13s} rep {rep}: steady {(r['steady_jobs_per_s'] or 0):,.0f} jobs/s",
                flush=True,
            )
    dsp = {
        v: spread([r["steady_jobs_per_s"] for r in rs if r["steady_jobs_per_s"]]) for v, rs in drains.items()
    }
    set_variant(dsn, "per_statement")
    from bench.report import fspread

    def med(d: dict[str, Any], k: str) -> float | None:
        return d.get(k, {}).get("median")

    rows = [
        [
            f"enqueue, {producers} producers × INSERT of {ROWS_PER_STATEMENT} rows/txn, {seconds:.0f} s",
            fspread(sp["none"]),
            fspread(sp["per_statement"]),
            fspread(sp["per_row"]),
            f"{ratio(med(sp, 'per_statement'), med(sp, 'none')):.2f}×",
            f"{ratio(med(sp, 'per_row'), med(sp, 'none')):.2f}×",
        ],
        [
            f"drain {drain_jobs:,} jobs, 4 workers × claim_jobs/complete_jobs batch 10 (steady state)",
            fspread(dsp["none"]),
            fspread(dsp["per_statement"]),
            "not measured",
            f"{(ratio(med(dsp, 'per_statement'), med(dsp, 'none')) or 0):.2f}×",
            "—",
        ],
    ]
    return {
        "seconds": seconds,
        "producers": producers,
        "rows_per_statement": ROWS_PER_STATEMENT,
        "produce_runs": runs,
        "produce_spread": sp,
        "drain_runs": drains,
        "drain_spread": dsp,
        "table_header": [
            "workload",
            "none jobs/s",
            "per statement jobs/s",
            "per row (+statement) jobs/s",
            "statement / none",
            "row / none",
        ],
        "table": rows,
    }
