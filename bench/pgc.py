"""pgconsole's side of the queue benchmarks, through its public Python API only.

The queue API (``pgconsole.queue``) is built by the queue issue; until it exists every pgconsole
side reports Skipped with the reason, and the doc says so. No numbers are made up.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bench.common import Skipped

PGC_DB = "bench_pgconsole"


def queue_api() -> Any:
    try:
        import pgconsole.queue as q
    except ImportError as e:
        raise Skipped(f"pgconsole.queue is not importable yet ({e})") from e
    return q


def install_schema(dsn: str) -> None:
    """pgconsole setup + migrate as superuser (the benchmark's own throwaway database)."""
    from pgconsole.schema import migrate
    from pgconsole.schema.setup import run_setup

    with psycopg.connect(dsn, autocommit=True) as conn:
        run_setup(conn)
        migrate.apply(conn)
        has_jobs = conn.execute("SELECT to_regclass('pgconsole.jobs') IS NOT NULL").fetchone()
    if not has_jobs or not has_jobs[0]:
        raise Skipped("pgconsole.jobs does not exist after migrate (the queue migration has not landed)")


def setup(dsn: str) -> None:
    queue_api()
    install_schema(dsn)
    raise Skipped("the pgconsole worker/enqueue API has not landed yet")


def fill(dsn: str, n: int) -> None:
    raise Skipped("pgconsole queue API missing")


def remaining(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pgconsole.jobs WHERE status IN ('pending', 'processing')"
        ).fetchone()
    return int(row[0]) if row else -1


def worker(dsn: str, batch: int, max_seconds: float, go: Any, stop: Any, counter: Any, ready: Any) -> None:
    raise Skipped("pgconsole worker runtime missing")
