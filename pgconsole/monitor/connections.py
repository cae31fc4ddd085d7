"""Connections by state against the usable connection limit, idle-in-transaction ages, waits.

One aggregate over pg_stat_activity. Counting works for every role (the rows are visible), but
without pg_read_all_stats the state of other roles' sessions is NULL: the model says so
(``hidden``) and the state-based checks answer UNKNOWN naming the grant.
"""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_one

CONNECTIONS_SQL = """
SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS total,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active')::int AS active,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle')::int AS idle,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle in transaction')::int
           AS idle_in_transaction,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle in transaction (aborted)')::int
           AS idle_in_transaction_aborted,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state IN ('fastpath function call', 'disabled'))::int
           AS other,
       count(*) FILTER (WHERE backend_type = 'client backend' AND state IS NULL)::int AS hidden,
       count(*) FILTER (WHERE backend_type = 'client backend' AND wait_event_type = 'Lock')::int AS waiting_on_lock,
       count(*) FILTER (WHERE backend_type = 'client backend' AND application_name LIKE 'pgconsole-worker:%')::int
           AS workers,
       count(*) FILTER (WHERE backend_type <> 'client backend')::int AS background,
       coalesce(max(extract(epoch FROM clock_timestamp() - state_change))
                FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')), 0)::float8
           AS oldest_idle_in_transaction_s,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid()
"""


class ConnectionStats(BaseModel):
    total: int
    """Client backends, this monitor's own session excluded."""
    active: int
    idle: int
    idle_in_transaction: int
    idle_in_transaction_aborted: int
    other: int
    hidden: int
    """Sessions whose state this role cannot see (no pg_read_all_stats)."""
    waiting_on_lock: int
    workers: int
    """Sessions whose application_name is ``pgconsole-worker:<id>``."""
    background: int
    oldest_idle_in_transaction_s: float
    max_connections: int
    reserved: int

    @property
    def usable(self) -> int:
        return max(1, self.max_connections - self.reserved)

    @property
    def used_total(self) -> int:
        """Client backends including this monitor's own (it holds a slot too)."""
        return self.total + 1

    @property
    def used_percent(self) -> float:
        return 100.0 * self.used_total / self.usable


def connections_statements(caps: ServerCaps) -> list[Statement]:
    return [(CONNECTIONS_SQL, None)]


def collect_connections(conn: psycopg.Connection[Any], caps: ServerCaps) -> ConnectionStats:
    return ConnectionStats(**fetch_one(conn, *connections_statements(caps)[0]))
