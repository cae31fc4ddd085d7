"""Rates between two snapshots: counters are cumulative, screens and checks want the interval.

Never resets anything on the server (no ``pg_stat_statements_reset()``); a counter that went
backwards (stats reset, server restart, evicted statement) gives no delta rather than a wrong one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from pgconsole.monitor.database import DatabaseCounters
from pgconsole.monitor.statements import StatementCounters

if TYPE_CHECKING:
    from pgconsole.monitor.snapshot import Snapshot


class DatabaseDelta(BaseModel):
    datname: str
    interval_s: float
    commits: int
    rollbacks: int
    tps: float
    """(commits + rollbacks) per second over the interval (pg_activity's definition)."""
    blks_hit: int
    blks_read: int
    cache_hit_percent: float | None
    """blks_hit / (blks_hit + blks_read) over the interval; None if no block was accessed."""
    tup_returned: int
    tup_fetched: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    temp_files: int
    temp_bytes: int
    deadlocks: int
    conflicts: int


class StatementDelta(BaseModel):
    key: str
    queryid: int | None
    userid: int
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    shared_hit_percent: float | None
    io_time_ms: float


class SnapshotDelta(BaseModel):
    interval_s: float
    cluster: DatabaseDelta | None
    """All databases summed (what the cache_hit check judges)."""
    databases: dict[str, DatabaseDelta]
    statements: list[StatementDelta]
    """Statements that ran in the interval, most total time first."""
    statements_evicted: int | None
    """pg_stat_statements_info.dealloc growth: entries evicted during the interval (1.9+)."""
    notes: list[str]


def database_delta(prev: DatabaseCounters, cur: DatabaseCounters, interval_s: float) -> DatabaseDelta | None:
    if prev.stats_reset != cur.stats_reset:
        return None
    d = {
        name: getattr(cur, name) - getattr(prev, name)
        for name in (
            "xact_commit",
            "xact_rollback",
            "blks_hit",
            "blks_read",
            "tup_returned",
            "tup_fetched",
            "tup_inserted",
            "tup_updated",
            "tup_deleted",
            "temp_files",
            "temp_bytes",
            "deadlocks",
            "conflicts",
        )
    }
    if any(v < 0 for v in d.values()):
        return None
    blocks = d["blks_hit"] + d["blks_read"]
    return DatabaseDelta(
        datname=cur.datname,
        interval_s=interval_s,
        commits=d["xact_commit"],
        rollbacks=d["xact_rollback"],
        tps=(d["xact_commit"] + d["xact_rollback"]) / interval_s if interval_s > 0 else 0.0,
        blks_hit=d["blks_hit"],
        blks_read=d["blks_read"],
        cache_hit_percent=100.0 * d["blks_hit"] / blocks if blocks else None,
        tup_returned=d["tup_returned"],
        tup_fetched=d["tup_fetched"],
        tup_inserted=d["tup_inserted"],
        tup_updated=d["tup_updated"],
        tup_deleted=d["tup_deleted"],
        temp_files=d["temp_files"],
        temp_bytes=d["temp_bytes"],
        deadlocks=d["deadlocks"],
        conflicts=d["conflicts"],
    )


def statement_delta(
    prev: StatementCounters | None, cur: StatementCounters, since: object
) -> StatementDelta | None:
    if prev is None:
        # New in this snapshot's top list. Its counts are all from the interval only if the entry
        # was created after the previous snapshot (stats_since, 1.11+); otherwise we cannot tell.
        if cur.stats_since is None or since is None or cur.stats_since <= since:  # type: ignore[operator]
            return None
        base = StatementCounters(
            **{
                **cur.model_dump(),
                "calls": 0,
                "rows": 0,
                "total_time_ms": 0.0,
                "plan_time_ms": 0.0,
                "shared_blks_hit": 0,
                "shared_blks_read": 0,
                "temp_blks_written": 0,
                "io_time_ms": 0.0,
            }
        )
        prev = base
    calls = cur.calls - prev.calls
    if calls < 0 or cur.total_time_ms < prev.total_time_ms:
        return None  # evicted and re-created, or reset
    if calls == 0:
        return None
    hit = cur.shared_blks_hit - prev.shared_blks_hit
    read = cur.shared_blks_read - prev.shared_blks_read
    total = cur.total_time_ms - prev.total_time_ms
    return StatementDelta(
        key=cur.key,
        queryid=cur.queryid,
        userid=cur.userid,
        calls=calls,
        total_time_ms=total,
        mean_time_ms=total / calls,
        rows=cur.rows - prev.rows,
        shared_blks_hit=hit,
        shared_blks_read=read,
        shared_hit_percent=100.0 * hit / (hit + read) if hit + read > 0 else None,
        io_time_ms=cur.io_time_ms - prev.io_time_ms,
    )


def compute_delta(prev: Snapshot, cur: Snapshot) -> SnapshotDelta | None:
    """The interval between two snapshots of the same server; None if either lacks a clock."""
    if prev.server is None or cur.server is None:
        interval = cur.monotonic - prev.monotonic
    else:
        interval = (cur.server.now - prev.server.now).total_seconds()
    if interval <= 0:
        return None
    notes: list[str] = []
    cluster = None
    databases: dict[str, DatabaseDelta] = {}
    if prev.database is not None and cur.database is not None:
        before = {d.datname: d for d in prev.database.databases}
        for d in cur.database.databases:
            p = before.get(d.datname)
            dd = database_delta(p, d, interval) if p is not None and p.datid == d.datid else None
            if dd is not None:
                databases[d.datname] = dd
            elif p is not None:
                notes.append(f"database {d.datname}: statistics were reset during the interval")
        if not any("reset" in n for n in notes):
            cluster = database_delta(prev.database.total(), cur.database.total(), interval)
    statements: list[StatementDelta] = []
    evicted = None
    # Only between two reads of the view: a snapshot may reuse an older one's (min_interval_s),
    # and counts from before the previous snapshot are not this interval's.
    if (
        prev.statements is not None
        and cur.statements is not None
        and _read_in(prev, "statements")
        and _read_in(cur, "statements")
    ):
        before_s = {s.key: s for s in prev.statements.statements}
        since = prev.server.now if prev.server is not None else None
        for s in cur.statements.statements:
            sd = statement_delta(before_s.get(s.key), s, since)
            if sd is not None:
                statements.append(sd)
        statements.sort(key=lambda x: x.total_time_ms, reverse=True)
        if prev.statements.dealloc is not None and cur.statements.dealloc is not None:
            evicted = max(0, cur.statements.dealloc - prev.statements.dealloc)
            if evicted:
                notes.append(
                    f"{evicted} statement entries evicted in the interval (raise pg_stat_statements.max)"
                )
    return SnapshotDelta(
        interval_s=interval,
        cluster=cluster,
        databases=databases,
        statements=statements,
        statements_evicted=evicted,
        notes=notes,
    )


def _read_in(snap: Snapshot, name: str) -> bool:
    """The collector's data was read by this snapshot, not carried from an earlier one."""
    at = snap.state(name).collected_at
    return at is not None and at >= snap.monotonic
