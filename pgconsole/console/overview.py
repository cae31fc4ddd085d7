"""Overview from the monitor's snapshot and the check registry (the same verdicts as --check)."""

from __future__ import annotations

from typing import Any

import psycopg

from pgconsole.checks import resolve_thresholds, run_checks
from pgconsole.console.models import CheckRow, OverviewData, QueueTypeRow, Status
from pgconsole.console.session import SourceError
from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor import Snapshot, take_snapshot

FAILED_CAP = 10_000

# Collectors the Overview reads less often than every refresh, and how old their data may get.
# It shows no statement figures, only the pg_stat_statements check (readable or not), yet reading
# the whole view (up to 500 entries) and its delta was a quarter of a refresh's CPU: 6.39 of 25.75 ms,
# client and backend, 200k pending (bench/results/refresh-cpu-before.txt, python -m bench.refresh_cpu).
# The Queries screen reads it every refresh.
CARRIED_S = {"statements": 30.0}

# Per job type, in one statement, through the partial indexes only (checked by EXPLAIN in the tests):
# * oldest due pending job: a skip scan over the priorities of the claim index
#   (priority DESC, scheduled_at, job_type) WHERE status = 'pending', then for each (priority, type)
#   the first due entry of that type: one short index descent each, never every pending row;
# * failed in the last hour: failed jobs finished since now() - 1 hour (a STABLE bound, so it is an
#   index condition), read through a failed/finished partial index, capped at FAILED_CAP rows.
PER_TYPE_SQL = """
WITH RECURSIVE pr AS (
    (SELECT j.priority FROM pgconsole.jobs j WHERE j.status = 'pending' ORDER BY j.priority DESC LIMIT 1)
  UNION ALL
    SELECT (SELECT j.priority FROM pgconsole.jobs j
             WHERE j.status = 'pending' AND j.priority < pr.priority
             ORDER BY j.priority DESC LIMIT 1)
      FROM pr WHERE pr.priority IS NOT NULL
), due AS (
  SELECT t.job_type, min(h.scheduled_at) AS oldest
    FROM unnest(%(types)s::text[]) AS t(job_type)
   CROSS JOIN pr
   CROSS JOIN LATERAL (
         SELECT j.scheduled_at FROM pgconsole.jobs j
          WHERE j.status = 'pending' AND j.priority = pr.priority AND j.scheduled_at <= now()
            AND j.job_type = t.job_type
          ORDER BY j.priority DESC, j.scheduled_at LIMIT 1) h
   WHERE pr.priority IS NOT NULL
   GROUP BY t.job_type
), failed AS (
  SELECT f.job_type, count(*)::int AS n
    FROM (SELECT j.job_type FROM pgconsole.jobs j
           WHERE j.status = 'failed' AND j.completed_at > now() - interval '1 hour'
           LIMIT %(cap)s) f
   GROUP BY f.job_type
)
SELECT coalesce(d.job_type, f.job_type) AS job_type, coalesce(f.n, 0) AS failed_1h,
       CASE WHEN isfinite(d.oldest)  -- NULL (greatest() would make it 0) or infinite: no age
            THEN greatest(0, extract(epoch FROM clock_timestamp() - d.oldest))::float8 END AS oldest_due_age_s
  FROM due d FULL JOIN failed f ON f.job_type = d.job_type
"""


class PerType:
    """Failed in the last hour and the oldest due pending job's age, by job type."""

    def __init__(self, rows: list[tuple[str, int, float | None]]) -> None:
        self.failed_1h = {r[0]: int(r[1]) for r in rows}
        self.oldest_due_age_s = {r[0]: r[2] for r in rows if r[2] is not None}
        self.failed_capped = sum(self.failed_1h.values()) >= FAILED_CAP


def per_type(conn: psycopg.Connection[Any], pending_types: list[str]) -> PerType:
    rows = conn.execute(PER_TYPE_SQL, {"types": pending_types, "cap": FAILED_CAP}).fetchall()
    return PerType([(str(r[0]), int(r[1]), None if r[2] is None else float(r[2])) for r in rows])


def read(
    conn: psycopg.Connection[Any], caps: ServerCaps, previous: Snapshot | None
) -> tuple[Snapshot, PerType | None]:
    """The monitor's snapshot plus the per-type figures the Overview adds to it."""
    snap = snapshot(conn, caps, previous)
    extra = None
    if snap.queue is not None:
        try:
            extra = per_type(conn, [t.job_type for t in snap.queue.by_type if t.pending])
        except psycopg.Error:
            if conn.broken or conn.closed:
                raise
            extra = None  # shown as "–"; the monitor's own figures still render
    return snap, extra


_STATUS: dict[str, Status] = {"OK": "ok", "WARNING": "warning", "CRITICAL": "critical", "UNKNOWN": "unknown"}


def snapshot(
    conn: psycopg.Connection[Any], caps: ServerCaps, previous: Snapshot | None, only: set[str] | None = None
) -> Snapshot:
    snap = take_snapshot(conn, caps, previous, only=only, min_interval_s=CARRIED_S)
    if conn.broken or conn.closed:
        # take_snapshot never raises; a lost connection shows as collector errors. Surface it.
        errors = [s.message for s in snap.collectors.values() if s.status == "error" and s.message]
        raise SourceError(errors[0] if errors else "connection lost during refresh")
    return snap


def health(snap: Snapshot, thresholds_config: dict[str, Any] | None = None) -> list[CheckRow]:
    """The check registry's verdicts on a snapshot, as the banner and the checks panel show them."""
    results = run_checks(snap, resolve_thresholds(thresholds_config or {}))
    return [
        CheckRow(name=r.name, status=_STATUS.get(r.status.name, "unknown"), message=r.message)
        for r in results
    ]


def build(
    snap: Snapshot, thresholds_config: dict[str, Any] | None = None, extra: PerType | None = None
) -> OverviewData:
    data = OverviewData()
    data.checks = health(snap, thresholds_config)
    q = snap.queue
    if q is not None:
        pending_state = q.state("pending")
        capped = pending_state is not None and pending_state.method == "capped"
        cap = f"{pending_state.count // 1000}k" if capped and pending_state is not None else ""
        caps_hit = [
            f"pending {cap}+" if cap else "",
            "failed 10k+" if extra is not None and extra.failed_capped else "",
        ]
        data.count_method = "pending, processing, failed 1h: exact via partial indexes"
        if any(caps_hit):
            data.count_method += " (capped: " + ", ".join(c for c in caps_hit if c) + ")"
        if capped and pending_state is not None:
            data.count_cap = pending_state.count
        failed_1h = extra.failed_1h if extra is not None else {}
        oldest = extra.oldest_due_age_s if extra is not None else {}
        types = sorted({t.job_type for t in q.by_type} | {w.job_type for w in q.windows} | set(failed_1h))
        by_type = {t.job_type: t for t in q.by_type}
        for jt in types:
            t = by_type.get(jt)
            data.queue.append(
                QueueTypeRow(
                    job_type=jt,
                    pending=t.pending if t else 0,
                    pending_capped=capped and bool(t and t.pending),
                    processing=t.processing if t else 0,
                    failed_1h=failed_1h.get(jt, 0),
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
