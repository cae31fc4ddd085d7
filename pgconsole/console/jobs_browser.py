"""Jobs table reads: keyset paging over ``pgconsole.jobs``, one job's detail, failures by error.

Keyset (``WHERE (created_at, id) < (last_created_at, last_id) ORDER BY created_at DESC, id DESC
LIMIT n``) instead of OFFSET, so page 1000 costs what page 1 costs on a table of millions of rows.
All values travel as parameters; the filter only chooses which fixed SQL fragments are joined.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgconsole.console.models import (
    BackendRow,
    JobDetail,
    JobLogLine,
    JobPage,
    JobQuery,
    JobRow,
)
from pgconsole.queue.type_patterns import type_pattern  # one meaning of type: for the CLI, console, SQL

PAGE_SIZE = 100

# sort key -> (column, direction); the uuid id breaks ties so the keyset is total.
_ORDER: dict[str, tuple[str, str]] = {
    "created_desc": ("created_at", "DESC"),
    "created_asc": ("created_at", "ASC"),
    "updated_desc": ("updated_at", "DESC"),
    "priority_desc": ("priority", "DESC"),
}

_ROW_COLUMNS = sql.SQL(
    "id::text AS id, job_type, status, priority, coalesce(attempt, 0) AS attempt, retry_count, "
    "max_retries, created_at, scheduled_at, updated_at, left(error_message, 500) AS error_message, locked_by"
)


def where_clause(q: JobQuery) -> tuple[sql.Composable, list[Any]]:
    """The WHERE for a filter, as fixed fragments plus parameters."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if q.statuses:
        parts.append(sql.SQL("status = ANY(%s)"))
        params.append(list(q.statuses))
    if q.job_types:
        parts.append(sql.SQL("job_type LIKE ANY(%s)"))  # backslash is LIKE's default escape
        params.append([type_pattern(t) for t in q.job_types])
    if q.older_than_s is not None:
        parts.append(sql.SQL("created_at < now() - make_interval(secs => %s)"))
        params.append(q.older_than_s)
    if q.newer_than_s is not None:
        parts.append(sql.SQL("created_at >= now() - make_interval(secs => %s)"))
        params.append(q.newer_than_s)
    if q.error_contains:
        parts.append(sql.SQL("strpos(lower(error_message), lower(%s)) > 0"))
        params.append(q.error_contains)
    if q.payload_contains is not None:
        parts.append(sql.SQL("payload @> %s::jsonb"))
        params.append(json.dumps(q.payload_contains))
    if q.payload_path:
        parts.append(sql.SQL("payload #>> %s = %s"))
        params += [list(q.payload_path), q.payload_path_value or ""]
    if not parts:
        return sql.SQL("true"), params
    return sql.SQL(" AND ").join(parts), params


def page_query(q: JobQuery, after: tuple[Any, str] | None, limit: int) -> tuple[sql.Composed, list[Any]]:
    column, direction = _ORDER[q.sort]
    where, params = where_clause(q)
    col = sql.Identifier(column)
    if after is not None:
        cmp = sql.SQL("<") if direction == "DESC" else sql.SQL(">")
        where = sql.SQL("{} AND ({}, id) {} (%s, %s::uuid)").format(where, col, cmp)
        params += [after[0], after[1]]
    stmt = sql.SQL(
        "SELECT {cols} FROM pgconsole.jobs WHERE {where} ORDER BY {col} {dir}, id {dir} LIMIT %s"
    ).format(cols=_ROW_COLUMNS, where=where, col=col, dir=sql.SQL(direction))
    return stmt, [*params, limit + 1]


def cursor_of(row: JobRow, q: JobQuery) -> tuple[Any, str]:
    column, _ = _ORDER[q.sort]
    return getattr(row, column), row.id


def fetch_page(
    conn: psycopg.Connection[Any], q: JobQuery, after: tuple[Any, str] | None = None, limit: int = PAGE_SIZE
) -> JobPage:
    stmt, params = page_query(q, after, limit)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(stmt, params)
        rows = [JobRow(**r) for r in cur.fetchall()]
    return JobPage(rows=rows[:limit], has_more=len(rows) > limit)


def count_matching(conn: psycopg.Connection[Any], q: JobQuery) -> int:
    where, params = where_clause(q)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM pgconsole.jobs WHERE {}").format(where), params)
        row = cur.fetchone()
    return int(row[0]) if row else 0


_DETAIL = "SELECT to_jsonb(j) FROM pgconsole.jobs j WHERE j.id = %s::uuid"
_LOGS = """
SELECT created_at, level, message, actor, metadata
  FROM pgconsole.job_log WHERE job_id = %s::uuid ORDER BY created_at, id LIMIT 500
"""
# Workers name their sessions 'pgconsole-worker:<id>' (queue runtime); locked_by holds <id>.
_WORKER_BACKEND = """
SELECT pid, coalesce(application_name, '') AS application_name, usename::text, client_addr::text, state,
       wait_event_type || ':' || wait_event AS wait_event, backend_start, xact_start, query_start, query,
       pg_blocking_pids(pid) AS blocked_by
  FROM pg_stat_activity
 WHERE application_name = 'pgconsole-worker:' || %s OR application_name = %s
 ORDER BY backend_start LIMIT 1
"""


def fetch_detail(conn: psycopg.Connection[Any], job_id: str) -> JobDetail | None:
    with conn.cursor() as cur:
        cur.execute(_DETAIL, (job_id,))
        row = cur.fetchone()
    if row is None:
        return None
    job: dict[str, Any] = row[0]
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_LOGS, (job_id,))
        logs = [JobLogLine(**r) for r in cur.fetchall()]
    backend = None
    if job.get("status") == "processing" and job.get("locked_by"):
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_WORKER_BACKEND, (job["locked_by"], job["locked_by"]))
            b = cur.fetchone()
        backend = BackendRow(**b) if b else None
    return JobDetail(job=job, logs=logs, worker_backend=backend)
