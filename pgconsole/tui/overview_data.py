"""Overview from the monitor's snapshot and the check registry (the same verdicts as --check)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pgconsole.checks import resolve_thresholds, run_checks
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.systems import check_systems
from pgconsole.config import CustomCheck
from pgconsole.db.capabilities import ServerCaps
from pgconsole.db.session import SourceError
from pgconsole.monitor import Snapshot, take_snapshot
from pgconsole.monitor.queue_stats import TYPES_CAP, PerType, per_type
from pgconsole.tui.models import OverviewData, QueueTypeRow

if TYPE_CHECKING:
    import psycopg

# Collectors the Overview reads less often than every refresh, and how old their data may get.
# It shows no statement figures, only the pg_stat_statements check (readable or not), and reading
# the whole view and its delta is a large part of a refresh; the Queries screen reads it every refresh.
CARRIED_S = {"statements": 30.0}
# The other queue systems' checks (the ones --check adds) are read at most this often: each system
# costs statements of its own, and its summary moves slowly next to a one-second refresh.
SYSTEMS_CHECK_S = 10.0


def read(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    previous: Snapshot | None,
    custom: Mapping[str, CustomCheck] | None = None,
) -> tuple[Snapshot, PerType | None]:
    """The monitor's snapshot plus the per-type figures the Overview adds to it (``custom``: the
    config's custom checks by name)."""
    snap = snapshot(conn, caps, previous, custom=custom)
    extra = None
    if snap.queue is not None:
        extra = per_type(conn, [t.job_type for t in snap.queue.by_type if t.pending])
    return snap, extra


def snapshot(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    previous: Snapshot | None,
    only: set[str] | None = None,
    custom: Mapping[str, CustomCheck] | None = None,
) -> Snapshot:
    snap = take_snapshot(conn, caps, previous, only=only, min_interval_s=CARRIED_S, custom=custom)
    if conn.broken or conn.closed:
        # take_snapshot never raises; a lost connection shows as collector errors. Surface it.
        errors = [s.message for s in snap.collectors.values() if s.status == "error" and s.message]
        raise SourceError(errors[0] if errors else "connection lost during refresh")
    return snap


def health(
    snap: Snapshot, thresholds_config: dict[str, Any] | None = None, custom: Mapping[str, Any] | None = None
) -> list[CheckResult]:
    """The check registry's verdicts on a snapshot: the same as ``--check`` gives (``custom``: the
    config's ``[checks.custom.NAME]`` definitions)."""
    return run_checks(snap, resolve_thresholds(thresholds_config or {}), None, custom)


def system_checks(
    conn: psycopg.Connection[Any],
    queues: Mapping[str, Mapping[str, Any]],
    thresholds_config: dict[str, Any] | None = None,
) -> list[CheckResult]:
    """The queue checks of every other queue system in the database, as ``--check`` adds them; a
    failed read is an UNKNOWN check, as there."""
    try:
        return check_systems(conn, queues, resolve_thresholds(thresholds_config or {}), None, [])
    except Exception as exc:  # noqa: BLE001 - reported as a check, like --check does
        if conn.broken or conn.closed:
            raise
        return [
            CheckResult(
                name="queue_latency",
                status=Status.UNKNOWN,
                message=f"cannot read the other queue systems: {exc}",
            )
        ]


def build(
    snap: Snapshot,
    thresholds_config: dict[str, Any] | None = None,
    extra: PerType | None = None,
    custom: Mapping[str, Any] | None = None,
) -> OverviewData:
    data = OverviewData()
    data.checks = health(snap, thresholds_config, custom)
    q = snap.queue
    if q is not None:
        capped_types = [t.job_type for t in q.by_type if t.pending_capped or t.processing_capped]
        if extra is not None:
            capped_types += sorted(extra.failed_capped_types - set(capped_types))
        data.count_method = "pending, processing, failed 1h: exact via partial indexes"
        if capped_types:
            # Each type is counted up to its share of the cap; "+" marks the types that reached it.
            data.count_method += f' (capped per type, "+": {len(capped_types)} type(s))'
        if q.types_capped:
            data.count_method += f"; the first {TYPES_CAP} types"
        failed_1h = extra.failed_1h if extra is not None else {}
        failed_capped = extra.failed_capped_types if extra is not None else set()
        oldest = extra.oldest_due_age_s if extra is not None else {}
        types = sorted({t.job_type for t in q.by_type} | {w.job_type for w in q.windows} | set(failed_1h))
        by_type = {t.job_type: t for t in q.by_type}
        for jt in types:
            t = by_type.get(jt)
            data.queue.append(
                QueueTypeRow(
                    job_type=jt,
                    pending=t.pending if t else 0,
                    pending_capped=bool(t and t.pending_capped),
                    processing=t.processing if t else 0,
                    processing_capped=bool(t and t.processing_capped),
                    failed_1h=failed_1h.get(jt, 0),
                    failed_capped=jt in failed_capped,
                    oldest_due_age_s=oldest.get(jt),
                    completed_per_min=float(round(60 * q.rate_per_s("1m", "completed", jt))),
                )
            )
        # Per minute; over the sample's span when the window sample is full (a busy queue).
        data.completed_interval = round(60 * q.rate_per_s("1m", "completed"))
        data.failed_interval = round(60 * q.rate_per_s("1m", "failed"))
        data.notes.append(f"oldest due pending job waits {q.oldest_due_age_s:.0f}s")
        if q.stuck_note:
            data.notes.append(q.stuck_note)
    c = snap.connections
    if c is not None:
        # The connections_used check's definition (ConnectionStats.used_total of .usable): client
        # backends including this console's own session, against max_connections minus the
        # reserved slots. The breakdown sums to the same total ("this console" is its own session).
        data.connections_by_state = {
            k: v
            for k, v in {
                "active": c.active,
                "idle": c.idle,
                "idle in transaction": c.idle_in_transaction,
                "aborted": c.idle_in_transaction_aborted,
                "other": c.other,
                "hidden": c.hidden,
                "this console": c.used_total - c.total,
            }.items()
            if v
        }
        data.max_connections = c.usable
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
