"""pg_stat_database counters (every database of the cluster) and the current database's size.

Counters are cumulative since the last stats reset; :mod:`pgconsole.monitor.delta` turns two
snapshots into rates (TPS, cache hit over the interval). The cumulative ratio is kept as well.
The size is read at most every :data:`SIZE_EVERY_S`: ``pg_database_size`` stats every file of the
database, most of this collector's server time (docs/BENCHMARKS.md §9), for a figure that moves
slowly.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, PrivateAttr

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_all, fetch_one, younger_than

DATABASE_SQL = """
SELECT d.datid::bigint AS datid, d.datname, d.numbackends,
       d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit,
       d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted,
       d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks, d.stats_reset,
       d.datname = current_database() AS is_current
  FROM pg_stat_database d
 WHERE d.datname IS NOT NULL
 ORDER BY d.datname
"""
SIZE_SQL = "SELECT pg_database_size(current_database()) AS size_bytes"
SIZE_EVERY_S = 60.0

# Counters that the delta engine differences (pgcenter's "diff interval" idea): everything else is a gauge.
COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "conflicts",
    "temp_files",
    "temp_bytes",
    "deadlocks",
)


class DatabaseCounters(BaseModel):
    datid: int
    datname: str
    numbackends: int
    xact_commit: int
    xact_rollback: int
    blks_read: int
    blks_hit: int
    tup_returned: int
    tup_fetched: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    conflicts: int
    temp_files: int
    temp_bytes: int
    deadlocks: int
    stats_reset: datetime | None
    is_current: bool
    size_bytes: int | None = None
    """Only for the connected database (pg_database_size walks its files)."""

    @property
    def cache_hit_percent(self) -> float | None:
        """Cumulative since the stats reset; None before any block was read."""
        total = self.blks_hit + self.blks_read
        return 100.0 * self.blks_hit / total if total else None


class DatabaseStats(BaseModel):
    databases: list[DatabaseCounters]
    size_read_at: float | None = None
    """``time.monotonic()`` when the current database's size was read (None: not read)."""

    @property
    def current(self) -> DatabaseCounters | None:
        return next((d for d in self.databases if d.is_current), None)

    def by_name(self, name: str) -> DatabaseCounters | None:
        return next((d for d in self.databases if d.datname == name), None)

    _total: DatabaseCounters | None = PrivateAttr(default=None)

    def total(self) -> DatabaseCounters:
        """The whole cluster summed (what the cache_hit check judges); summed once per read, as
        the delta and the check each ask for this read's and the previous read's."""
        if self._total is None:
            self._total = self._sum()
        return self._total

    def _sum(self) -> DatabaseCounters:
        sums = {c: sum(getattr(d, c) for d in self.databases) for c in COUNTERS}
        return DatabaseCounters(
            datid=0,
            datname="(all)",
            numbackends=sum(d.numbackends for d in self.databases),
            stats_reset=None,
            is_current=False,
            size_bytes=None,
            **sums,
        )


def database_statements(caps: ServerCaps) -> list[Statement]:
    return [(DATABASE_SQL, None)]  # the size is read only when the previous one is old


def collect_database(
    conn: psycopg.Connection[Any], caps: ServerCaps, previous: DatabaseStats | None = None
) -> DatabaseStats:
    """The counters, and the size: ``previous``'s while younger than SIZE_EVERY_S, else read again."""
    counters = fetch_all(conn, *database_statements(caps)[0])
    stats = DatabaseStats(databases=[DatabaseCounters(**r) for r in counters])
    current = stats.current
    if current is None:
        return stats
    old = previous.current if previous is not None else None
    if previous is not None and old is not None and younger_than(previous.size_read_at, SIZE_EVERY_S):
        current.size_bytes, stats.size_read_at = old.size_bytes, previous.size_read_at
    else:
        stats.size_read_at = time.monotonic()
        current.size_bytes = int(fetch_one(conn, SIZE_SQL)["size_bytes"])
    return stats
