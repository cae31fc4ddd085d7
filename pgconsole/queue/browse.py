"""Reading jobs for a list or a detail view: keyset pages over ``pgconsole.jobs`` and one job with
its log and its worker's session.

Keyset (``WHERE (created_at, id) < (last_created_at, last_id) ORDER BY created_at DESC, id DESC
LIMIT n``) instead of OFFSET, so page 1000 costs what page 1 costs on a table of millions of rows.
The WHERE is the predicate of the SQL filter functions (``pgconsole.jobs_matching``), so a page
shows the jobs an action on the same filter changes; tests/queue/test_one_action_path.py holds the
two together. All values travel as parameters; the filter only chooses fixed SQL fragments.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from pydantic import BaseModel, Field

from pgconsole.monitor.backends import BackendRow, worker_backend
from pgconsole.queue import client
from pgconsole.queue.errors import JobNotFound
from pgconsole.queue.models import Job, JobFilter, LogEntry
from pgconsole.queue.type_patterns import type_pattern

PAGE_SIZE = 100
LOG_LINES = 500

SortKey = Literal["created_desc", "created_asc", "updated_desc", "priority_desc"]
SORT_KEYS: tuple[SortKey, ...] = ("created_desc", "created_asc", "updated_desc", "priority_desc")

# sort key -> (column, direction); the uuid id breaks ties so the keyset is total.
_ORDER: dict[str, tuple[str, str]] = {
    "created_desc": ("created_at", "DESC"),
    "created_asc": ("created_at", "ASC"),
    "updated_desc": ("updated_at", "DESC"),
    "priority_desc": ("priority", "DESC"),
}


class JobQuery(JobFilter):
    """A filter and the order of the list it is shown in."""

    sort: SortKey = "created_desc"


class JobRow(BaseModel):
    """A job as a list shows it: the columns of a row of the table, the error cut short, no payload."""

    id: str
    job_type: str
    status: str
    priority: int = 0
    attempt: int = 0
    retry_count: int = 0
    max_retries: int = 0
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    updated_at: datetime | None = None
    error_message: str | None = None
    locked_by: str | None = None


class JobPage(BaseModel):
    rows: list[JobRow]
    has_more: bool = False


class JobDetail(BaseModel):
    job: Job
    logs: list[LogEntry] = Field(default_factory=list)  # oldest first
    worker_backend: BackendRow | None = None  # for processing jobs: the worker's session


_ROW_COLUMNS = sql.SQL(
    "id::text AS id, job_type, status, priority, coalesce(attempt, 0) AS attempt, retry_count, "
    "max_retries, created_at, scheduled_at, updated_at, left(error_message, 500) AS error_message, locked_by"
)
# When a job was finished, else when it was made: what "older than" and "newer than" compare.
_AGE = sql.SQL("coalesce(completed_at, created_at)")


def where_clause(f: JobFilter) -> tuple[sql.Composable, list[Any]]:
    """The WHERE for a filter, as fixed fragments plus parameters (pgconsole.jobs_matching's)."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if f.statuses:
        parts.append(sql.SQL("status = ANY(%s)"))
        params.append(list(f.statuses))
    if f.job_types:
        parts.append(sql.SQL("job_type LIKE ANY(%s)"))  # backslash is LIKE's default escape
        params.append([type_pattern(t) for t in f.job_types])
    if f.older_than is not None:
        parts.append(sql.SQL("{} < now() - %s::interval").format(_AGE))
        params.append(f.older_than)
    if f.newer_than is not None:
        parts.append(sql.SQL("{} >= now() - %s::interval").format(_AGE))
        params.append(f.newer_than)
    if f.error_contains:
        parts.append(sql.SQL("strpos(lower(coalesce(error_message, '')), lower(%s)) > 0"))
        params.append(f.error_contains)
    if f.payload_contains is not None:
        parts.append(sql.SQL("payload @> %s::jsonb"))
        params.append(json.dumps(f.payload_contains))
    if f.payload_path:
        parts.append(sql.SQL("payload #>> %s = %s"))
        params += [list(f.payload_path), f.payload_path_value or ""]
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
    with conn.cursor(row_factory=class_row(JobRow)) as cur:
        cur.execute(stmt, params)
        rows = cur.fetchall()
    return JobPage(rows=rows[:limit], has_more=len(rows) > limit)


def fetch_detail(conn: psycopg.Connection[Any], job_id: str) -> JobDetail | None:
    """The job, its log (audit records for staff only) and, while it runs, its worker's session."""
    try:
        job = client.get_job(conn, job_id)
    except JobNotFound:
        return None
    logs = list(reversed(client.get_logs(conn, job.id, limit=LOG_LINES)))
    backend = None
    if job.status == "processing" and job.locked_by:
        backend = worker_backend(conn, job.locked_by)
    return JobDetail(job=job, logs=logs, worker_backend=backend)
