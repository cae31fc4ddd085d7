"""Sessions as the console lists them: the monitor's activity collector for every session doing something
(active, idle in transaction, waiting, with the blocking pids), plus what it leaves out on purpose
and the console needs: idle sessions, the count of the console's own sessions, and for every
session whether this role may cancel or terminate it, with the reason when not.

Signalling rules (PostgreSQL 14-18, signalfuncs.c): a superuser may signal anyone; only a superuser
may signal a superuser's session; otherwise the caller needs the privileges of the session's role
(its own role, or one it inherits) or of ``pg_signal_backend``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row
from pydantic import BaseModel, Field

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.activity import collect_activity


class BackendRow(BaseModel):
    """One server session, with whether this role may cancel or terminate it."""

    pid: int
    application_name: str = ""
    usename: str | None = None
    client_addr: str | None = None
    state: str | None = None
    wait_event: str | None = None
    backend_start: datetime | None = None
    xact_start: datetime | None = None
    query_start: datetime | None = None
    query: str | None = None
    blocked_by: list[int] = Field(default_factory=list)
    can_signal: bool | None = None  # may this role cancel/terminate it (None: not known)
    signal_reason: str = ""  # why not, when it may not


# The console hides the same sessions as the monitor: its own dashboard and check connections.
OWN_APPS = ("pgconsole", "pgconsole-check")
IDLE_LIMIT = 300

BACKENDS_SQL = """
SELECT a.pid, a.usename::text AS usename, coalesce(a.application_name, '') AS application_name,
       a.client_addr::text AS client_addr, a.state,
       a.wait_event_type || ':' || a.wait_event AS wait_event, a.backend_start, a.xact_start, a.query_start,
       CASE WHEN a.state = 'idle' THEN left(a.query, 1000) END AS query,
       coalesce(r.rolsuper, false) AS target_super,
       CASE WHEN me.rolsuper THEN true
            WHEN r.oid IS NULL OR r.rolsuper THEN false
            ELSE pg_has_role(current_user, r.oid, 'USAGE')
                 OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE') END AS can_signal,
       coalesce(a.application_name, '') = ANY(%(own)s) AS own
  FROM pg_stat_activity a
  LEFT JOIN pg_roles r ON r.oid = a.usesysid
 CROSS JOIN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) me
 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
 ORDER BY a.backend_start, a.pid
"""


def signal_reason(role: str, row: dict[str, Any]) -> str:
    if row["can_signal"]:
        return ""
    if row["target_super"]:
        return f"only a superuser may cancel or terminate a superuser's session ({row['usename']})"
    return (
        f"role {role} may only signal sessions of roles whose privileges it has (its own); "
        f"to signal others: GRANT pg_signal_backend TO {role}"
    )


def read(conn: psycopg.Connection[Any], caps: ServerCaps) -> tuple[list[BackendRow], int]:
    """(sessions shown, number of the console's own hidden): busy ones first, then idle ones."""
    busy = collect_activity(conn, caps)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(BACKENDS_SQL, {"own": list(OWN_APPS)})
        everyone = cur.fetchall()
    rights = {r["pid"]: r for r in everyone}
    sessions: list[BackendRow] = []
    for s in busy.sessions:
        r = rights.get(s.pid)
        sessions.append(
            BackendRow(
                pid=s.pid,
                application_name=s.application_name or "",
                usename=s.usename,
                client_addr=s.client_addr,
                state=s.state,
                wait_event=f"{s.wait_event_type}:{s.wait_event}" if s.wait_event_type else None,
                backend_start=r["backend_start"] if r else None,
                xact_start=s.xact_start,
                query_start=s.query_start,
                query=s.query,
                blocked_by=s.blocked_by,
                can_signal=bool(r and r["can_signal"]),
                signal_reason=signal_reason(caps.current_user, r) if r else "the session ended",
            )
        )
    shown = {s.pid for s in sessions}
    idle = [r for r in everyone if r["state"] == "idle" and not r["own"] and r["pid"] not in shown][
        :IDLE_LIMIT
    ]
    for r in idle:
        sessions.append(
            BackendRow(
                pid=r["pid"],
                application_name=r["application_name"],
                usename=r["usename"],
                client_addr=r["client_addr"],
                state=r["state"],
                wait_event=r["wait_event"],
                backend_start=r["backend_start"],
                xact_start=r["xact_start"],
                query_start=r["query_start"],
                query=r["query"],
                can_signal=bool(r["can_signal"]),
                signal_reason=signal_reason(caps.current_user, r),
            )
        )
    own = 1 + sum(1 for r in everyone if r["own"])  # this dashboard session itself, and the others
    return sessions, own


# Workers name their sessions 'pgconsole-worker:<id>' (queue.worker); a job's locked_by holds <id>.
_WORKER_BACKEND_SQL = """
SELECT pid, coalesce(application_name, '') AS application_name, usename::text AS usename,
       client_addr::text AS client_addr, state, wait_event_type || ':' || wait_event AS wait_event,
       backend_start, xact_start, query_start, query, pg_blocking_pids(pid) AS blocked_by
  FROM pg_stat_activity
 WHERE application_name = 'pgconsole-worker:' || %(w)s OR application_name = %(w)s
 ORDER BY backend_start LIMIT 1
"""


def worker_backend(conn: psycopg.Connection[Any], worker_id: str) -> BackendRow | None:
    """The session of the worker that holds a job (None: it is gone)."""
    with conn.cursor(row_factory=class_row(BackendRow)) as cur:
        cur.execute(_WORKER_BACKEND_SQL, {"w": worker_id})
        return cur.fetchone()


def signal_statement(pid: int, terminate: bool) -> str:
    """What signal_backend runs, as a confirmation shows it."""
    return f"SELECT {'pg_terminate_backend' if terminate else 'pg_cancel_backend'}({int(pid)})"


def signal_backend(conn: psycopg.Connection[Any], pid: int, terminate: bool) -> bool:
    """Cancel the session's query, or terminate the session; False when there is no such session."""
    query = "SELECT pg_terminate_backend(%s)" if terminate else "SELECT pg_cancel_backend(%s)"
    row = conn.execute(query, (pid,)).fetchone()
    return bool(row and row[0])
