"""Replication: standbys seen from a primary (pg_stat_replication), replay delay seen from a standby,
and replication slots (inactive ones and the WAL they retain).

The replay delay on a standby follows PgHero: 0 when everything received is replayed, else the time
since the last replayed commit (``pg_last_xact_replay_timestamp``), so a paused or stalled replay
grows while the primary keeps writing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import Statement, fetch_all, fetch_one

# The "current" WAL position: on a standby pg_current_wal_lsn() raises, so use what was received.
STANDBYS_SQL = """
WITH w AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS lsn)
SELECT pid, application_name, client_addr::text AS client_addr, state, sync_state,
       sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(w.lsn, sent_lsn)::bigint AS sent_lag_bytes,
       pg_wal_lsn_diff(w.lsn, write_lsn)::bigint AS write_lag_bytes,
       pg_wal_lsn_diff(w.lsn, flush_lsn)::bigint AS flush_lag_bytes,
       pg_wal_lsn_diff(w.lsn, replay_lsn)::bigint AS replay_lag_bytes,
       extract(epoch FROM write_lag)::float8 AS write_lag_s,
       extract(epoch FROM flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_s,
       reply_time
  FROM pg_stat_replication, w
 ORDER BY application_name, pid
"""

RECOVERY_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS replay_lag_bytes,
       pg_last_xact_replay_timestamp() AS last_replay_at,
       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause_state,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END::float8 AS replay_delay_s,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver_status
"""

SLOTS_SQL_17 = """
WITH w AS (SELECT CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                       ELSE pg_current_wal_lsn() END AS lsn)
SELECT slot_name, slot_type, database, active, active_pid,
       wal_status, safe_wal_size,
       xmin::text AS xmin, catalog_xmin::text AS catalog_xmin,
       greatest(age(xmin), age(catalog_xmin))::bigint AS xmin_age,
       pg_wal_lsn_diff(w.lsn, restart_lsn)::bigint AS retained_bytes,
       inactive_since
  FROM pg_replication_slots, w
 ORDER BY slot_name
"""
SLOTS_SQL_14 = SLOTS_SQL_17.replace("       inactive_since\n", "       NULL::timestamptz AS inactive_since\n")


class Standby(BaseModel):
    pid: int
    application_name: str | None
    client_addr: str | None
    state: str | None
    sync_state: str | None
    sent_lsn: str | None
    replay_lsn: str | None
    sent_lag_bytes: int | None
    write_lag_bytes: int | None
    flush_lag_bytes: int | None
    replay_lag_bytes: int | None
    write_lag_s: float | None
    flush_lag_s: float | None
    replay_lag_s: float | None
    """NULL when the standby is caught up and idle (the server clears it)."""
    reply_time: datetime | None


class RecoveryState(BaseModel):
    in_recovery: bool
    receive_lsn: str | None
    replay_lsn: str | None
    replay_lag_bytes: int | None
    last_replay_at: datetime | None
    pause_state: str | None
    """'not paused', 'pause requested' or 'paused'."""
    replay_delay_s: float | None
    receiver_status: str | None


class Slot(BaseModel):
    slot_name: str
    slot_type: str
    database: str | None
    active: bool
    active_pid: int | None
    wal_status: str | None
    safe_wal_size: int | None
    xmin: str | None
    catalog_xmin: str | None
    xmin_age: int | None
    retained_bytes: int | None
    inactive_since: datetime | None


class Replication(BaseModel):
    in_recovery: bool
    standbys: list[Standby]
    recovery: RecoveryState | None
    """Only on a standby."""
    slots: list[Slot]
    hidden: bool
    """True when standbys exist but this role cannot see their positions (no pg_read_all_stats)."""


def replication_statements(caps: ServerCaps) -> list[Statement]:
    return [
        (STANDBYS_SQL, None),
        (RECOVERY_SQL, None),
        (SLOTS_SQL_17 if caps.major >= 17 else SLOTS_SQL_14, None),
    ]


def collect_replication(conn: psycopg.Connection[Any], caps: ServerCaps) -> Replication:
    standbys_q, recovery_q, slots_q = replication_statements(caps)
    standbys = [Standby(**r) for r in fetch_all(conn, *standbys_q)]
    rec = fetch_one(conn, *recovery_q)
    recovery = RecoveryState(**rec) if rec["in_recovery"] else None
    slots = [Slot(**r) for r in fetch_all(conn, *slots_q)]
    hidden = any(s.state is None for s in standbys)
    return Replication(
        in_recovery=bool(rec["in_recovery"]), standbys=standbys, recovery=recovery, slots=slots, hidden=hidden
    )
