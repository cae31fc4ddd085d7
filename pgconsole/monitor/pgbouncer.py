"""PgBouncer's own view of its pools, from its admin console (``SHOW POOLS``, ``SHOW STATS``).

The admin console is the virtual database ``pgbouncer`` of a PgBouncer, reached as a user listed in
its ``admin_users`` or ``stats_users`` (setting ``pgbouncer_dsn`` / ``--pgbouncer``). It speaks
only ``SHOW`` commands without parameters and prepares nothing: the connection comes from
:func:`pgconsole.db.connect.connect_pgbouncer_admin` (``prepare_threshold=None``, no session
settings). Columns are read by name, so a PgBouncer with more columns (1.21+ adds the
cancel-request counts) or fewer reads the same; figures missing from an older one are 0.

* ``SHOW POOLS``, per (database, user): ``cl_active`` clients linked to a server connection or idle
  with nothing to run, ``cl_waiting`` clients that sent a query and wait for a server connection,
  ``sv_active`` / ``sv_idle`` / ``sv_used`` server connections, ``maxwait`` + ``maxwait_us`` how
  long the oldest waiting client has waited, ``pool_mode``.
* ``SHOW STATS``, per database: ``avg_query_time`` and ``avg_xact_time`` in microseconds, averaged
  over PgBouncer's last ``stats_period`` (60 s by default).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

# The admin console's own pseudo-database: its "pool" is the admin sessions, not an application's.
ADMIN_DATABASE = "pgbouncer"


class PgBouncerPool(BaseModel):
    database: str
    user: str
    pool_mode: str = ""
    cl_active: int = 0
    cl_waiting: int = 0
    sv_active: int = 0
    sv_idle: int = 0
    sv_used: int = 0
    sv_login: int = 0
    maxwait_s: float = 0.0
    avg_query_ms: float | None = None
    """Of the pool's database (SHOW STATS is per database), over PgBouncer's stats_period."""
    avg_xact_ms: float | None = None


class PgBouncerStats(BaseModel):
    version: str = ""
    pools: list[PgBouncerPool]

    @property
    def clients_waiting(self) -> int:
        return sum(p.cl_waiting for p in self.pools)

    @property
    def max_wait_s(self) -> float:
        return max((p.maxwait_s for p in self.pools), default=0.0)

    def worst_pool(self) -> PgBouncerPool | None:
        """The pool whose oldest client has waited longest (then the most clients waiting)."""
        return max(self.pools, key=lambda p: (p.maxwait_s, p.cl_waiting), default=None)


def _rows(conn: psycopg.Connection[Any], command: str) -> list[dict[str, Any]]:
    # The admin console refuses parameters and the extended protocol's named statements; a
    # constant SHOW without parameters is what it takes.
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(command)  # type: ignore[arg-type]  # one of the constant SHOW commands below
        return cur.fetchall()


def _int(row: dict[str, Any], key: str) -> int:
    value = row.get(key)
    return int(value) if value is not None else 0


def _ms(row: dict[str, Any] | None, key: str) -> float | None:
    if row is None or row.get(key) is None:
        return None
    return float(row[key]) / 1000.0  # microseconds


def collect_pgbouncer(conn: psycopg.Connection[Any]) -> PgBouncerStats:
    version_rows = _rows(conn, "SHOW VERSION")
    version = str(next(iter(version_rows[0].values()))) if version_rows else ""
    stats = {str(r.get("database")): r for r in _rows(conn, "SHOW STATS")}
    pools = []
    for r in _rows(conn, "SHOW POOLS"):
        database = str(r.get("database") or "")
        if database == ADMIN_DATABASE:
            continue
        s = stats.get(database)
        pools.append(
            PgBouncerPool(
                database=database,
                user=str(r.get("user") or ""),
                pool_mode=str(r.get("pool_mode") or ""),
                cl_active=_int(r, "cl_active"),
                cl_waiting=_int(r, "cl_waiting"),
                sv_active=_int(r, "sv_active"),
                sv_idle=_int(r, "sv_idle"),
                sv_used=_int(r, "sv_used"),
                sv_login=_int(r, "sv_login"),
                maxwait_s=_int(r, "maxwait") + _int(r, "maxwait_us") / 1e6,
                avg_query_ms=_ms(s, "avg_query_time"),
                avg_xact_ms=_ms(s, "avg_xact_time"),
            )
        )
    pools.sort(key=lambda p: (p.database, p.user))
    return PgBouncerStats(version=version, pools=pools)
