"""The Queries screen's data, from the monitor's statement collector.

Numbers come from ``pg_stat_statements(false)`` through :func:`pgconsole.monitor.take_snapshot`
(only the ``server`` and ``statements`` collectors); interval deltas are the monitor's
:class:`~pgconsole.monitor.StatementDelta` between this snapshot and the previous one; query texts
are read with :func:`pgconsole.monitor.fetch_query_texts` for the rows shown only (DESIGN.md §5).
Entries of one queryid under several users or nesting levels are summed into one row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from pgconsole.db.capabilities import ServerCaps
from pgconsole.db.session import SourceError
from pgconsole.monitor import Snapshot, fetch_query_texts, take_snapshot


class StatementRow(BaseModel):
    queryid: int | None = None
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    hit_percent: float | None = None


class StatementsData(BaseModel):
    available: bool = True
    hint: str = ""  # when unavailable: how to enable pg_stat_statements
    delta: bool = True
    order: Literal["total", "mean", "calls"] = "total"
    rows: list[StatementRow] = Field(default_factory=list)
    note: str = ""  # the interval the deltas cover, or why they are cumulative for now
    top_of: int | None = None  # the monitor reads this many entries (highest cumulative time first)


SHOWN = 50  # rows on screen, and so the texts fetched
ORDERS = ("total", "mean", "calls")


def _rows(entries: Iterable[tuple[int | None, int, float, int, int, int]]) -> list[StatementRow]:
    """(queryid, calls, total_ms, rows, hit, read) per entry -> one row per queryid."""
    acc: dict[int | None, list[float]] = {}
    for qid, calls, total, nrows, hit, read in entries:
        a = acc.setdefault(qid, [0.0, 0.0, 0.0, 0.0, 0.0])
        a[0] += calls
        a[1] += total
        a[2] += nrows
        a[3] += hit
        a[4] += read
    out = []
    for qid, (n_calls, ms, n_rows, hits, reads) in acc.items():
        if n_calls <= 0:
            continue
        out.append(
            StatementRow(
                queryid=qid,
                query="",
                calls=int(n_calls),
                total_ms=ms,
                mean_ms=ms / n_calls,
                rows=int(n_rows),
                hit_percent=100.0 * hits / (hits + reads) if hits + reads else None,
            )
        )
    return out


def sort_rows(rows: list[StatementRow], order: str) -> list[StatementRow]:
    if order not in ORDERS:
        raise ValueError(f"order: one of {', '.join(ORDERS)}")
    key = {"total": lambda r: r.total_ms, "mean": lambda r: r.mean_ms, "calls": lambda r: float(r.calls)}[
        order
    ]
    return sorted(rows, key=key, reverse=True)


def read(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    previous: Snapshot | None,
    order: str,
    delta: bool,
    shown: int = SHOWN,
) -> tuple[Snapshot | None, StatementsData]:
    """One refresh. Returns the snapshot to pass as ``previous`` next time (None when unavailable)."""
    snap = take_snapshot(conn, caps, previous, only={"server", "statements"})
    if conn.broken or conn.closed:
        raise SourceError(snap.state("statements").message or "connection lost during refresh")
    state = snap.state("statements")
    if snap.statements is None:
        if state.status == "disabled":
            hint = f"{state.message}. To enable it: {state.hint}" if state.hint else state.message
            return None, StatementsData(available=False, hint=hint, delta=delta, order=order)  # type: ignore[arg-type]
        raise SourceError(f"pg_stat_statements: {state.message}")
    note = ""
    if delta and snap.delta is not None:
        rows = _rows(
            (d.queryid, d.calls, d.total_time_ms, d.rows, d.shared_blks_hit, d.shared_blks_read)
            for d in snap.delta.statements
        )
        note = f"over the last {snap.delta.interval_s:.1f} s"
        if snap.delta.statements_evicted:
            note += f"; {snap.delta.statements_evicted} entries evicted (raise pg_stat_statements.max)"
    else:
        rows = _rows(
            (s.queryid, s.calls, s.total_time_ms, s.rows, s.shared_blks_hit, s.shared_blks_read)
            for s in snap.statements.statements
        )
        if delta:
            note = "first refresh: cumulative numbers until the next refresh gives an interval"
    rows = sort_rows(rows, order)[:shown]
    texts = fetch_query_texts(conn, caps, [r.queryid for r in rows if r.queryid is not None])
    for r in rows:
        r.query = texts.get(r.queryid, "") if r.queryid is not None else "(query id not computed)"
    return snap, StatementsData(
        delta=delta,
        order=order,  # type: ignore[arg-type]
        rows=rows,
        note=note,
        top_of=snap.statements.limit,
    )
