"""The job queue: counts by type and state, latency, throughput, failures and stuck jobs.

Cheap by construction (perf.md §2.3, DESIGN.md §5), never a ``GROUP BY status`` over the table:

* ``pending`` and ``processing`` are counted by job type, exactly through partial indexes led by
  ``job_type``: the types by a skip scan (one index descent each), then each type up to its share
  of :data:`ACTIVE_CAP` (``TypeCount.pending_capped`` beyond, shown as "1,250+"; a state's
  ``method`` is ``"capped"`` when any type reached its cap). Every type with active jobs is listed
  with its own count whatever the backlog (up to :data:`TYPES_CAP` types), and a count reads at
  most about ACTIVE_CAP index entries however the backlog is spread.
* Finished states (completed, failed, cancelled, expired) come from the planner's estimate
  (``method = "estimate"``): one EXPLAIN, which works for a table, a partitioned table or a view.
* The oldest due pending job is found by a skip scan over the priorities of the claim index
  ``(priority DESC, scheduled_at) WHERE status = 'pending'``: one index descent per distinct priority
  instead of a scan of every pending entry.
* Throughput, the 1/5/15-minute windows and the failure groups come from one sample: the newest
  :data:`WINDOW_CAP` jobs finished in the last 15 minutes, read newest first through the
  ``(completed_at)`` partial index. When the sample is full (``window_capped``), counts are those
  of the sample and rates are over the time it spans (``window_span_s``), so a busy queue shows its
  real rate instead of a lower bound; the failure groups come from the same sample, not a query of
  their own. The window is ``now() - interval`` (STABLE), never ``clock_timestamp()``: a volatile
  bound cannot be an index condition and turns the query into a scan of the whole table. While the
  window holds fewer than WINDOW_CAP jobs, a refresh carries the previous one's counts forward by
  reading only the jobs that entered or left it since (queue_window).
* The statements run in one short transaction with bitmap and sequential scans off
  (``SET LOCAL``). A bitmap scan cannot stop at a LIMIT, and the planner picks one when its
  statistics say the queue is small: during a drain the pending count then read every pending
  index entry to return ACTIVE_CAP + 1, and the window read every job finished in the last 15
  minutes and sorted them (stale statistics are normal on a queue table; autovacuum analyzes it
  behind the traffic). With both off, each statement is a plain index scan that stops at its cap. The
  transaction also gives the counts one consistent snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import errors
from pydantic import BaseModel, Field, SkipValidation

from pgconsole.db.capabilities import ServerCaps
from pgconsole.monitor.base import (
    CollectorUnavailable,
    Statement,
    fetch_all,
    fetch_one,
    grant_queue_read,
    prefetch,
    prefetch_transaction,
    younger_than,
)
from pgconsole.monitor.queue_window import (
    WINDOW_SECONDS,
    WindowRead,
    WindowState,
    read_window,
    window_statement,
)
from pgconsole.queue.models import ACTIVE_STATES, FINISHED_STATES, StuckJob

ACTIVE_CAP = 10_000
"""The active-count budget: index entries one count may read, shared by the job types that have
pending (or processing) jobs. Each type is counted exactly up to its share, ``max(TYPE_CAP_MIN,
ACTIVE_CAP // types)`` (10,000 for one type, 1,250 each for 8, 200 each for 50), then labelled
capped, so every type is listed with its own count whatever the backlog."""
TYPE_CAP_MIN = 100
TYPES_CAP = 500
"""At most this many job types are listed per state (``QueueStats.types_capped`` beyond)."""

# Each state's types by a skip scan over an index led by job_type (pending: jobs_pending_type_idx
# (job_type, scheduled_at), migration 0006; processing: jobs_processing_idx (job_type, locked_by)),
# one descent per type; then each type's count by an index-only scan that stops at the type's cap.
# The cap travels with each row (n > cap means capped); the collector cuts n to the cap. The count's
# ORDER BY is the type index's own order: without it the planner may count through the claim index
# (priority DESC, scheduled_at, job_type), a skip scan that reads every type's entries for each type.
_TYPES_CTE = """
{name} AS (
    (SELECT j.job_type, 1 AS k FROM pgconsole.jobs j WHERE j.status = '{status}' ORDER BY j.job_type LIMIT 1)
  UNION ALL
    SELECT (SELECT j.job_type FROM pgconsole.jobs j
             WHERE j.status = '{status}' AND j.job_type > {name}.job_type
             ORDER BY j.job_type LIMIT 1), {name}.k + 1
      FROM {name} WHERE {name}.job_type IS NOT NULL AND {name}.k < %(types)s
)"""
_TYPE_COUNTS = """
SELECT '{status}' AS status, t.job_type, c.cap,
       (SELECT count(*) FROM (SELECT 1 FROM pgconsole.jobs j
                               WHERE j.status = '{status}' AND j.job_type = t.job_type
                               ORDER BY {order}
                               LIMIT c.cap + 1) x)::int AS n
  FROM {name} t
 CROSS JOIN (SELECT greatest(%(min)s, %(budget)s / greatest(count(*), 1))::int AS cap
               FROM {name} WHERE {name}.job_type IS NOT NULL) c
 WHERE t.job_type IS NOT NULL"""
_PENDING_ORDER = "j.job_type, j.scheduled_at"  # jobs_pending_type_idx
_PROCESSING_ORDER = "j.job_type, j.locked_by"  # jobs_processing_idx
PROCESSING_COUNTS_SQL = (
    "WITH RECURSIVE"
    + _TYPES_CTE.format(name="rt", status="processing")
    + _TYPE_COUNTS.format(name="rt", status="processing", order=_PROCESSING_ORDER)
)
ACTIVE_COUNTS_SQL = (
    "WITH RECURSIVE"
    + _TYPES_CTE.format(name="pt", status="pending")
    + ","
    + _TYPES_CTE.format(name="rt", status="processing")
    + _TYPE_COUNTS.format(name="pt", status="pending", order=_PENDING_ORDER)
    + "\nUNION ALL"
    + _TYPE_COUNTS.format(name="rt", status="processing", order=_PROCESSING_ORDER)
)


def active_params() -> dict[str, int]:
    """The parameters of ACTIVE_COUNTS_SQL and PROCESSING_COUNTS_SQL."""
    return {"types": TYPES_CAP, "min": TYPE_CAP_MIN, "budget": ACTIVE_CAP}


# While a type's pending count is over its cap, a refresh reuses the pending counts until they are
# this old, then counts again: counting to the caps reads up to ACTIVE_CAP index entries only to
# show the same "+" again. Below the caps the count is cheap and read on every refresh.
PENDING_RECOUNT_S = 3.0

# One plan, four arms: each arm's estimated rows is that state's count. Planned afresh at every call
# (EXPLAIN cannot be prepared) for figures that follow the table's statistics: read at most this often.
ESTIMATE_EVERY_S = 60.0
ESTIMATE_SQL = """
EXPLAIN (FORMAT JSON)
SELECT 1 FROM pgconsole.jobs WHERE status = 'completed'
UNION ALL SELECT 1 FROM pgconsole.jobs WHERE status = 'failed'
UNION ALL SELECT 1 FROM pgconsole.jobs WHERE status = 'cancelled'
UNION ALL SELECT 1 FROM pgconsole.jobs WHERE status = 'expired'
"""

OLDEST_PENDING_SQL = """
WITH RECURSIVE pr AS (
    (SELECT priority FROM pgconsole.jobs WHERE status = 'pending' ORDER BY priority DESC LIMIT 1)
  UNION ALL
    SELECT (SELECT j.priority FROM pgconsole.jobs j
             WHERE j.status = 'pending' AND j.priority < pr.priority
             ORDER BY j.priority DESC LIMIT 1)
      FROM pr WHERE pr.priority IS NOT NULL
), heads AS (
  SELECT pr.priority,
         (SELECT j.scheduled_at FROM pgconsole.jobs j
           WHERE j.status = 'pending' AND j.priority = pr.priority
           ORDER BY j.priority DESC, j.scheduled_at LIMIT 1) AS scheduled_at
    FROM pr WHERE pr.priority IS NOT NULL
)
SELECT min(scheduled_at) AS oldest_scheduled_at,
       CASE WHEN isfinite(min(scheduled_at))  -- an infinite time (a superuser's row) has no age
            THEN greatest(0, extract(epoch FROM clock_timestamp() - min(scheduled_at)))::float8 END AS oldest_due_age_s,
       count(*)::int AS priorities
  FROM heads
"""

# Bitmap and sequential scans off for the statements below: see the module docstring. Generic
# plans: the window's slices take timestamps whose custom plans look cheaper than a generic one, so
# PostgreSQL would plan them again at every read (1 ms of planning for 0.04 ms of execution).
PLAN_SETTINGS_SQL = (
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),"
    " set_config('plan_cache_mode', 'force_generic_plan', true)"
)

STUCK_SQL = """
SELECT id, job_type, locked_by, started_at, heartbeat_at, reason, attempt, lease_expires_at
  FROM pgconsole.detect_stuck_jobs()
 LIMIT 100
"""

CountMethod = Literal["exact", "capped", "estimate"]


class StateCount(BaseModel):
    status: str
    count: int
    method: CountMethod
    """``exact``: counted; ``capped``: at least this many (counting stopped at the cap); ``estimate``: planner."""

    @property
    def label(self) -> str:
        if self.method == "capped":
            return capped_label(self.count)
        if self.method == "estimate":
            return f"~{self.count}"
        return str(self.count)


def capped_label(n: int) -> str:
    """A count that stopped at its cap: "at least n"."""
    return f"{n // 1000}k+" if n >= 10_000 else f"{n:,}+"


class TypeCount(BaseModel):
    job_type: str
    pending: int
    processing: int
    pending_capped: bool = False
    """``pending`` is this type's cap: at least that many are pending."""
    processing_capped: bool = False

    @property
    def pending_label(self) -> str:
        return capped_label(self.pending) if self.pending_capped else str(self.pending)


class WindowCount(BaseModel):
    job_type: str
    status: str
    last_1m: int
    last_5m: int
    last_15m: int


class FailureGroup(BaseModel):
    """Failed jobs of one type with one error, in the sample."""

    job_type: str
    error_code: str | None
    error: str | None
    n: int
    last_at: datetime | None

    @property
    def message(self) -> str:
        return self.error or self.error_code or "(no message)"


class QueueStats(BaseModel):
    states: list[StateCount]
    by_type: list[TypeCount]
    """Active jobs by type, each counted exactly up to its cap (``TypeCount.pending_capped``)."""
    types_capped: bool = False
    """TYPES_CAP types were listed for a state: there may be more."""
    oldest_scheduled_at: datetime | None
    oldest_due_age_s: float
    """Age of the oldest pending job that is due (0 when none is due)."""
    windows: list[WindowCount]
    """Jobs finished in the last 1/5/15 minutes by type and state, counted in the sample."""
    window_capped: bool
    """The sample holds WINDOW_CAP jobs: the counts are the newest WINDOW_CAP's, not all."""
    window_span_s: float | None = None
    """When capped: seconds from the oldest job in the sample to now (what the rates are over)."""
    failures: list[FailureGroup]
    """Failed jobs in the sample by type and error, most frequent first (at most 10 groups)."""
    stuck: list[StuckJob] | None
    """None when ``pgconsole.detect_stuck_jobs()`` is not available to this role."""
    stuck_note: str | None = None
    pending_counted_at: float | None = None
    """``time.monotonic()`` when pending was counted: earlier than this read when a capped count
    was reused (``PENDING_RECOUNT_S``)."""
    estimated_at: float | None = None
    """``time.monotonic()`` when the finished states were estimated (reused for ESTIMATE_EVERY_S)."""
    window_state: SkipValidation[WindowState | None] = Field(default=None, exclude=True, repr=False)
    """The window's settled counts, for the next refresh to carry forward (queue_window)."""

    def state(self, status: str) -> StateCount | None:
        return next((s for s in self.states if s.status == status), None)

    def finished(
        self, window: Literal["1m", "5m", "15m"], status: str | None = None, job_type: str | None = None
    ) -> int:
        attr = f"last_{window}"
        return sum(
            getattr(w, attr)
            for w in self.windows
            if (status is None or w.status == status) and (job_type is None or w.job_type == job_type)
        )

    def seconds_covered(self, window: Literal["1m", "5m", "15m"]) -> float:
        """The time the window's counts cover: the window, or the sample's span when that is shorter."""
        seconds = float(WINDOW_SECONDS[window])
        if self.window_capped and self.window_span_s is not None:
            return max(min(seconds, self.window_span_s), 0.001)
        return seconds

    def rate_per_s(
        self, window: Literal["1m", "5m", "15m"], status: str | None = None, job_type: str | None = None
    ) -> float:
        """Jobs finished per second over the window (over the sample's span when capped)."""
        return self.finished(window, status, job_type) / self.seconds_covered(window)

    def failure_rate_percent(self, window: Literal["1m", "5m", "15m"] = "15m") -> float | None:
        """Failed / (completed + failed) among jobs that finished in the window; None if none did."""
        failed = self.finished(window, "failed")
        done = failed + self.finished(window, "completed")
        return 100.0 * failed / done if done else None


def _estimates(conn: psycopg.Connection[Any]) -> list[StateCount]:
    row = fetch_one(conn, ESTIMATE_SQL)
    plan = row["QUERY PLAN"][0]["Plan"]
    arms = plan.get("Plans") or [plan]
    out = []
    for status, arm in zip(FINISHED_STATES, arms, strict=False):
        rows = int(arm.get("Plan Rows", 0))
        # A plan for "no row can match" still says 1 row.
        out.append(StateCount(status=status, count=rows if rows > 1 else 0, method="estimate"))
    return out


def _windows_and_failures(read: WindowRead) -> tuple[list[WindowCount], list[FailureGroup]]:
    """Sum the window's groups into per (type, state) windows and the failed ones into error groups."""
    windows: dict[tuple[str, str], WindowCount] = {}
    failures: list[FailureGroup] = []
    for (job_type, status, error_code, error), g in read.groups.items():
        # A carried count can only drift up (a retried job stays counted), never below zero.
        n1, n5, n15 = max(g.last_1m, 0), max(g.last_5m, 0), max(g.last_15m, 0)
        w = windows.get((job_type, status))
        if w is None:
            w = windows[(job_type, status)] = WindowCount(
                job_type=job_type, status=status, last_1m=0, last_5m=0, last_15m=0
            )
        w.last_1m += n1
        w.last_5m += n5
        w.last_15m += n15
        if status == "failed" and n15:
            failures.append(
                FailureGroup(job_type=job_type, error_code=error_code, error=error, n=n15, last_at=g.last_at)
            )
    failures.sort(key=lambda f: (-f.n, -(f.last_at.timestamp() if f.last_at else 0.0)))
    return sorted(windows.values(), key=lambda w: (w.job_type, w.status)), failures[:10]


def queue_statements(caps: ServerCaps) -> list[Statement]:
    """What collect_queue runs outside its transaction, whatever it counts: the stuck jobs."""
    return [(STUCK_SQL, None)] if caps.has_queue else []


def collect_queue(
    conn: psycopg.Connection[Any], caps: ServerCaps, previous: QueueStats | None = None
) -> QueueStats:
    """All the queue's figures, read in one short transaction (see the module docstring).

    With ``previous`` (the last refresh's), a pending count over the cap younger than
    :data:`PENDING_RECOUNT_S` is reused (never when its ``pending_counted_at`` is None), and the
    finished states' estimates younger than :data:`ESTIMATE_EVERY_S`, and its window is carried
    forward (``queue_window.read_window``); the rest is read again.
    """
    if not caps.has_queue:
        raise CollectorUnavailable(
            "the pgconsole queue is not installed here", "pgconsole setup && pgconsole migrate"
        )
    identity = (caps.database, caps.current_user)
    state = previous.window_state if previous else None
    reuse, estimates = _reusable_pending(previous), _reusable_estimates(previous)
    now = time.monotonic()
    statements: list[Statement] = [
        (PLAN_SETTINGS_SQL, None),
        window_statement(identity, state, now),
        _counts_statement(reuse),
        *([] if estimates is not None else [(ESTIMATE_SQL, None)]),
        (OLDEST_PENDING_SQL, None),
    ]
    # The transaction, BEGIN and COMMIT included, in one round trip (base.prefetch_transaction);
    # each statement's rows (or its error) are then taken by the fetch_all that runs it, in the
    # same order. A window that can no longer be carried is read in full in a transaction of its own.
    if prefetch_transaction(conn, statements):
        fetch_all(conn, PLAN_SETTINGS_SQL)
        window = read_window(conn, identity, state, now, reread=lambda: _planned(conn))
        stats = _counts(conn, caps, reuse, estimates, window)
    else:
        with conn.transaction():
            prefetch(conn, statements)
            fetch_all(conn, PLAN_SETTINGS_SQL)
            window = read_window(conn, identity, state, now)
            stats = _counts(conn, caps, reuse, estimates, window)
    # Outside the transaction: a missing function or grant here must not abort the counts above.
    try:
        stats.stuck = [StuckJob(**r) for r in fetch_all(conn, *queue_statements(caps)[0])]
    except errors.UndefinedFunction:
        stats.stuck_note = "pgconsole.detect_stuck_jobs() is missing: run pgconsole migrate"
    except errors.InsufficientPrivilege:
        stats.stuck_note = (
            f'GRANT EXECUTE ON FUNCTION pgconsole.detect_stuck_jobs() TO "{caps.current_user}";'
        )
    return stats


@contextmanager
def _planned(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """A transaction with the collector's planner settings (PLAN_SETTINGS_SQL)."""
    with conn.transaction():
        fetch_all(conn, PLAN_SETTINGS_SQL)
        yield


def _reusable_pending(previous: QueueStats | None) -> QueueStats | None:
    """``previous`` if its pending count is capped and young enough to show again."""
    if previous is None or previous.pending_counted_at is None:
        return None
    pending = previous.state("pending")
    if pending is None or pending.method != "capped":
        return None
    return previous if younger_than(previous.pending_counted_at, PENDING_RECOUNT_S) else None


def _reusable_estimates(previous: QueueStats | None) -> QueueStats | None:
    """``previous`` if its finished states' estimates are young enough to show again."""
    if previous is None or not younger_than(previous.estimated_at, ESTIMATE_EVERY_S):
        return None
    return previous


def _counts_statement(reuse: QueueStats | None) -> Statement:
    """Both active states counted, or (a capped pending count reused) only the processing one."""
    return (ACTIVE_COUNTS_SQL if reuse is None else PROCESSING_COUNTS_SQL), active_params()


def _counts(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    reuse: QueueStats | None,
    estimates: QueueStats | None,
    window: WindowRead,
) -> QueueStats:
    counted_at = reuse.pending_counted_at if reuse is not None else time.monotonic()
    try:
        active = fetch_all(conn, *_counts_statement(reuse))
        if reuse is not None:
            # The reused rows are the capped count's own, caps included.
            active += [
                {
                    "status": "pending",
                    "job_type": t.job_type,
                    "n": t.pending + int(t.pending_capped),
                    "cap": t.pending,
                }
                for t in reuse.by_type
                if t.pending
            ]
    except errors.InsufficientPrivilege:
        raise CollectorUnavailable(
            f"role {caps.current_user} cannot read pgconsole.jobs", grant_queue_read(caps.current_user)
        ) from None
    states: list[StateCount] = []
    by_type: dict[str, TypeCount] = {}
    for status in ACTIVE_STATES:
        rows = [r for r in active if r["status"] == status]
        capped = [r for r in rows if r["n"] > r["cap"]]
        states.append(
            StateCount(
                status=status,
                count=sum(min(r["n"], r["cap"]) for r in rows),
                method="capped" if capped else "exact",
            )
        )
        for r in rows:
            t = by_type.setdefault(r["job_type"], TypeCount(job_type=r["job_type"], pending=0, processing=0))
            setattr(t, status, min(r["n"], r["cap"]))
            setattr(t, f"{status}_capped", r["n"] > r["cap"])
    types_capped = any(len([r for r in active if r["status"] == st]) >= TYPES_CAP for st in ACTIVE_STATES)
    if estimates is not None:
        estimated_at = estimates.estimated_at
        states += [x for x in estimates.states if x.method == "estimate"]
    else:
        estimated_at = time.monotonic()
        states += _estimates(conn)
    oldest = fetch_one(conn, OLDEST_PENDING_SQL)
    windows, failures = _windows_and_failures(window)
    return QueueStats(
        states=states,
        by_type=sorted(by_type.values(), key=lambda t: t.job_type),
        types_capped=types_capped,
        oldest_scheduled_at=oldest["oldest_scheduled_at"],
        oldest_due_age_s=float(oldest["oldest_due_age_s"] or 0.0),
        windows=windows,
        window_capped=window.capped,
        window_span_s=window.span_s,
        failures=failures,
        stuck=None,
        pending_counted_at=counted_at,
        estimated_at=estimated_at,
        window_state=window.state,
    )


# -- per job type, for the Overview --------------------------------------------------------

FAILED_CAP = 10_000
"""The failed-in-the-last-hour budget, shared by the types like ACTIVE_CAP (per type:
``max(TYPE_CAP_MIN, FAILED_CAP // types that ever failed)``)."""

# Per job type, in one statement, through partial indexes only (checked by EXPLAIN in the tests):
# * oldest due pending job: for each pending type, its first entry in jobs_pending_type_idx
#   (job_type, scheduled_at) WHERE status = 'pending': one descent; due when it is not in the future;
# * failed in the last hour: the types that failed by a skip scan over jobs_failed_idx
#   (job_type, completed_at) WHERE status = 'failed', then each type's failures since now() - 1 hour
#   (a STABLE bound, so an index condition), counted up to its share of FAILED_CAP.
PER_TYPE_SQL = """
WITH RECURSIVE ft AS (
    (SELECT j.job_type, 1 AS k FROM pgconsole.jobs j WHERE j.status = 'failed' ORDER BY j.job_type LIMIT 1)
  UNION ALL
    SELECT (SELECT j.job_type FROM pgconsole.jobs j
             WHERE j.status = 'failed' AND j.job_type > ft.job_type
             ORDER BY j.job_type LIMIT 1), ft.k + 1
      FROM ft WHERE ft.job_type IS NOT NULL AND ft.k < %(types)s
), fcap AS (
  SELECT greatest(%(min)s, %(cap)s / greatest(count(*), 1))::int AS cap FROM ft WHERE ft.job_type IS NOT NULL
), failed AS MATERIALIZED (  -- counted once: n is read twice below
  SELECT ft.job_type, fcap.cap,
         (SELECT count(*) FROM (SELECT 1 FROM pgconsole.jobs j
                                 WHERE j.status = 'failed' AND j.job_type = ft.job_type
                                   AND j.completed_at > now() - interval '1 hour'
                                 LIMIT fcap.cap + 1) x)::int AS n
    FROM ft CROSS JOIN fcap
   WHERE ft.job_type IS NOT NULL
), due AS (
  SELECT t.job_type,
         (SELECT j.scheduled_at FROM pgconsole.jobs j
           WHERE j.status = 'pending' AND j.job_type = t.job_type
           ORDER BY j.job_type, j.scheduled_at LIMIT 1) AS oldest
    FROM unnest(%(types_list)s::text[]) AS t(job_type)
)
SELECT coalesce(d.job_type, f.job_type) AS job_type, least(coalesce(f.n, 0), f.cap) AS failed_1h,
       coalesce(f.n > f.cap, false) AS failed_capped,
       CASE WHEN d.oldest <= now() AND isfinite(d.oldest)  -- not due, or infinite: no age
            THEN greatest(0, extract(epoch FROM clock_timestamp() - d.oldest))::float8 END AS oldest_due_age_s
  FROM due d FULL JOIN (SELECT * FROM failed WHERE n > 0) f ON f.job_type = d.job_type
"""


class PerType:
    """Failed in the last hour (each type counted up to its cap) and the oldest due pending job's
    age, by job type."""

    def __init__(self, rows: list[tuple[str, int, bool, float | None]]) -> None:
        self.failed_1h = {r[0]: int(r[1]) for r in rows}
        self.failed_capped_types = {r[0] for r in rows if r[2]}
        self.oldest_due_age_s = {r[0]: r[3] for r in rows if r[3] is not None}

    @property
    def failed_capped(self) -> bool:
        return bool(self.failed_capped_types)


def per_type(conn: psycopg.Connection[Any], pending_types: list[str]) -> PerType | None:
    """None when the statement fails on a live connection (the Overview shows "–" for these)."""
    params = {"types_list": pending_types, "types": TYPES_CAP, "min": TYPE_CAP_MIN, "cap": FAILED_CAP}
    try:
        rows = conn.execute(PER_TYPE_SQL, params).fetchall()
    except psycopg.Error:
        if conn.broken or conn.closed:
            raise
        return None
    return PerType(
        [(str(r[0]), int(r[1] or 0), bool(r[2]), None if r[3] is None else float(r[3])) for r in rows]
    )
