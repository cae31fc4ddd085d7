"""Enqueue-to-start latency of an idle worker: direct, through PgBouncer with listen_dsn, and
through PgBouncer polling (no listen_dsn).

    python -m bench.pgbouncer_latency [--jobs 50] [--rounds 3] [--load 4] [--poll 1.0]

Starts the embedded PostgreSQL 18 and a real PgBouncer (the Debian package, transaction mode, pool
of 3), then per round and per side (interleaved, so a noisy neighbour hits all sides alike): one
worker (the API, concurrency 1, batch 1) idle on its doorbell; ``--jobs`` jobs enqueued one at a
time, each after the previous one completed; latency = ``started_at - created_at`` of each job
(both the server's clock: the claim's and the enqueue's transaction). ``--load`` clients run short
transactions through the worker's pool meanwhile, so the pool is shared as in production.
Prints medians and p90 per side and the ratio pooled+listen_dsn / direct (issue 18 asks ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

import psycopg

from pgconsole.queue import client
from pgconsole.queue.worker import Worker, WorkerConfig
from tests.pgcluster import TestDB, start_cluster
from tests.pooler.bouncer import start_bouncer


def _noop(job: Any) -> None:
    return None


def _background(dsn: str, n: int, stop: threading.Event) -> list[threading.Thread]:
    def body() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as c:
                while not stop.is_set():
                    c.execute("SELECT pg_sleep(0.002)")
                    time.sleep(0.003)
        except psycopg.OperationalError:
            if not stop.is_set():
                raise

    threads = [threading.Thread(target=body, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def measure(db: TestDB, dsn: str, listen_dsn: str | None, jobs: int, poll: float, tag: str) -> list[float]:
    worker = Worker(
        WorkerConfig(
            dsn=dsn,
            handler=_noop,
            concurrency=1,
            batch=1,
            worker_id=f"bench-{tag}",
            listen_dsn=listen_dsn,
            poll_interval=poll,
            rescue_interval=0,
        )
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with psycopg.connect(db.dsn, autocommit=True) as a:
            time.sleep(0.5)  # started and idle
            ids = []
            for i in range(jobs):
                ids.append(client.enqueue(a, "bench.latency", {"i": i}))
                deadline = time.monotonic() + poll + 10
                while time.monotonic() < deadline:
                    row = a.execute("SELECT status FROM pgconsole.jobs WHERE id = %s", (ids[-1],)).fetchone()
                    if row and row[0] == "completed":
                        break
                    time.sleep(0.002)
                time.sleep(0.02)  # idle again, waiting on the doorbell
            rows = a.execute(
                "SELECT extract(epoch FROM started_at - created_at)::float8 FROM pgconsole.jobs"
                " WHERE id = ANY(%s) AND started_at IS NOT NULL",
                (ids,),
            ).fetchall()
    finally:
        worker.stop()
        thread.join(30)
    return [r[0] * 1000 for r in rows]


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.pgbouncer_latency")
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--load", type=int, default=4, help="clients sharing the worker's pool")
    ap.add_argument("--poll", type=float, default=1.0, help="the polling worker's --poll")
    args = ap.parse_args(argv)
    cluster = start_cluster("pg18")
    try:
        db = TestDB(cluster, cluster.new_database("bench"))
        bouncer = start_bouncer(cluster, mode="transaction", pool_size=3)
        stop = threading.Event()
        try:
            pooled = bouncer.dsn(db.name, "pgconsole_worker")
            direct = db.dsn_as("pgconsole_worker")
            _background(pooled, args.load, stop)
            sides: dict[str, list[float]] = {
                "direct": [],
                "pgbouncer+listen_dsn": [],
                "pgbouncer polling": [],
            }
            for r in range(args.rounds):
                sides["direct"] += measure(db, direct, None, args.jobs, 10.0, f"d{r}")
                sides["pgbouncer+listen_dsn"] += measure(db, pooled, direct, args.jobs, 10.0, f"l{r}")
                sides["pgbouncer polling"] += measure(
                    db, pooled, None, max(5, args.jobs // 5), args.poll, f"p{r}"
                )
        finally:
            stop.set()
            bouncer.stop()
    finally:
        cluster.stop()
    print(
        f"enqueue-to-start latency, idle worker, PgBouncer 1.18 transaction pool of 3 shared with "
        f"{args.load} busy clients; {args.rounds} interleaved rounds"
    )
    for name, values in sides.items():
        print(
            f"  {name:22s} n={len(values):4d}  median {statistics.median(values):8.2f} ms"
            f"  p90 {_p(values, 0.9):8.2f} ms"
        )
    ratio = statistics.median(sides["pgbouncer+listen_dsn"]) / statistics.median(sides["direct"])
    print(f"  ratio pgbouncer+listen_dsn / direct (medians): {ratio:.2f}x (issue 18: <= 1.5x)")


if __name__ == "__main__":
    main()
