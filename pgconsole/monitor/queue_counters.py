"""Jobs finished since a watermark, by type and state: what the exporter's ``_total`` counters add.

The queue keeps no cumulative counter of its own (finished rows are deleted by retention), so a
counter is the exporter's: each scrape counts the jobs whose ``completed_at`` lies in
``[since, now() - SETTLE_S)`` through the ``jobs_finished_idx (completed_at)`` partial index and
moves the watermark to the end of that range. The range stops ``SETTLE_S`` short of now because
``completed_at`` is the finishing transaction's start time: a transaction that commits a moment
after the scrape may carry a time just before it. At most ``cap`` rows are read per scrape; beyond
that the watermark stops at the last time read (rows at that very time are left for the next
scrape), so a burst is counted over several scrapes instead of being lost or read all at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.monitor.base import Statement, fetch_all, fetch_one

SETTLE_S = 2.0
FINISHED_CAP = 100_000

START_SQL = "SELECT now() - make_interval(secs => %(settle)s) AS until"

FINISHED_SQL = """
WITH b AS MATERIALIZED (SELECT now() - make_interval(secs => %(settle)s) AS until),
w AS (
  SELECT j.job_type, j.status, j.completed_at
    FROM pgconsole.jobs j
   WHERE j.status IN ('completed', 'failed', 'cancelled', 'expired')
     AND j.completed_at >= %(since)s AND j.completed_at < (SELECT until FROM b)
   ORDER BY j.completed_at
   LIMIT %(cap)s
), m AS (SELECT max(w.completed_at) AS last_at, count(*)::bigint AS total FROM w)
SELECT b.until, m.last_at, m.total, g.job_type, g.status, g.n, g.n_at_last
  FROM b CROSS JOIN m
  LEFT JOIN LATERAL (
    SELECT w.job_type, w.status, count(*)::bigint AS n,
           count(*) FILTER (WHERE w.completed_at = m.last_at)::bigint AS n_at_last
      FROM w GROUP BY w.job_type, w.status) g ON true
"""


class FinishedCount(BaseModel):
    job_type: str
    status: str
    n: int


class FinishedSince(BaseModel):
    counts: list[FinishedCount]
    """Jobs that finished in the range just read, by type and final state."""
    next_since: datetime
    """Where the next reading starts."""
    capped: bool = False


def start_watermark(conn: psycopg.Connection[Any]) -> datetime:
    """The first watermark: counters start at zero when the exporter starts (Prometheus's rate()
    treats a restart's reset as such)."""
    row = fetch_one(conn, START_SQL, {"settle": SETTLE_S})
    until: datetime = row["until"]
    return until


def finished_statement(since: datetime, cap: int = FINISHED_CAP) -> Statement:
    """What :func:`read_finished` runs (so that a caller can read it ahead)."""
    return FINISHED_SQL, {"settle": SETTLE_S, "since": since, "cap": cap}


def read_finished(
    conn: psycopg.Connection[Any], since: datetime, *, cap: int = FINISHED_CAP
) -> FinishedSince:
    rows = fetch_all(conn, *finished_statement(since, cap))
    head = rows[0]
    until: datetime = head["until"]
    total = int(head["total"] or 0)
    capped = total >= cap and head["last_at"] is not None
    counts = []
    next_since = until
    if capped:
        last_at: datetime = head["last_at"]
        if last_at > since:
            next_since = last_at  # the rows at last_at are counted next time, all of them
        else:  # more than cap jobs at one instant: count them and step past it
            next_since = last_at + timedelta(microseconds=1)
    for r in rows:
        if r["job_type"] is None:
            continue
        n = int(r["n"])
        if capped and next_since == head["last_at"]:
            n -= int(r["n_at_last"])
        if n > 0:
            counts.append(FinishedCount(job_type=r["job_type"], status=r["status"], n=n))
    return FinishedSince(counts=counts, next_since=next_since, capped=capped)
