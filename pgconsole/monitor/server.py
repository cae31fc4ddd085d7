"""Server identity and the settings the checks judge against (version, uptime, recovery, limits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_one

# current_setting(name, true) is NULL for a setting this version lacks (reserved_connections is 16+),
# so one statement serves PG 14-18.
SERVER_SQL = """
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       pg_postmaster_start_time() AS started_at,
       clock_timestamp() AS now,
       extract(epoch FROM clock_timestamp() - pg_postmaster_start_time())::float8 AS uptime_s,
       pg_is_in_recovery() AS in_recovery,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
       coalesce(current_setting('reserved_connections', true), '0')::int AS reserved_connections,
       current_setting('autovacuum_freeze_max_age')::bigint AS autovacuum_freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint AS autovacuum_multixact_freeze_max_age,
       current_setting('track_io_timing') AS track_io_timing,
       current_setting('track_activity_query_size') AS track_activity_query_size,
       current_setting('shared_buffers') AS shared_buffers,
       current_setting('wal_level') AS wal_level,
       current_setting('archive_mode') AS archive_mode,
       current_setting('compute_query_id', true) AS compute_query_id,
       current_setting('max_wal_senders')::int AS max_wal_senders,
       current_database() AS database,
       current_user AS role
"""


class ServerInfo(BaseModel):
    version: str
    version_num: int
    started_at: datetime
    now: datetime
    """Server clock when the snapshot started; deltas use it as the interval's end."""
    uptime_s: float
    in_recovery: bool
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int
    autovacuum_freeze_max_age: int
    autovacuum_multixact_freeze_max_age: int
    track_io_timing: str
    track_activity_query_size: str
    shared_buffers: str
    wal_level: str
    archive_mode: str
    compute_query_id: str | None
    max_wal_senders: int
    database: str
    role: str

    @property
    def usable_connections(self) -> int:
        """Connections ordinary roles can open: max_connections minus the reserved slots."""
        return max(1, self.max_connections - self.superuser_reserved_connections - self.reserved_connections)


def server_statements(caps: ServerCaps) -> list[Statement]:
    return [(SERVER_SQL, None)]


def collect_server(conn: psycopg.Connection[Any], caps: ServerCaps) -> ServerInfo:
    return ServerInfo(**fetch_one(conn, *server_statements(caps)[0]))
