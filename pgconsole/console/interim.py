"""Reads the console needs that the monitor does not provide in this shape.

Each function is small and version-safe for PostgreSQL 14-18. When ``pgconsole.monitor`` provides
the same data, :mod:`pgconsole.console.source` uses the monitor instead and these fall away.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgconsole.console.models import BackendRow, StatementRow

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
