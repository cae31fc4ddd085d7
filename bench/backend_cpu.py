"""Server CPU per job of the worker's statement vs the bare loop's two, at 1 and at N sessions.

    .venv/bin/python -m bench.backend_cpu [--sessions 1,4] [--batches 2500] [--repeat 3]

Why: a pgconsole job costs the server more CPU than a bare-loop job, and pgconsole's table (26
columns, eleven indexes, twelve CHECK constraints) is the first suspect. This separates the
per-row work from what concurrency adds: each session is a thread with its own connection that
runs, batch after batch, exactly the statements of one side, and the figure is the CPU of those
sessions' backends only (``/proc/<pid>/stat`` before and after, read while they are connected),
divided by the jobs they handled. Python's own CPU is not in it, and neither is the rest of the
server; autovacuum is off on the table during the loop (it would land in one side's window or the
other's at random), and one ``VACUUM`` of the table after the loop is measured on its own backend
and reported per job next to it.

* ``pgconsole``: ``pgconsole.complete_and_claim_jobs`` as the worker runtime sends it (its
  client helper), one statement per batch, with the previous batch's ids and attempts;
* ``bare``: the bare loop's claim and finish (``bench/peers.py``), two statements per batch.

Sides alternate between repetitions; each repetition refills the table.
"""

from __future__ import annotations

import argparse
import statistics
import threading
from typing import Any

import psycopg
from psycopg import sql

from bench import peers, pgc
from bench.common import Env, embedded_server, server_version
from bench.dashboard import _cpu_seconds

BATCH = 100


def _pgconsole_loop(conn: psycopg.Connection[Any], batches: int) -> int:
    from pgconsole.queue import client

    done = 0
    ids: list[str] = []
    attempts: list[int] = []
    with client._claim_cursor(conn) as cur:
        for _ in range(batches):
            _completed, rows = client._complete_and_claim_rows(
                cur, "bench-cpu", ids, attempts, None, BATCH, lease_seconds=300
            )
            if not rows:
                break
            ids = [r[0].hex() for r in rows]  # the id's 16 bytes
            attempts = [r[3] for r in rows]
            done += len(rows)
        client._complete_and_claim_rows(cur, "bench-cpu", ids, attempts, None, 1, lease_seconds=300)
    return done


def _bare_loop(conn: psycopg.Connection[Any], batches: int) -> int:
    done = 0
    for _ in range(batches):
        rows = conn.execute(peers.BARE_CLAIM, ("bench-cpu", BATCH)).fetchall()
        if not rows:
            break
        conn.execute(peers.BARE_FINISH, ([r[0] for r in rows],))
        done += len(rows)
    return done


LOOPS = {"pgconsole": _pgconsole_loop, "bare": _bare_loop}
TABLES = {"pgconsole": sql.Identifier("pgconsole", "jobs"), "bare": sql.Identifier("bare", "jobs")}


def one_run(side: str, dsn: str, sessions: int, batches: int) -> dict[str, float]:
    """Fill, then ``sessions`` threads each run ``batches`` batches; backend CPU per job."""
    n = sessions * batches * BATCH + 10 * BATCH
    if side == "bare":
        peers.bare_fill(dsn, n)
    else:
        pgc.fill_sql(dsn, n)
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(sessions)]
    try:
        pids = [c.info.backend_pid for c in conns]
        go = threading.Barrier(sessions + 1)
        handled = [0] * sessions

        def run(i: int) -> None:
            go.wait()
            handled[i] = LOOPS[side](conns[i], batches)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(sessions)]
        for t in threads:
            t.start()
        cpu0 = sum(_cpu_seconds(p) for p in pids)
        go.wait()
        for t in threads:
            t.join()
        loop_cpu = sum(_cpu_seconds(p) for p in pids) - cpu0
        with psycopg.connect(dsn, autocommit=True) as vac:
            v0 = _cpu_seconds(vac.info.backend_pid)
            vac.execute(sql.SQL("VACUUM {}").format(TABLES[side]))
            vacuum_cpu = _cpu_seconds(vac.info.backend_pid) - v0
    finally:
        for c in conns:
            c.close()
    jobs = sum(handled)
    return {"jobs": jobs, "us_per_job": loop_cpu / jobs * 1e6, "vacuum_us_per_job": vacuum_cpu / jobs * 1e6}


def measure(
    admin: str, sessions_list: list[int], batches: int, repeat: int
) -> dict[int, dict[str, list[dict[str, float]]]]:
    env = Env(admin_dsn=admin)
    dsns = {
        "pgconsole": env.fresh_database("bench_backend_cpu_pgc"),
        "bare": env.fresh_database("bench_backend_cpu_bare"),
    }
    pgc.setup(dsns["pgconsole"])
    peers.bare_setup(dsns["bare"])
    for side, dsn in dsns.items():
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = off)").format(TABLES[side]))
    out: dict[int, dict[str, list[dict[str, float]]]] = {}
    for sessions in sessions_list:
        res: dict[str, list[dict[str, float]]] = {"pgconsole": [], "bare": []}
        for rep in range(repeat):
            for side in list(res) if rep % 2 == 0 else list(res)[::-1]:
                res[side].append(one_run(side, dsns[side], sessions, batches))
        out[sessions] = res
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.backend_cpu", description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,4", help="comma-separated session counts")
    ap.add_argument("--batches", type=int, default=2500, help=f"batches of {BATCH} per session")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    sessions_list = [int(s) for s in a.sessions.split(",")]
    with embedded_server({"max_connections": "200"}) as (admin, _version):
        res = measure(admin, sessions_list, a.batches, a.repeat)
        print(
            f"{server_version(admin).split(' on ')[0]}: batch {BATCH}, {a.batches:,} batches per session, "
            f"median of {a.repeat} (all runs); backend CPU of the loop's sessions, then one VACUUM"
        )
        print("| sessions | side | µs per job (runs) | VACUUM µs per job | pgconsole / bare |")
        print("|---|---|---|---|---|")
        for sessions, by_side in res.items():
            med = {s: statistics.median(r["us_per_job"] for r in rows) for s, rows in by_side.items()}
            for side, rows in by_side.items():
                runs = ", ".join(f"{r['us_per_job']:.1f}" for r in rows)
                vac = statistics.median(r["vacuum_us_per_job"] for r in rows)
                rel = f"{med['pgconsole'] / med['bare']:.2f}×" if side == "pgconsole" else ""
                print(f"| {sessions} | {side} | {med[side]:.1f} ({runs}) | {vac:.1f} | {rel} |")


if __name__ == "__main__":
    main()
