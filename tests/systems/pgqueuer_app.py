"""A real PgQueuer app for the systems tests: its own schema (``Queries.install``), its own
QueueManager worker in drain mode (``python -m tests.systems.pgqueuer_app install|enqueue|worker|serve``,
the DSN in ``PGQ_DSN``).

``flaky`` (on_failure="hold": a failed job stays in the queue table as ``failed``) records each run
in ``pgq_runs`` and fails for odd numbers until ``pgq_fixed`` holds a row. ``dropped`` fails and is
deleted (PgQueuer's default on_failure). ``slow`` runs until cancelled, watching its cancellation."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

import psycopg

DSN = os.environ.get("PGQ_DSN", "")


async def _queries() -> tuple[Any, Any]:
    from pgqueuer import Queries

    conn = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    return conn, Queries.from_psycopg_connection(conn)


def _record(n: int) -> int:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("INSERT INTO pgq_runs (n) VALUES (%s)", (n,))
        row = conn.execute("SELECT count(*) FROM pgq_fixed").fetchone()
    return int(row[0]) if row else 0


async def worker(mode: str) -> None:
    from pgqueuer import QueueManager
    from pgqueuer.domain.types import QueueExecutionMode
    from pgqueuer.models import Context, Job

    conn, q = await _queries()
    qm = QueueManager(q)

    @qm.entrypoint("flaky", on_failure="hold")
    async def flaky(job: Job) -> None:
        n = int(job.payload or b"0")
        fixed = await asyncio.to_thread(_record, n)
        if n % 2 and not fixed:
            raise RuntimeError(f"flaky job {n} failed")

    @qm.entrypoint("dropped")
    async def dropped(job: Job) -> None:
        await asyncio.to_thread(_record, int(job.payload or b"0"))
        raise ValueError("dropped job failed")

    @qm.entrypoint("slow", accepts_context=True)
    async def slow(job: Job, ctx: Context) -> None:
        await asyncio.to_thread(_record, int(job.payload or b"0"))
        n = int(job.payload or b"0")
        for _ in range(600):  # at most a minute, unless cancelled
            if ctx.cancellation.cancel_called:
                await asyncio.to_thread(_record, -n)  # "saw the cancellation": -n
                return
            await asyncio.sleep(0.1)

    try:
        await qm.run(
            batch_size=10,
            mode=QueueExecutionMode.drain if mode == "drain" else QueueExecutionMode.continuous,
            dequeue_timeout=timedelta(seconds=1),
        )
    finally:
        await conn.close()


async def main() -> None:
    what = sys.argv[1]
    if what == "install":
        conn, q = await _queries()
        await q.install()
        await conn.close()
    elif what == "enqueue":
        conn, q = await _queries()
        entrypoint, ns = sys.argv[2], sys.argv[3:]
        ids = await q.enqueue([entrypoint] * len(ns), [n.encode() for n in ns], [0] * len(ns))
        print("\n".join(str(i) for i in ids))
        await conn.close()
    elif what == "worker":
        await worker("drain")
    elif what == "serve":
        await worker("continuous")


if __name__ == "__main__":
    asyncio.run(main())
