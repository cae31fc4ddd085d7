"""Vacuum health: transaction-ID age against autovacuum_freeze_max_age (database and table level),
dead tuples and last autovacuum of the queue tables, and whatever holds back the xmin horizon
(backends, replication slots, prepared transactions) and so stops vacuum from cleaning the queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_all, fetch_one

WRAPAROUND_SQL = """
SELECT (SELECT datname FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1) AS oldest_database,
       (SELECT max(age(datfrozenxid)) FROM pg_database)::bigint AS max_xid_age,
       (SELECT max(mxid_age(datminmxid)) FROM pg_database)::bigint AS max_mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint AS multixact_freeze_max_age
"""

OLDEST_TABLES_SQL = """
SELECT c.oid::regclass::text AS relation, age(c.relfrozenxid)::bigint AS xid_age
  FROM pg_class c
 WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'
 ORDER BY age(c.relfrozenxid) DESC
 LIMIT 5
"""

QUEUE_TABLES_SQL = """
SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze,
       last_vacuum, last_autovacuum, autovacuum_count, last_autoanalyze,
       extract(epoch FROM clock_timestamp() - greatest(last_vacuum, last_autovacuum))::float8 AS since_vacuum_s
  FROM pg_stat_user_tables
 WHERE schemaname = 'pgconsole'
 ORDER BY relname
"""

XMIN_HOLDERS_SQL = """
SELECT * FROM (
  SELECT 'backend' AS kind, pid::text AS name, coalesce(usename, '') || ' ' || coalesce(application_name, '') AS detail,
         greatest(age(backend_xmin), age(backend_xid))::bigint AS xid_age,
         extract(epoch FROM clock_timestamp() - xact_start)::float8 AS age_s
    FROM pg_stat_activity
   WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND pid <> pg_backend_pid()
  UNION ALL
  SELECT 'replication_slot', slot_name, slot_type || CASE WHEN active THEN ' (active)' ELSE ' (inactive)' END,
         greatest(age(xmin), age(catalog_xmin))::bigint, NULL
    FROM pg_replication_slots
   WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL
  UNION ALL
  SELECT 'prepared_transaction', gid, owner || ' on ' || database,
         age(transaction)::bigint, extract(epoch FROM clock_timestamp() - prepared)::float8
    FROM pg_prepared_xacts
) h
ORDER BY xid_age DESC NULLS LAST
LIMIT 5
"""


class TableXidAge(BaseModel):
    relation: str
    xid_age: int


class QueueTableHealth(BaseModel):
    relname: str
    n_live_tup: int
    n_dead_tup: int
    n_mod_since_analyze: int
    last_vacuum: datetime | None
    last_autovacuum: datetime | None
    autovacuum_count: int
    last_autoanalyze: datetime | None
    since_vacuum_s: float | None

    @property
    def dead_ratio_percent(self) -> float:
        total = self.n_live_tup + self.n_dead_tup
        return 100.0 * self.n_dead_tup / total if total else 0.0


class XminHolder(BaseModel):
    kind: str
    """'backend', 'replication_slot' or 'prepared_transaction'."""
    name: str
    detail: str
    xid_age: int | None
    age_s: float | None


class VacuumHealth(BaseModel):
    oldest_database: str | None
    max_xid_age: int
    max_mxid_age: int
    freeze_max_age: int
    multixact_freeze_max_age: int
    oldest_tables: list[TableXidAge]
    queue_tables: list[QueueTableHealth]
    xmin_holders: list[XminHolder]

    @property
    def wraparound_percent(self) -> float:
        """The worse of XID and multixact age as a percentage of its forced-autovacuum age."""
        xid = 100.0 * self.max_xid_age / self.freeze_max_age if self.freeze_max_age else 0.0
        mxid = (
            100.0 * self.max_mxid_age / self.multixact_freeze_max_age
            if self.multixact_freeze_max_age
            else 0.0
        )
        return max(xid, mxid)

    def queue_table(self, name: str) -> QueueTableHealth | None:
        return next((t for t in self.queue_tables if t.relname == name), None)


def vacuum_statements(caps: ServerCaps) -> list[Statement]:
    return [(q, None) for q in (WRAPAROUND_SQL, OLDEST_TABLES_SQL, QUEUE_TABLES_SQL, XMIN_HOLDERS_SQL)]


def collect_vacuum(conn: psycopg.Connection[Any], caps: ServerCaps) -> VacuumHealth:
    wrap, oldest, queue, xmin = vacuum_statements(caps)
    return VacuumHealth(
        **fetch_one(conn, *wrap),
        oldest_tables=[TableXidAge(**r) for r in fetch_all(conn, *oldest)],
        queue_tables=[QueueTableHealth(**r) for r in fetch_all(conn, *queue)],
        xmin_holders=[XminHolder(**r) for r in fetch_all(conn, *xmin)],
    )
