"""Overview from the monitor's snapshot and the check registry (the same verdicts as --check)."""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.checks import resolve_thresholds, run_checks
from pgconsole.console.models import CheckRow, OverviewData, QueueTypeRow, Status
from pgconsole.console.session import SourceError
from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor import Snapshot, take_snapshot

_STATUS: dict[str, Status] = {"OK": "ok", "WARNING": "warning", "CRITICAL": "critical", "UNKNOWN": "unknown"}


def snapshot(conn: psycopg.Connection[Any], caps: ServerCaps, previous: Snapshot | None,
             only: set[str] | None = None) -> Snapshot:
    snap = take_snapshot(conn, caps, previous, only=only)
    if conn.broken or conn.closed:
        # take_snapshot never raises; a lost connection shows as collector errors. Surface it.
        errors = [s.message for s in snap.collectors.values() if s.status == "error" and s.message]
        raise SourceError(errors[0] if errors else "connection lost during refresh")
    return snap


def build(snap: Snapshot, thresholds_config: dict[str, Any] | None = None) -> OverviewData:
    data = OverviewData()
    results = run_checks(snap, resolve_thresholds(thresholds_config or {}))
    data.checks = [CheckRow(name=r.name, status=_STATUS.get(r.status.name, "unknown"), message=r.message)
                   for r in results]
    q = snap.queue
    if q is not None:
        pending_state = q.state("pending")
        capped = pending_state is not None and pending_state.method == "capped"
        methods = sorted({s.method for s in q.states})
        data.count_method = "/".join(methods) or "exact"
        if capped and pending_state is not None:
            data.count_cap = pending_state.count
        per_min: dict[tuple[str, str], int] = {(w.job_type, w.status): w.last_1m for w in q.windows}
        failed_15: dict[str, int] = {w.job_type: w.last_15m for w in q.windows if w.status == "failed"}
        types = sorted({t.job_type for t in q.by_type} | {w.job_type for w in q.windows})
        by_type = {t.job_type: t for t in q.by_type}
        for jt in types:
            t = by_type.get(jt)
            data.queue.append(QueueTypeRow(
                job_type=jt, pending=t.pending if t else 0, pending_capped=capped and bool(t and t.pending),
                processing=t.processing if t else 0, failed_1h=failed_15.get(jt, 0),
                oldest_due_age_s=None, completed_per_min=float(per_min.get((jt, "completed"), 0)),
            ))
        data.completed_interval = sum(w.last_1m for w in q.windows if w.status == "completed")
        data.failed_interval = sum(w.last_1m for w in q.windows if w.status == "failed")
        data.notes.append(f"oldest due pending job waits {q.oldest_due_age_s:.0f}s")
        if q.stuck_note:
            data.notes.append(q.stuck_note)
    c = snap.connections
    if c is not None:
        data.connections_by_state = {k: v for k, v in {
            "active": c.active, "idle": c.idle, "idle in transaction": c.idle_in_transaction,
            "aborted": c.idle_in_transaction_aborted, "other": c.other, "hidden": c.hidden,
        }.items() if v}
        data.max_connections = c.max_connections
    if snap.database is not None and snap.database.current is not None:
        cur = snap.database.current
        blocks = cur.blks_hit + cur.blks_read
        data.cache_hit_cumulative = 100.0 * cur.blks_hit / blocks if blocks else None
        data.db_size_bytes = cur.size_bytes
        if snap.delta is not None and cur.datname in snap.delta.databases:
            d = snap.delta.databases[cur.datname]
            data.tps = d.tps
            data.cache_hit_interval = d.cache_hit_percent
    if snap.replication is not None:
        for s in snap.replication.standbys:
            lag = f"{s.replay_lag_s:.1f}s" if s.replay_lag_s is not None else f"{s.replay_lag_bytes or 0} B"
            data.replication.append((s.application_name or s.client_addr or str(s.pid), lag))
    if snap.activity is not None:
        ages = [s.xact_age_s for s in snap.activity.sessions if s.xact_age_s is not None]
        data.oldest_xact_age_s = max(ages) if ages else None
        xmins = [s.xmin_age for s in snap.activity.sessions if s.xmin_age is not None]
        data.xmin_age = max(xmins) if xmins else None
    for name, st in snap.collectors.items():
        if st.status in ("disabled", "limited") and st.hint:
            data.notes.append(f"{name}: {st.message} — {st.hint}")
    return data
