"""Sessions that are doing something: long queries, long and idle transactions, lock waits and
the blocking chains between them (``pg_blocking_pids``, called only for sessions waiting on a lock,
because it takes the lock manager's partition locks).

pgconsole's own dashboard and check sessions are left out (DESIGN.md §5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_all

DEFAULT_LIMIT = 200
QUERY_TEXT_CHARS = 1000

ACTIVITY_SQL = """
SELECT pid, leader_pid, usename, application_name, client_addr::text AS client_addr, state,
       wait_event_type, wait_event, backend_xid::text AS backend_xid, backend_xmin::text AS backend_xmin,
       age(backend_xmin)::bigint AS xmin_age,
       query_start, xact_start, state_change,
       extract(epoch FROM clock_timestamp() - query_start)::float8 AS query_age_s,
       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_age_s,
       extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_age_s,
       CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}'::int[] END AS blocked_by,
       left(query, %(chars)s) AS query
  FROM pg_stat_activity
 WHERE pid <> pg_backend_pid()
   AND backend_type = 'client backend'
   AND state IS DISTINCT FROM 'idle'
   AND coalesce(application_name, '') NOT IN ('pgconsole', 'pgconsole-check')
 ORDER BY xact_start NULLS LAST, query_start NULLS LAST
 LIMIT %(limit)s
"""


class Session(BaseModel):
    pid: int
    leader_pid: int | None
    usename: str | None
    application_name: str | None
    client_addr: str | None
    state: str | None
    """None when the role cannot see this session (no pg_read_all_stats)."""
    wait_event_type: str | None
    wait_event: str | None
    backend_xid: str | None
    backend_xmin: str | None
    xmin_age: int | None
    query_start: datetime | None
    xact_start: datetime | None
    state_change: datetime | None
    query_age_s: float | None
    xact_age_s: float | None
    state_age_s: float | None
    blocked_by: list[int]
    query: str | None

    @property
    def idle_in_transaction(self) -> bool:
        return self.state in ("idle in transaction", "idle in transaction (aborted)")


class BlockingNode(BaseModel):
    """One session in a blocking tree: ``blocked`` are the sessions waiting on it."""

    pid: int
    blocked: list[BlockingNode] = []

    def size(self) -> int:
        return len(self.blocked) + sum(b.size() for b in self.blocked)


class Activity(BaseModel):
    sessions: list[Session]
    """Non-idle client sessions, oldest transaction first, at most ``limit``."""
    limit: int
    hidden: int
    """Sessions whose details this role cannot see (state NULL)."""

    @property
    def active(self) -> list[Session]:
        return [s for s in self.sessions if s.state == "active"]

    @property
    def idle_in_transaction(self) -> list[Session]:
        return [s for s in self.sessions if s.idle_in_transaction]

    @property
    def waiting(self) -> list[Session]:
        """Sessions waiting on a heavyweight lock held by another session."""
        return [s for s in self.sessions if s.blocked_by]

    def blocking_trees(self) -> list[BlockingNode]:
        """Roots are sessions that block others and wait on nobody; children wait on their parent.

        A session waiting on several pids appears under each of them.
        """
        waiting_on: dict[int, list[int]] = {}
        for s in self.sessions:
            for blocker in s.blocked_by:
                waiting_on.setdefault(blocker, []).append(s.pid)
        waiters = {s.pid for s in self.sessions if s.blocked_by}

        def build(pid: int, seen: frozenset[int]) -> BlockingNode:
            kids = [build(w, seen | {w}) for w in sorted(waiting_on.get(pid, [])) if w not in seen]
            return BlockingNode(pid=pid, blocked=kids)

        roots = [pid for pid in sorted(waiting_on) if pid not in waiters]
        if not roots and waiting_on:  # a cycle (deadlock about to be detected): show each member
            roots = sorted(waiting_on)
        return [build(pid, frozenset({pid})) for pid in roots]


def activity_statements(caps: ServerCaps, limit: int = DEFAULT_LIMIT) -> list[Statement]:
    return [(ACTIVITY_SQL, {"chars": QUERY_TEXT_CHARS, "limit": limit})]


def collect_activity(conn: psycopg.Connection[Any], caps: ServerCaps, limit: int = DEFAULT_LIMIT) -> Activity:
    rows = fetch_all(conn, *activity_statements(caps, limit)[0])
    sessions = [Session(**r) for r in rows]
    return Activity(sessions=sessions, limit=limit, hidden=sum(1 for s in sessions if s.state is None))
