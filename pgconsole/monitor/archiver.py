"""WAL archiving (pg_stat_archiver): is archive_command / archive_library failing?"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_one

ARCHIVER_SQL = """
SELECT current_setting('archive_mode') AS archive_mode,
       archived_count, last_archived_wal, last_archived_time,
       failed_count, last_failed_wal, last_failed_time, stats_reset,
       extract(epoch FROM clock_timestamp() - last_archived_time)::float8 AS since_last_archived_s
  FROM pg_stat_archiver
"""


class ArchiverStats(BaseModel):
    archive_mode: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    stats_reset: datetime | None
    since_last_archived_s: float | None

    @property
    def enabled(self) -> bool:
        return self.archive_mode in ("on", "always")

    @property
    def failing(self) -> bool:
        """The most recent archiving attempt failed (check_pgactivity's archiver rule)."""
        if self.last_failed_time is None:
            return False
        return self.last_archived_time is None or self.last_failed_time > self.last_archived_time


def archiver_statements(caps: ServerCaps) -> list[Statement]:
    return [(ARCHIVER_SQL, None)]


def collect_archiver(conn: psycopg.Connection[Any], caps: ServerCaps) -> ArchiverStats:
    return ArchiverStats(**fetch_one(conn, *archiver_statements(caps)[0]))
