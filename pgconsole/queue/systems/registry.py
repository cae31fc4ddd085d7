"""Which queue systems the connected database holds: each system class detects its own instances
from its schema objects (and version); configured tables come from ``[queues.NAME]``.

Another system plugs in by appending its class to :data:`SYSTEM_CLASSES` (the Node systems'
``pgboss`` and ``graphile_worker`` modules do). Detection reads only the catalogs, so it needs no
privilege on the library's tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.redact import redact
from pgconsole.queue.models import InvalidInput
from pgconsole.queue.systems.base import Conn, QueueSystem, SystemInfo, SystemSummary
from pgconsole.queue.systems.custom_table import TableSystem, table_systems
from pgconsole.queue.systems.graphile_worker import GraphileWorker
from pgconsole.queue.systems.own import OwnQueue
from pgconsole.queue.systems.pgboss import PgBoss
from pgconsole.queue.systems.pgqueuer import PgQueuer
from pgconsole.queue.systems.procrastinate import Procrastinate

SYSTEM_CLASSES: list[type[QueueSystem]] = [OwnQueue, Procrastinate, PgQueuer, PgBoss, GraphileWorker]
"""Detected in this order (pgconsole's own first: it is the default when several are found)."""


def detect(
    conn: Conn, queues: Mapping[str, Mapping[str, Any]] | None = None, *, skip_own: bool = False
) -> list[QueueSystem]:
    """Every system in the connected database, then every configured table (which must exist).
    ``skip_own``: without pgconsole's own queue (a caller that reads it through its collector)."""
    found: list[QueueSystem] = []
    classes = [c for c in SYSTEM_CLASSES if not (skip_own and c.kind == "pgconsole")]
    present = _markers_present(conn, {c.marker for c in classes if c.marker is not None})
    for cls in classes:
        if cls.marker is None or cls.marker in present:
            found += cls.detect(conn)
    found += table_systems(conn, queues or {})
    return found


def _markers_present(conn: Conn, markers: set[str]) -> set[str]:
    """The marker table names some relation has (the catalog, whatever the privileges: a superset
    of what the classes' own detection finds)."""
    if not markers:
        return set()
    row = conn.execute(
        "SELECT array_agg(DISTINCT relname::text) FROM pg_class WHERE relname = ANY(%s::name[])",
        (sorted(markers),),
    ).fetchone()
    return set(row[0] or []) if row else set()


class SystemRead(BaseModel):
    """One system's summary, or why it could not be read (a missing GRANT, a timeout)."""

    info: SystemInfo
    summary: SystemSummary | None = None
    error: str | None = None


def read_every(conn: Conn, queues: Mapping[str, Mapping[str, Any]] | None = None) -> list[SystemRead]:
    """Every system in the database read (``pgconsole queues`` and the console's Queues screen);
    raises InvalidInput for a bad ``[queues.NAME]``."""
    return read_all(conn, detect(conn, queues))


def read_all(conn: Conn, systems: list[QueueSystem]) -> list[SystemRead]:
    """Every system's summary; one that fails on a live connection says why, the rest are read."""
    out = []
    for system in systems:
        try:
            out.append(SystemRead(info=system.info(), summary=system.summary(conn)))
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            out.append(SystemRead(info=system.info(), error=redact(first)))
    return out


def choose(systems: list[QueueSystem], name: str | None) -> QueueSystem:
    """The system ``--system NAME`` names; without a name the only one, else pgconsole's own when
    installed, else InvalidInput asking for --system (issue 17 item 4)."""
    if name is not None:
        for s in systems:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in systems) or "none"
        raise InvalidInput("system", f"no system {name!r} in this database (found: {known})")
    if len(systems) == 1:
        return systems[0]
    own = [s for s in systems if s.kind == "pgconsole"]
    if own:
        return own[0]
    if not systems:
        raise InvalidInput(
            "system", "no job queue found in this database (pgconsole, Procrastinate, PgQueuer, ...)"
        )
    raise InvalidInput(
        "system",
        f"several queue systems here ({', '.join(s.name for s in systems)}): choose one with --system NAME",
    )


__all__ = ["SYSTEM_CLASSES", "SystemRead", "TableSystem", "choose", "detect", "read_all"]
