"""Handlers the worker tests run in real `pgconsole worker` processes.

The ledger is a file the handler appends ``<job id> <attempt> <event>`` lines to (O_APPEND writes of
one short line are atomic), named by $PGC_LEDGER; $PGC_RELEASE names a file whose existence lets
blocked handlers finish.
"""

from __future__ import annotations

import os
import time
from typing import Any


def _write(line: str) -> None:
    fd = os.open(os.environ["PGC_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def ledger(job: Any) -> None:
    """No-op job that records that it ran."""
    _write(f"{job.id} {job.attempt} done")


def block(job: Any) -> dict[str, bool]:
    """Record the start, then wait until the release file exists (honouring cancel requests)."""
    _write(f"{job.id} {job.attempt} start")
    release = os.environ["PGC_RELEASE"]
    while not os.path.exists(release):
        job.raise_if_cancelled()
        time.sleep(0.05)
    _write(f"{job.id} {job.attempt} done")
    return {"done": True}


async def async_ledger(job: Any) -> dict[str, int]:
    _write(f"{job.id} {job.attempt} done")
    return {"attempt": job.attempt}


def boom(job: Any) -> None:
    raise RuntimeError("boom \x00 with a NUL")


def poison(job: Any) -> Any:
    """Results the worker must fail one by one: too large, not JSON, or refused by the server
    (the limit lowered after the worker read it). Others complete with a small result."""
    kind = job.payload["kind"]
    if kind == "huge":
        return {"blob": "x" * (2 * 1024 * 1024)}
    if kind == "not_json":
        return {"when": object()}
    if kind == "late_limit":
        import psycopg

        with psycopg.connect(os.environ["PGC_SU_DSN"], autocommit=True) as su:
            su.execute("UPDATE pgconsole.settings SET value = '100' WHERE key = 'payload_max_bytes'")
        return {"blob": "y" * 500}
    return {"ok": True}
