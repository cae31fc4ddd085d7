"""Size invariance of the claim path: claim 10 jobs with 0.1M vs 10M finished jobs in history.

    .venv/bin/python -m bench.claim_size                 # embedded PostgreSQL 18 in a temp dir
    .venv/bin/python -m bench.claim_size --dsn URI       # a superuser DSN of a scratch server

Two databases on the same server, identical except for the history size (100,000 vs 10,000,000
completed jobs, logged tables, inserted with one generate_series INSERT each, then VACUUM ANALYZE),
each with 50,000 pending jobs. Measurement rounds alternate between the two databases (so drift
hits both); each round claims 10 jobs through pgconsole.claim_jobs() and completes them through
complete_jobs(), and the time of the claim statement (incl. commit, autocommit) is recorded.
Result: median claim time for each and the ratio large/small (the issue requires <= 1.2).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

SMALL, LARGE = 100_000, 10_000_000
PENDING = 50_000


def prepare(admin_dsn_of: Any, name: str, history: int) -> str:
    from pgconsole.schema import migrator as migrate
    from pgconsole.schema.setup import run_setup

    with psycopg.connect(admin_dsn_of("postgres"), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = admin_dsn_of(name)
    with psycopg.connect(dsn, autocommit=True) as c:
        run_setup(c)
        migrate.apply(c)
        c.execute("SET session_replication_role = replica")  # bulk load: no notify triggers
        t0 = time.monotonic()
        c.execute(
            "INSERT INTO pgconsole.jobs (job_type, status, payload, attempt, started_at, completed_at, created_at,"
            " updated_at, locked_by, result) SELECT 'hist', 'completed', jsonb_build_object('i', g), 1,"
            " now() - interval '1 day', now() - (g %% 86400) * interval '1 second', now() - interval '1 day',"
            " now(), 'bench', '{}'::jsonb FROM generate_series(1, %s) g",
            (history,),
        )
        c.execute(
            "INSERT INTO pgconsole.jobs (job_type, payload) SELECT 'work', jsonb_build_object('i', g)"
            " FROM generate_series(1, %s) g",
            (PENDING,),
        )
        c.execute("RESET session_replication_role")
        c.execute("VACUUM ANALYZE pgconsole.jobs")
        print(
            f"{name}: {history:,} finished + {PENDING:,} pending loaded in {time.monotonic() - t0:.0f}s",
            file=sys.stderr,
        )
    return dsn


def claim_round(conn: psycopg.Connection[Any], n: int, out: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        rows = conn.execute("SELECT id, attempt FROM pgconsole.claim_jobs('bench', 10)").fetchall()
        out.append(time.perf_counter() - t0)
        conn.execute(
            "SELECT count(*) FROM pgconsole.complete_jobs('bench', %s, %s)",
            ([r[0] for r in rows], [r[1] for r in rows]),
        )


def measure(small_dsn: str, large_dsn: str, rounds: int = 20, per_round: int = 100) -> dict[str, float]:
    times: dict[str, list[float]] = {"small": [], "large": []}
    with psycopg.connect(small_dsn, autocommit=True) as s, psycopg.connect(large_dsn, autocommit=True) as big:
        claim_round(s, 50, [])  # warm-up
        claim_round(big, 50, [])
        for _ in range(rounds):
            claim_round(s, per_round, times["small"])
            claim_round(big, per_round, times["large"])
    small = statistics.median(times["small"]) * 1000
    large = statistics.median(times["large"]) * 1000
    return {
        "small_ms": small,
        "large_ms": large,
        "ratio": large / small,
        "claims_each": float(len(times["small"])),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", help="superuser DSN of a scratch server (default: start an embedded one)")
    ap.add_argument("--large", type=int, default=LARGE)
    ap.add_argument("--small", type=int, default=SMALL)
    args = ap.parse_args(argv)
    server = None
    parent = Path()
    if args.dsn:
        from psycopg.conninfo import make_conninfo

        def dsn_of(db: str) -> str:
            return make_conninfo(args.dsn, dbname=db)
    else:
        from pgconsole.embedded import EmbeddedServer

        parent = Path(tempfile.mkdtemp(prefix="pgconsole-claim-size-"))
        parent.chmod(0o755)  # the server runs as another OS user when we are root
        server = EmbeddedServer(
            parent / "data", extra_settings={"max_wal_size": "4GB", "shared_buffers": "512MB"}
        )
        info = server.start()
        server.wait_ready()

        def dsn_of(db: str) -> str:
            return info.superuser_dsn(db)

    try:
        small = prepare(dsn_of, "claim_size_small", args.small)
        large = prepare(dsn_of, "claim_size_large", args.large)
        r = measure(small, large)
        print(
            f"claim 10: history {args.small:,}: {r['small_ms']:.3f} ms; history {args.large:,}: "
            f"{r['large_ms']:.3f} ms; ratio {r['ratio']:.3f} (median of {int(r['claims_each'])} claims each)"
        )
        return 0 if r["ratio"] <= 1.2 else 1
    finally:
        if server is not None:
            import shutil

            server.stop()
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
