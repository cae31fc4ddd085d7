"""Reads the console needs where the monitor package has no collector yet.

Each function is small and version-safe for PostgreSQL 14-18. When ``pgconsole.monitor`` provides
the same data, :mod:`pgconsole.console.source` uses the monitor instead and these fall away.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgconsole.console.models import BackendRow, QueueTypeRow, StatementRow

COUNT_CAP = 10_000

# Pending and processing come from the partial active-state indexes; the LIMIT caps the work at
# COUNT_CAP+1 rows per state however deep the backlog is (DESIGN.md §5 "10k+").
QUEUE_SQL = """
WITH active AS (
  (SELECT job_type, status, scheduled_at FROM pgconsole.jobs WHERE status = 'pending' LIMIT %(cap1)s)
  UNION ALL
  (SELECT job_type, status, scheduled_at FROM pgconsole.jobs WHERE status = 'processing' LIMIT %(cap1)s)
), failed AS (
  SELECT job_type, count(*)::int AS n FROM pgconsole.jobs
   WHERE status = 'failed' AND completed_at > now() - interval '1 hour' GROUP BY job_type
), done AS (
  SELECT job_type, count(*)::int AS n FROM pgconsole.jobs
   WHERE status = 'completed' AND completed_at > now() - interval '1 minute' GROUP BY job_type
), types AS (
  SELECT job_type FROM active UNION SELECT job_type FROM failed UNION SELECT job_type FROM done
)
SELECT t.job_type,
       (SELECT count(*) FROM active a WHERE a.job_type = t.job_type AND a.status = 'pending')::int AS pending,
       (SELECT count(*) FROM active a WHERE a.job_type = t.job_type AND a.status = 'processing')::int AS processing,
       coalesce((SELECT n FROM failed f WHERE f.job_type = t.job_type), 0) AS failed_1h,
       (SELECT extract(epoch FROM now() - min(a.scheduled_at)) FROM active a
         WHERE a.job_type = t.job_type AND a.status = 'pending' AND a.scheduled_at <= now())::float8 AS oldest_due_age_s,
       coalesce((SELECT n FROM done d WHERE d.job_type = t.job_type), 0)::float8 AS completed_per_min
  FROM types t ORDER BY t.job_type
"""


def queue_rows(conn: psycopg.Connection[Any]) -> list[QueueTypeRow]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(QUEUE_SQL, {"cap1": COUNT_CAP + 1})
        rows = cur.fetchall()
    out = []
    for r in rows:
        capped = r["pending"] > COUNT_CAP
        out.append(QueueTypeRow(**{**r, "pending": min(r["pending"], COUNT_CAP), "pending_capped": capped}))
    return out


COUNTERS_SQL = """
SELECT d.xact_commit + d.xact_rollback AS xacts, d.blks_hit, d.blks_read,
       pg_database_size(current_database()) AS db_size,
       current_setting('max_connections')::int AS max_connections,
       (SELECT max(extract(epoch FROM now() - xact_start)) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND xact_start IS NOT NULL)::float8 AS oldest_xact_age_s,
       (SELECT max(age(backend_xmin)) FROM pg_stat_activity WHERE backend_xmin IS NOT NULL)::bigint AS xmin_age,
       clock_timestamp() AS at
  FROM pg_stat_database d WHERE d.datname = current_database()
"""

STATES_SQL = """
SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1
"""

REPLICATION_SQL = """
SELECT coalesce(application_name, client_addr::text, 'standby') AS name,
       coalesce(replay_lag::text, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))) AS lag
  FROM pg_stat_replication
"""

JOB_TOTALS_SQL = """
SELECT (SELECT count(*) FROM pgconsole.jobs WHERE status = 'completed' AND completed_at > %(since)s)::int AS completed,
       (SELECT count(*) FROM pgconsole.jobs WHERE status = 'failed' AND completed_at > %(since)s)::int AS failed
"""


def counters(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(COUNTERS_SQL)
        row = cur.fetchone() or {}
        cur.execute(STATES_SQL)
        row["states"] = {r["state"]: r["n"] for r in cur.fetchall()}
        try:
            cur.execute(REPLICATION_SQL)
            row["replication"] = [(r["name"], r["lag"] or "0") for r in cur.fetchall()]
        except psycopg.Error:
            row["replication"] = []  # on a standby pg_current_wal_lsn() errors: no downstream to show
    return row


def job_totals_since(conn: psycopg.Connection[Any], since: Any) -> tuple[int, int]:
    with conn.cursor() as cur:
        cur.execute(JOB_TOTALS_SQL, {"since": since})
        row = cur.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


_ORDER_COLUMN = {"total": "total_exec_time", "mean": "mean_exec_time", "calls": "calls"}

STATEMENTS_SQL = """
SELECT queryid, calls, total_exec_time AS total_ms, rows, shared_blks_hit AS hit, shared_blks_read AS read
  FROM {pgss}(false) WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
TEXTS_SQL = "SELECT DISTINCT ON (queryid) queryid, query FROM {pgss}(true) WHERE queryid = ANY(%s)"


def statement_counters(conn: psycopg.Connection[Any], pgss_schema: str) -> dict[int, dict[str, Any]]:
    fn = sql.Identifier(pgss_schema, "pg_stat_statements")
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(STATEMENTS_SQL).format(pgss=fn))  # type: ignore[arg-type]
        out: dict[int, dict[str, Any]] = {}
        for r in cur.fetchall():
            # the same queryid appears once per (user, toplevel); sum them
            acc = out.setdefault(r["queryid"], {"calls": 0, "total_ms": 0.0, "rows": 0, "hit": 0, "read": 0})
            for k in acc:
                acc[k] += r[k]
    return out


def statement_texts(conn: psycopg.Connection[Any], pgss_schema: str, ids: list[int]) -> dict[int, str]:
    fn = sql.Identifier(pgss_schema, "pg_stat_statements")
    with conn.cursor() as cur:
        cur.execute(sql.SQL(TEXTS_SQL).format(pgss=fn), (ids,))  # type: ignore[arg-type]
        return {int(r[0]): str(r[1]) for r in cur.fetchall()}


def top_statements(
    current: dict[int, dict[str, Any]], previous: dict[int, dict[str, Any]] | None, order: str, limit: int = 50
) -> list[StatementRow]:
    rows = []
    for qid, c in current.items():
        p = previous.get(qid) if previous is not None else None
        d = {k: c[k] - (p[k] if p else 0) for k in c} if previous is not None else dict(c)
        if d["calls"] <= 0:
            continue
        blocks = d["hit"] + d["read"]
        rows.append(StatementRow(
            queryid=qid, query="", calls=int(d["calls"]), total_ms=float(d["total_ms"]),
            mean_ms=float(d["total_ms"]) / d["calls"], rows=int(d["rows"]),
            hit_percent=(100.0 * d["hit"] / blocks) if blocks else None,
        ))
    key = {"total": lambda r: r.total_ms, "mean": lambda r: r.mean_ms, "calls": lambda r: float(r.calls)}[order]
    rows.sort(key=key, reverse=True)
    return rows[:limit]


ACTIVITY_SQL = """
SELECT pid, coalesce(application_name, '') AS application_name, usename::text, client_addr::text, state,
       wait_event_type || ':' || wait_event AS wait_event, backend_start, xact_start, query_start,
       left(query, 4000) AS query, pg_blocking_pids(pid) AS blocked_by
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> 'pgconsole'
 ORDER BY query_start NULLS LAST, pid
 LIMIT 500
"""
OWN_SQL = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgconsole'"


def activity(conn: psycopg.Connection[Any]) -> tuple[list[BackendRow], int]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(ACTIVITY_SQL)
        rows = [BackendRow(**r) for r in cur.fetchall()]
    with conn.cursor() as cur2:
        cur2.execute(OWN_SQL)
        own = cur2.fetchone()
    return rows, int(own[0]) if own else 0
