"""pg_stat_statements, numbers only: ``pg_stat_statements(false)`` never reads the query-text file
(perf.md §2.3: the text file is the expensive part). Texts are fetched by :func:`fetch_query_texts` for the
rows a screen shows.

Columns are chosen by the *extension* version, not the server version (monitoring.md §5):
1.8 renamed ``total_time`` to ``total_exec_time``; 1.9 added ``toplevel`` and
``pg_stat_statements_info``; 1.11 renamed ``blk_read_time`` to ``shared_blk_read_time`` and added
``stats_since``. The extension may live in any schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import CollectorUnavailable, fetch_all, fetch_one

DEFAULT_LIMIT = 500

_COLUMNS_1_11 = """
    userid::bigint AS userid, dbid::bigint AS dbid, queryid, toplevel, calls, rows,
    total_exec_time AS total_time_ms, total_plan_time AS plan_time_ms,
    shared_blks_hit, shared_blks_read, temp_blks_written,
    shared_blk_read_time + shared_blk_write_time AS io_time_ms, stats_since"""
_COLUMNS_1_9 = """
    userid::bigint AS userid, dbid::bigint AS dbid, queryid, toplevel, calls, rows,
    total_exec_time AS total_time_ms, total_plan_time AS plan_time_ms,
    shared_blks_hit, shared_blks_read, temp_blks_written,
    blk_read_time + blk_write_time AS io_time_ms, NULL::timestamptz AS stats_since"""
_COLUMNS_1_8 = """
    userid::bigint AS userid, dbid::bigint AS dbid, queryid, true AS toplevel, calls, rows,
    total_exec_time AS total_time_ms, total_plan_time AS plan_time_ms,
    shared_blks_hit, shared_blks_read, temp_blks_written,
    blk_read_time + blk_write_time AS io_time_ms, NULL::timestamptz AS stats_since"""
_COLUMNS_OLD = """
    userid::bigint AS userid, dbid::bigint AS dbid, queryid, true AS toplevel, calls, rows,
    total_time AS total_time_ms, 0::float8 AS plan_time_ms,
    shared_blks_hit, shared_blks_read, temp_blks_written,
    blk_read_time + blk_write_time AS io_time_ms, NULL::timestamptz AS stats_since"""

STATEMENTS_SQL = """
SELECT {columns}
  FROM {schema}.pg_stat_statements(false)
 WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
 ORDER BY 7 DESC
 LIMIT {limit}"""

INFO_SQL = "SELECT dealloc, stats_reset FROM {schema}.pg_stat_statements_info"

TEXT_SQL = """
SELECT queryid, query FROM {schema}.pg_stat_statements(true)
 WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND queryid = ANY(%s)"""


def columns_for(pgss_version: tuple[int, ...]) -> str:
    if pgss_version >= (1, 11):
        return _COLUMNS_1_11
    if pgss_version >= (1, 9):
        return _COLUMNS_1_9
    if pgss_version >= (1, 8):
        return _COLUMNS_1_8
    return _COLUMNS_OLD


class StatementCounters(BaseModel):
    userid: int
    dbid: int
    queryid: int | None
    toplevel: bool
    calls: int
    rows: int
    total_time_ms: float
    plan_time_ms: float
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    io_time_ms: float
    stats_since: datetime | None

    @property
    def key(self) -> str:
        return f"{self.userid}:{self.dbid}:{self.queryid}:{int(self.toplevel)}"

    @property
    def mean_time_ms(self) -> float:
        return self.total_time_ms / self.calls if self.calls else 0.0

    @property
    def shared_hit_percent(self) -> float | None:
        total = self.shared_blks_hit + self.shared_blks_read
        return 100.0 * self.shared_blks_hit / total if total else None


class StatementStats(BaseModel):
    extension_version: str
    schema_name: str
    statements: list[StatementCounters]
    """The current database's entries, highest cumulative total time first, at most ``limit``."""
    limit: int
    dealloc: int | None
    """pg_stat_statements_info.dealloc (1.9+): entries evicted because pg_stat_statements.max was reached."""
    info_reset: datetime | None


def _require(caps: ServerCaps) -> tuple[int, ...]:
    if not caps.pgss_preloaded:
        raise CollectorUnavailable(
            "pg_stat_statements is not loaded",
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; -- then restart the server",
        )
    if not caps.pgss_usable or not caps.pgss_schema:
        raise CollectorUnavailable(
            "the pg_stat_statements extension is not created in this database",
            "CREATE EXTENSION pg_stat_statements;",
        )
    return caps.pgss_version_tuple()


def collect_statements(
    conn: psycopg.Connection[Any], caps: ServerCaps, limit: int = DEFAULT_LIMIT
) -> StatementStats:
    version = _require(caps)
    schema = sql.Identifier(caps.pgss_schema or "public")
    query = sql.SQL(STATEMENTS_SQL).format(
        columns=sql.SQL(columns_for(version)), schema=schema, limit=sql.Literal(int(limit))
    )
    rows = fetch_all(conn, query)
    dealloc = info_reset = None
    if version >= (1, 9):
        info = fetch_one(conn, sql.SQL(INFO_SQL).format(schema=schema))
        dealloc, info_reset = info["dealloc"], info["stats_reset"]
    return StatementStats(
        extension_version=caps.pgss_version or "",
        schema_name=caps.pgss_schema or "",
        statements=[StatementCounters(**r) for r in rows],
        limit=limit,
        dealloc=dealloc,
        info_reset=info_reset,
    )


def fetch_query_texts(conn: psycopg.Connection[Any], caps: ServerCaps, queryids: list[int]) -> dict[int, str]:
    """Query texts for the given ids only (the rows on screen). Reads the text file once."""
    if not queryids:
        return {}
    _require(caps)
    query = sql.SQL(TEXT_SQL).format(schema=sql.Identifier(caps.pgss_schema or "public"))
    rows = fetch_all(conn, query, (list(queryids),))
    return {int(r["queryid"]): str(r["query"] or "") for r in rows}
