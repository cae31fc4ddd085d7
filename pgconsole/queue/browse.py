"""Reading jobs for a list or a detail view: keyset pages over ``pgconsole.jobs`` and one job with
its log and its worker's session.

Keyset (``WHERE id < last_id ORDER BY id DESC LIMIT n``) instead of OFFSET, so page 1000 costs
what page 1 costs on a table of millions of rows. The WHERE is the predicate of the SQL filter
functions (``pgconsole.jobs_matching``), so a page shows the jobs an action on the same filter
changes; tests/queue/test_one_action_path.py holds the two together. All values travel as
parameters; the filter only chooses fixed SQL fragments.

Index-backed at any history size (issue 20; tests/queue/test_browse_plans.py checks the plans):

* "newest first" / "oldest first" are the primary key's order. Ids are UUIDv7 (the column's
  default on every server, ``pgconsole.uuid_generate_v7``): the creation time to the millisecond
  leads the id, so ``ORDER BY id`` is creation order without an index of its own on the history
  (which every enqueue, claim and completion would pay for). ``created_at`` is the inserting
  transaction's start (the insert trigger sets it), so two jobs made within one millisecond, or in
  one long transaction, may show in id order where their created_at differs by a little; a job
  inserted with an explicit id that is not a UUIDv7 sorts by that id.
* "last updated" and "priority" have no index over the history (an index on ``updated_at`` would
  make every progress update and claim write one more entry): they sort the newest
  :data:`SORT_WINDOW` jobs matching the filter, and the page says so (``JobPage.note``).
* Oldest first over active states only reads that backlog through its partial index and sorts it
  (bounded by the backlog, not the history; ``_matching``).
* A filter no index serves (a type pattern, an error text over the history) scans the primary key
  until it fills a page: the page query runs with :data:`PAGE_TIMEOUT_MS` and sequential scans
  off (``SET LOCAL``), and a page that stopped there comes back empty with ``timed_out`` and a
  note that says what to narrow.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import errors, sql
from psycopg.rows import class_row
from pydantic import BaseModel, Field

from pgconsole.monitor.backends import BackendRow, worker_backend
from pgconsole.queue import client
from pgconsole.queue.errors import JobNotFound
from pgconsole.queue.models import ACTIVE_STATES, Job, JobFilter, LogEntry
from pgconsole.queue.type_patterns import type_pattern

PAGE_SIZE = 100
LOG_LINES = 500

SortKey = Literal["created_desc", "created_asc", "updated_desc", "priority_desc"]
SORT_KEYS: tuple[SortKey, ...] = ("created_desc", "created_asc", "updated_desc", "priority_desc")

# sort key -> (column, direction); the uuid id breaks ties so the keyset is total. "id" is the
# primary key's order (UUIDv7: creation order).
_ORDER: dict[str, tuple[str, str]] = {
    "created_desc": ("id", "DESC"),
    "created_asc": ("id", "ASC"),
    "updated_desc": ("updated_at", "DESC"),
    "priority_desc": ("priority", "DESC"),
}
SORT_WINDOW = 2_000
"""Sorts no index serves ("updated", "priority") order the newest this many matching jobs."""
PAGE_TIMEOUT_MS = 2_000
"""The page query's own statement timeout (below the dashboard's 5 s and its session deadline)."""
# Sequential scans off for the page query: with a LIMIT, the primary key (every sort's order or
# its window's) is the bounded path; a plan that reads the whole heap is the unbounded one.
_PAGE_SETTINGS = "SELECT set_config('statement_timeout', %s, true), set_config('enable_seqscan', 'off', true)"


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
    note: str = ""
    """How the page was bounded, when it was: a sort over a window, or a scan that timed out."""
    timed_out: bool = False


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
        # One equality per state, OR-ed: each arm implies one partial index's predicate (a
        # BitmapOr over them), where status = ANY(array) matches none of them.
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("status = %s") for _ in f.statuses)))
        params.extend(f.statuses)
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


def window_note(q: JobQuery) -> str:
    """What a page in this sort shows, when it is not every matching job in order ("" when it is)."""
    if _ORDER[q.sort][0] == "id":
        return ""
    what = "last update" if q.sort == "updated_desc" else "priority"
    return f"by {what} among the newest {SORT_WINDOW:,} matching jobs (no index orders the whole history)"


def _matching(q: JobQuery, where: sql.Composable, direction: str) -> sql.Composable:
    """The jobs a page is taken from, as a FROM item named ``jobs``.

    Oldest first over active states only (pending, processing) reads them through their partial
    indexes and sorts them, behind a fence (OFFSET 0): bounded by the backlog, whatever the
    history. Without it the planner, which takes the matching rows to be spread evenly over the
    ids, walks the primary key from the oldest id and reads every finished job before the first
    active one. Newest first needs no fence: the active jobs are at the new end of the key (the
    planner's own pick, a short backward walk, 0.1 ms where the fence sorted a 100k backlog in
    190 ms), and for a few processing jobs among many pending it picks their index itself.
    """
    if direction == "ASC" and q.statuses and set(q.statuses) <= set(ACTIVE_STATES):
        return sql.SQL("(SELECT * FROM pgconsole.jobs WHERE {} OFFSET 0) jobs").format(where)
    return sql.SQL("pgconsole.jobs WHERE {}").format(where)


def page_query(q: JobQuery, after: tuple[Any, str] | None, limit: int) -> tuple[sql.Composed, list[Any]]:
    column, direction = _ORDER[q.sort]
    where, params = where_clause(q)
    cmp = sql.SQL("<") if direction == "DESC" else sql.SQL(">")
    if column == "id":
        if after is not None:
            where = sql.SQL("{} AND id {} %s::uuid").format(where, cmp)
            params.append(after[1])
        # "jobs.id": a bare "id" in ORDER BY is the output column, id::text, which no index orders.
        stmt = sql.SQL("SELECT {cols} FROM {src} ORDER BY jobs.id {dir} LIMIT %s").format(
            cols=_ROW_COLUMNS, src=_matching(q, where, direction), dir=sql.SQL(direction)
        )
        return stmt, [*params, limit + 1]
    # No index orders the history by this column: order the newest SORT_WINDOW matching jobs
    # (the primary key, newest first), then page through them by (column, id).
    col = sql.Identifier(column)
    outer: sql.Composable = sql.SQL("true")
    outer_params: list[Any] = []
    if after is not None:
        outer = sql.SQL("(w.{}, w.id) {} (%s, %s::uuid)").format(col, cmp)
        outer_params = [after[0], after[1]]
    stmt = sql.SQL(
        "SELECT {cols} FROM (SELECT * FROM {src} ORDER BY jobs.id DESC LIMIT %s) w"
        " WHERE {outer} ORDER BY w.{col} {dir}, w.id {dir} LIMIT %s"
    ).format(cols=_ROW_COLUMNS, src=_matching(q, where, "DESC"), outer=outer, col=col, dir=sql.SQL(direction))
    return stmt, [*params, SORT_WINDOW, *outer_params, limit + 1]


def cursor_of(row: JobRow, q: JobQuery) -> tuple[Any, str]:
    column, _ = _ORDER[q.sort]
    return getattr(row, column), row.id


def fetch_page(
    conn: psycopg.Connection[Any], q: JobQuery, after: tuple[Any, str] | None = None, limit: int = PAGE_SIZE
) -> JobPage:
    """One page, bounded: :data:`PAGE_TIMEOUT_MS`, sequential scans off (see the module docstring)."""
    stmt, params = page_query(q, after, limit)
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(JobRow)) as cur:
            cur.execute(_PAGE_SETTINGS, (str(PAGE_TIMEOUT_MS),))
            cur.execute(stmt, params)
            rows = cur.fetchall()
    except errors.QueryCanceled:
        if conn.broken or conn.closed:
            raise
        return JobPage(
            rows=[],
            timed_out=True,
            note=(
                f"no page within {PAGE_TIMEOUT_MS / 1000:g}s: no index serves this filter over the whole "
                "history and too few jobs match it; narrow it with a status (pending, processing, failed) "
                "or clear it"
            ),
        )
    return JobPage(rows=rows[:limit], has_more=len(rows) > limit, note=window_note(q))


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
