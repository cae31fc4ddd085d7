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
    return MaintenanceReport(rescued=len(client.rescue_stuck(conn, limit=10_000)))


def retry_eligible(conn: Conn) -> MaintenanceReport:
    with translate_errors():
        rows = conn.execute("SELECT count(*) FROM pgconsole.retry_failed_jobs(10000)").fetchone()
    return MaintenanceReport(auto_retried=int(rows[0]) if rows else 0)


def expire(conn: Conn) -> MaintenanceReport:
    with translate_errors():
        row = conn.execute("SELECT pgconsole.expire_stale_jobs(10000)").fetchone()
    return MaintenanceReport(expired=int(row[0]) if row else 0)


def cleanup(conn: Conn, *, batch_size: int = 5000, time_budget: float = 60.0) -> MaintenanceReport:
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


def run_pass(conn: Conn, *, batch_size: int = 5000, time_budget: float = 60.0) -> MaintenanceReport:
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
