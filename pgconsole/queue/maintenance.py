"""One maintenance pass (``pgconsole maintain``): rescue stuck jobs, auto-retry eligible failed
jobs, expire stale pending jobs, remove finished jobs past retention in small batches."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.queue import client
from pgconsole.queue.errors import translate_errors

Conn = psycopg.Connection[Any]

RESCUE_LIMIT = 10_000
RETRY_LIMIT = 10_000
EXPIRE_LIMIT = 10_000
CLEANUP_BATCH = 5000
CLEANUP_BUDGET_S = 60.0


class MaintenanceReport(BaseModel):
    rescued: int = 0
    auto_retried: int = 0
    expired: int = 0
    deleted: int = 0
    cleanup_complete: bool = True

    def __str__(self) -> str:
        more = "" if self.cleanup_complete else " (more to delete: run again)"
        return (
            f"rescued {self.rescued}, auto-retried {self.auto_retried}, expired {self.expired}, "
            f"deleted {self.deleted}{more}"
        )


def rescue(conn: Conn) -> MaintenanceReport:
    """Take over stuck jobs (lease expired, or worker gone past the grace period)."""
    return MaintenanceReport(rescued=len(client.rescue_stuck(conn, limit=RESCUE_LIMIT)))


def retry_eligible(conn: Conn) -> MaintenanceReport:
    with translate_errors():
        rows = conn.execute("SELECT count(*) FROM pgconsole.retry_failed_jobs(%s)", (RETRY_LIMIT,)).fetchone()
    return MaintenanceReport(auto_retried=int(rows[0]) if rows else 0)


def expire(conn: Conn) -> MaintenanceReport:
    with translate_errors():
        row = conn.execute("SELECT pgconsole.expire_stale_jobs(%s)", (EXPIRE_LIMIT,)).fetchone()
    return MaintenanceReport(expired=int(row[0]) if row else 0)


def cleanup(
    conn: Conn, *, batch_size: int = CLEANUP_BATCH, time_budget: float = CLEANUP_BUDGET_S
) -> MaintenanceReport:
    """Delete finished jobs past retention, one short statement per batch, until none are left or
    the time budget is spent (the next pass continues)."""
    deleted, started = 0, time.monotonic()
    while True:
        with translate_errors():
            row = conn.execute("SELECT pgconsole.cleanup_old_jobs(NULL, NULL, %s)", (batch_size,)).fetchone()
        n = int(row[0]) if row else 0
        deleted += n
        if n < batch_size:
            return MaintenanceReport(deleted=deleted)
        if time.monotonic() - started > time_budget:
            return MaintenanceReport(deleted=deleted, cleanup_complete=False)


def run_pass(
    conn: Conn, *, batch_size: int = CLEANUP_BATCH, time_budget: float = CLEANUP_BUDGET_S
) -> MaintenanceReport:
    r, a, e, c = (
        rescue(conn),
        retry_eligible(conn),
        expire(conn),
        cleanup(conn, batch_size=batch_size, time_budget=time_budget),
    )
    return MaintenanceReport(
        rescued=r.rescued,
        auto_retried=a.auto_retried,
        expired=e.expired,
        deleted=c.deleted,
        cleanup_complete=c.cleanup_complete,
    )


# The steps an operator runs one at a time (the console's palette), with the statement each runs:
# the same functions and limits as the pass above.
TASKS: dict[str, tuple[str, Any]] = {
    "rescue": (f"SELECT * FROM pgconsole.rescue_stuck_jobs({RESCUE_LIMIT}, NULL)", rescue),  # noqa: S608 - shown, never run
    "expire": (f"SELECT pgconsole.expire_stale_jobs({EXPIRE_LIMIT})", expire),
    "cleanup": (
        f"SELECT pgconsole.cleanup_old_jobs(NULL, NULL, {CLEANUP_BATCH})\n"  # noqa: S608 - shown, never run
        f"  -- repeated until a call deletes fewer than {CLEANUP_BATCH} jobs, for at most {CLEANUP_BUDGET_S:g} s",
        cleanup,
    ),
}


def _task(task: str) -> tuple[str, Any]:
    if task not in TASKS:
        raise ValueError(f"unknown maintenance task {task!r}: one of {', '.join(TASKS)}")
    return TASKS[task]


def statement(task: str) -> str:
    """What a maintenance step runs, as its confirmation shows it."""
    return _task(task)[0]


def run_task(conn: Conn, task: str) -> str:
    """One maintenance step (rescue, expire or cleanup), and what it did in a line."""
    r: MaintenanceReport = _task(task)[1](conn)
    if task == "rescue":
        return f"rescued {r.rescued} stuck job(s)"
    if task == "expire":
        return f"expired {r.expired} overdue pending job(s)"
    more = "" if r.cleanup_complete else " (more to delete: run again)"
    return f"deleted {r.deleted} finished job(s) past retention{more}"
