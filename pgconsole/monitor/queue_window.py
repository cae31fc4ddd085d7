"""The queue's 1/5/15-minute windows of finished jobs, read in full or carried forward in slices.

A full read is the sample of the newest :data:`WINDOW_CAP` jobs finished in the last 15 minutes
(see queue_stats' module docstring). Reading it again at every refresh re-reads every job of the
last 15 minutes to learn what changed in the last few seconds (the largest statement of an
exporter scrape on a steady queue: docs/BENCHMARKS.md §9), so while the window holds fewer than
WINDOW_CAP jobs a refresh carries the previous counts forward instead, exactly: it reads the jobs
that finished since the previous read, adds them, and subtracts those that left each window since
(the slice ``(T - W, T' - W]`` for a window ``W`` between reads at ``T`` and ``T'``). Every slice is
a range of the ``(completed_at)`` partial index, a few seconds wide.

Two limits keep the carried counts honest:

* Only jobs older than :data:`SETTLE_S` are carried: ``completed_at`` is the finishing
  transaction's start time, so a job may appear a moment after a read with a time just before it.
  The last SETTLE_S are read again each time (the exporter's counters do the same).
* A job that leaves the table or its final state inside the window (a retry, a purge) stays
  counted until the next full read, at most :data:`REREAD_S` later (the exporter drops the state
  sooner: its ``--slow-every``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from pgconsole.monitor.base import Params, Statement, fetch_all, younger_than

WINDOW_CAP = 2_000
SETTLE_S = 2.0
REREAD_S = 60.0
"""A carried window is read in full again when it is this old."""
MAX_GAP_S = 30.0
"""Reads further apart than this start afresh (a slice must stay inside the shortest window)."""
WINDOW_SECONDS = {"1m": 60, "5m": 300, "15m": 900}

_FINISHED = "status IN ('completed', 'failed', 'cancelled', 'expired')"
_COLUMNS = """job_type, status, completed_at,
               CASE WHEN status = 'failed' THEN error_code END AS error_code,
               CASE WHEN status = 'failed' THEN left(error_message, 200) END AS error"""
_BOUNDS = "b AS MATERIALIZED (SELECT now() AS now, now() - make_interval(secs => %(settle)s) AS settled)"

# The sample, grouped by type, state and (failed jobs only) error, with per-window counts and the
# part not yet settled; the server's now and settle bound on every row (one row of NULLs if empty).
WINDOW_SQL = f"""
WITH {_BOUNDS},
w AS (SELECT {_COLUMNS}
        FROM pgconsole.jobs
       WHERE {_FINISHED}
         AND completed_at > now() - interval '15 minutes'
       ORDER BY completed_at DESC
       LIMIT %(cap)s)
SELECT b.now, b.settled, g.*
  FROM b LEFT JOIN LATERAL (
    SELECT job_type, status, error_code, error,
           count(*) FILTER (WHERE completed_at > b.now - interval '1 minute')::int AS last_1m,
           count(*) FILTER (WHERE completed_at > b.now - interval '5 minutes')::int AS last_5m,
           count(*)::int AS last_15m,
           count(*) FILTER (WHERE completed_at >= b.settled)::int AS unsettled,
           max(completed_at) AS last_at,
           greatest(0, extract(epoch FROM b.now - min(completed_at)))::float8 AS span_s
      FROM w GROUP BY job_type, status, error_code, error) g ON true
"""  # noqa: S608 - constant fragments only

# The slices since the previous read (%(t)s its now, %(s)s its settle bound): the jobs finished
# since s ("new"), and for each window those that left it, in (t - W, now - W]. Each slice stops
# at the cap; a slice that reaches it (``any_full``) makes the caller read the window in full.
_OUT = """SELECT '{part}' AS part, {columns}
        FROM pgconsole.jobs
       WHERE {finished}
         AND completed_at > %(t)s - interval '{w}' AND completed_at <= (SELECT now FROM b) - interval '{w}'
       ORDER BY completed_at LIMIT %(cap)s"""
_SLICES = """
WITH {bounds},
r AS (
    (SELECT 'new' AS part, {columns}
       FROM pgconsole.jobs
      WHERE {finished} AND completed_at >= %(s)s
      ORDER BY completed_at LIMIT %(cap)s)
  UNION ALL ({out_1m})
  UNION ALL ({out_5m})
  UNION ALL ({out_15m})
)
SELECT b.now, b.settled,
       EXISTS (SELECT 1 FROM r GROUP BY part HAVING count(*) >= %(cap)s) AS any_full, g.*
  FROM b LEFT JOIN LATERAL (
    SELECT job_type, status, error_code, error,
           count(*) FILTER (WHERE part = 'new')::int AS new,
           count(*) FILTER (WHERE part = 'new' AND completed_at < b.settled)::int AS settling,
           count(*) FILTER (WHERE part = 'out_1m')::int AS out_1m,
           count(*) FILTER (WHERE part = 'out_5m')::int AS out_5m,
           count(*) FILTER (WHERE part = 'out_15m')::int AS out_15m,
           max(completed_at) FILTER (WHERE part = 'new') AS last_at
      FROM r GROUP BY job_type, status, error_code, error) g ON true
"""
SLICES_SQL = _SLICES.format(
    bounds=_BOUNDS,
    columns=_COLUMNS,
    finished=_FINISHED,
    **{
        f"out_{w}": _OUT.format(part=f"out_{w}", columns=_COLUMNS, finished=_FINISHED, w=interval)
        for w, interval in (("1m", "1 minute"), ("5m", "5 minutes"), ("15m", "15 minutes"))
    },
)

Key = tuple[str, str, str | None, str | None]
"""(job_type, status, error_code, error): the sample's groups."""


# Plain dataclasses, not pydantic models: internal state rebuilt at every refresh, where a model's
# validation would cost more than the read it replaces.
@dataclass(slots=True)
class Group:
    """One group's counts per window."""

    last_1m: int
    last_5m: int
    last_15m: int
    last_at: datetime | None


def _copy(g: Group) -> Group:
    return Group(
        g.last_1m, g.last_5m, g.last_15m, g.last_at
    )  # dataclasses.replace reads the fields each time


@dataclass(slots=True)
class WindowState:
    """What a refresh carries to the next: the settled counts and the bounds they were read at."""

    identity: tuple[str, str]
    """(database, role) the counts were read as: another connection's are not reused."""
    now: datetime
    settled: datetime
    read_at: float
    full_read_at: float
    groups: dict[Key, Group]


@dataclass(slots=True)
class WindowRead:
    """The window's groups as of this read (settled and not), and whether it is a capped sample."""

    groups: dict[Key, Group]
    capped: bool
    span_s: float | None
    state: WindowState | None
    """None when the read cannot be carried (a capped sample)."""


def window_statement(identity: tuple[str, str], previous: WindowState | None, now: float) -> Statement:
    """What :func:`read_window` sends first at ``now``: the slices that carry ``previous`` forward
    when it can be, else the full read."""
    if (
        previous is not None
        and previous.identity == identity
        and younger_than(previous.full_read_at, REREAD_S, now)
        and younger_than(previous.read_at, MAX_GAP_S, now)
    ):
        return SLICES_SQL, {"settle": SETTLE_S, "cap": WINDOW_CAP, "t": previous.now, "s": previous.settled}
    return WINDOW_SQL, {"settle": SETTLE_S, "cap": WINDOW_CAP}


def read_window(
    conn: psycopg.Connection[Any],
    identity: tuple[str, str],
    previous: WindowState | None,
    now: float | None = None,
    reread: Callable[[], AbstractContextManager[object]] | None = None,
) -> WindowRead:
    """The window, carried from ``previous`` when it can be, else read in full (inside the queue
    collector's transaction: bitmap and sequential scans off). ``reread``: the transaction a full
    read after a carry that failed runs in, when the caller's has ended (its statements were read
    ahead, see ``queue_stats.collect_queue``)."""
    now = time.monotonic() if now is None else now
    query, params = window_statement(identity, previous, now)
    if previous is not None and query == SLICES_SQL:
        carried = _carry(conn, previous, now, params)
        if carried is not None:
            return carried
        if reread is not None:
            with reread():
                return _full(conn, identity, now)
    return _full(conn, identity, now)


def _full(conn: psycopg.Connection[Any], identity: tuple[str, str], now: float) -> WindowRead:
    rows = fetch_all(conn, *window_statement(identity, None, now))
    head = rows[0]
    groups: dict[Key, Group] = {}
    settled: dict[Key, Group] = {}
    for r in rows:
        if r["job_type"] is None:
            continue
        key = (r["job_type"], r["status"], r["error_code"], r["error"])
        groups[key] = Group(r["last_1m"], r["last_5m"], r["last_15m"], r["last_at"])
        u = r["unsettled"]
        settled[key] = Group(r["last_1m"] - u, r["last_5m"] - u, r["last_15m"] - u, r["last_at"])
    total = sum(g.last_15m for g in groups.values())
    capped = total >= WINDOW_CAP
    span = max((float(r["span_s"]) for r in rows if r["span_s"] is not None), default=None)
    state = None
    if not capped:
        state = WindowState(identity, head["now"], head["settled"], now, now, settled)
    return WindowRead(groups, capped, span if capped else None, state)


def _carry(
    conn: psycopg.Connection[Any], previous: WindowState, now: float, params: Params
) -> WindowRead | None:
    """``previous`` moved to now by its slices; None when a slice or the total reaches the cap."""
    rows = fetch_all(conn, SLICES_SQL, params)
    head = rows[0]
    if head["any_full"]:
        return None
    groups = {k: _copy(g) for k, g in previous.groups.items()}
    settled = {k: _copy(g) for k, g in previous.groups.items()}
    for r in rows:
        if r["job_type"] is None:
            continue
        key = (r["job_type"], r["status"], r["error_code"], r["error"])
        for out, moved in ((groups, r["new"]), (settled, r["settling"])):
            g = out.get(key)
            if g is None:
                g = out[key] = Group(0, 0, 0, None)
            g.last_1m += moved - r["out_1m"]
            g.last_5m += moved - r["out_5m"]
            g.last_15m += moved - r["out_15m"]
            if r["last_at"] is not None and (g.last_at is None or r["last_at"] > g.last_at):
                g.last_at = r["last_at"]
    if sum(g.last_15m for g in groups.values()) >= WINDOW_CAP:
        return None  # from here on a capped sample, which only a full read gives
    kept = {k: g for k, g in groups.items() if g.last_15m > 0}
    state = WindowState(
        previous.identity,
        head["now"],
        head["settled"],
        now,
        previous.full_read_at,
        {k: g for k, g in settled.items() if g.last_15m > 0},
    )
    return WindowRead(kept, False, None, state)
