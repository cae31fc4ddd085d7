"""Dead tuples and last autovacuum of another queue system's tables (Procrastinate's, PgQueuer's,
a team's own): the ``queue_table_bloat`` check per system. One read of pg_stat_user_tables by oid."""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.monitor.base import fetch_all
from pgconsole.monitor.vacuum import QueueTableHealth

TABLES_SQL = """
SELECT s.relid::regclass::text AS relname, n_live_tup, n_dead_tup, n_mod_since_analyze,
       last_vacuum, last_autovacuum, autovacuum_count, last_autoanalyze,
       extract(epoch FROM clock_timestamp() - greatest(last_vacuum, last_autovacuum))::float8 AS since_vacuum_s
  FROM pg_stat_user_tables s
 WHERE s.relid = ANY(SELECT to_regclass(t) FROM unnest(%s::text[]) t)
 ORDER BY 1
"""


def tables_health(conn: psycopg.Connection[Any], tables: list[str]) -> list[QueueTableHealth]:
    """The statistics of the named tables (qualified names; unknown ones are left out)."""
    if not tables:
        return []
    return [QueueTableHealth(**r) for r in fetch_all(conn, TABLES_SQL, (tables,))]
