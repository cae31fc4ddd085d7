"""Server side only: the bare loop's statements vs pgconsole's, driven by pgbench (no Python).

    .venv/bin/python -m bench.server_side                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.server_side --dsn URI       # a superuser DSN of a scratch server

Why: the throughput table compares whole clients (Python included). This takes the client out:
pgbench (C) runs each side's statements for a batch of ``--batch`` (10) no-op jobs, one pgbench
transaction per batch, at 1 and 2 clients (``--clients``), sides alternating, ``--repeat`` times, each on a freshly filled table:

* ``bare``: the bare loop's claim and finish (bench/peers.py) on its 9-column table;
* ``pgc-raw``: the same two steps written as plain SQL on ``pgconsole.jobs`` (claim_jobs_lean's
  UPDATE, then complete_jobs' UPDATE), no function call;
* ``pgc-call``: ``pgconsole.complete_and_claim_jobs``, the worker's one call per batch.

jobs/s = pgbench tps x batch. What ``pgc-raw`` loses to ``bare`` is the table (row width, indexes,
constraints); what ``pgc-call`` gains back is one round trip and one commit per batch.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bench import peers, pgc
from bench.common import embedded_server

BATCH = 10  # the LIMIT and the limit argument written in SCRIPTS (--batch rewrites them)


def _scripts(batch: int) -> dict[str, str]:
    return {
        k: v.replace("LIMIT 10 ", "LIMIT " + str(batch) + " ").replace(
            "NULL, 10, 300", "NULL, " + str(batch) + ", 300"
        )
        for k, v in SCRIPTS.items()
    }


SCRIPTS = {
    "bare": """
WITH c AS (UPDATE bare.jobs SET status = 'running', locked_by = 'w', locked_at = now(), attempts = attempts + 1
  WHERE id IN (SELECT id FROM bare.jobs WHERE status = 'queued'
               ORDER BY priority DESC, scheduled_at, id LIMIT 10 FOR UPDATE SKIP LOCKED)
  RETURNING id, payload) SELECT array_agg(id)::text AS ids FROM c \\gset
UPDATE bare.jobs SET status = 'done' WHERE id = ANY(':ids'::bigint[]) AND status = 'running';
""",
    "pgc-raw": """
WITH u AS (UPDATE pgconsole.jobs j SET status = 'processing', attempt = j.attempt + 1, locked_by = 'w',
         started_at = now(), heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => 300),
         updated_at = now(), progress_percent = 0, progress_message = NULL, cancel_requested_at = NULL
   WHERE j.id = ANY (ARRAY(SELECT c.id FROM pgconsole.jobs c WHERE c.status = 'pending' AND c.scheduled_at <= now()
           AND (c.expires_at IS NULL OR c.expires_at > now())
         ORDER BY c.priority DESC, c.scheduled_at LIMIT 10 FOR UPDATE SKIP LOCKED)) AND j.status = 'pending'
  RETURNING j.id, j.job_type, j.payload, j.attempt, j.priority, j.retry_count, j.max_retries, j.user_id,
            j.tenant_id, j.lease_expires_at)
SELECT array_agg(id)::text AS ids, array_agg(attempt)::text AS att FROM u \\gset
UPDATE pgconsole.jobs j SET status = 'completed', completed_at = now(), updated_at = now(), result = NULL,
       progress_percent = 100, lease_expires_at = NULL, cancel_requested_at = NULL
  FROM unnest(':ids'::uuid[], ':att'::int[]) AS u(i, a)
 WHERE j.id = u.i AND j.attempt = u.a AND j.status = 'processing' AND j.locked_by = 'w';
""",
    "pgc-call": """
SELECT coalesce(array_agg(id) FILTER (WHERE id IS NOT NULL), '{}')::text AS ids,
       coalesce(array_agg(attempt) FILTER (WHERE id IS NOT NULL), '{}')::text AS att
  FROM pgconsole.complete_and_claim_jobs('w', ':ids'::uuid[], ':att'::int[], NULL, 10, 300) \\gset
""",
}


def _pgbench() -> str:
    from pgconsole.embedded import wheel_bin_dir

    return str(wheel_bin_dir() / "pgbench")


def _fill(dsn: str, side: str, n: int) -> None:
    if side == "bare":
        peers.bare_fill(dsn, n)
    else:
        pgc.fill_sql(dsn, n)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _run(dsn: str, script: Path, clients: int, seconds: int, batch: int) -> float:
    # pgbench keeps a client's variables across its transactions: each batch completes the last one
    out = subprocess.run(
        [
            _pgbench(),
            "-n",
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-T",
            str(seconds),
            "-D",
            "ids={}",
            "-D",
            "att={}",
            "-f",
            str(script),
            dsn,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    m = re.search(r"tps = ([\d.]+)", out.stdout)
    if not m or "aborted" in out.stderr:
        raise RuntimeError(f"pgbench failed: {out.stdout[-400:]} {out.stderr[-400:]}")
    return float(m.group(1)) * batch


def measure(
    dsn: str,
    repeat: int,
    seconds: int,
    jobs: int,
    batch: int = BATCH,
    clients_list: tuple[int, ...] = (1, 2),
) -> None:
    pgc.install_schema(dsn)
    peers.bare_setup(dsn)
    sides = dict(SCRIPTS)
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {}
        texts = _scripts(batch)
        for name in sides:
            scripts[name] = Path(tmp) / f"{name}.sql"
            scripts[name].write_text(texts[name])
        print(f"pgbench, batch {batch}, {seconds} s per run, {repeat} runs per cell, sides alternating")
        print("| clients | side | jobs/s median (min–max) | ratio to bare |")
        print("|---|---|---|---|")
        for clients in clients_list:
            res: dict[str, list[float]] = {k: [] for k in sides}
            for r in range(repeat):
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for side in order:
                    _fill(dsn, side, jobs)
                    res[side].append(_run(dsn, scripts[side], clients, seconds, batch))
            base = statistics.median(res["bare"])
            for side, v in res.items():
                med = statistics.median(v)
                print(
                    f"| {clients} | {side} | {med:,.0f} ({min(v):,.0f}–{max(v):,.0f}) | {med / base:.2f}× |"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="superuser DSN of a scratch server (default: start an embedded one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=200_000, help="pending jobs per fill (must outlast a run)")
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--clients", default="1,2", help="comma-separated pgbench client counts")
    args = ap.parse_args()
    clients = tuple(int(c) for c in args.clients.split(","))
    if args.dsn:
        measure(args.dsn, args.repeat, args.seconds, args.jobs, args.batch, clients)
        return
    with embedded_server() as (admin, _version):
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("CREATE DATABASE bench_server_side")
        measure(
            psycopg.conninfo.make_conninfo(admin, dbname="bench_server_side"),
            args.repeat,
            args.seconds,
            args.jobs,
            args.batch,
            clients,
        )


if __name__ == "__main__":
    main()
