"""One target checked: connect, snapshot (PgBouncer and the custom checks included), judge.

The one path from a target's settings to its check results, for ``--check`` (one target or many)
and, through :func:`collect`, for the exporter's scrape (which keeps its connection between
scrapes and so starts from :func:`collect`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pgconsole.checks.registry import collectors_for, run_checks
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.systems import check_systems
from pgconsole.checks.thresholds import Thresholds
from pgconsole.db.capabilities import ServerCaps, read_capabilities
from pgconsole.db.connect import ConnectError, Purpose, connect, connect_pgbouncer_admin, describe_error
from pgconsole.monitor.snapshot import (
    CUSTOM,
    PGBOUNCER,
    Snapshot,
    attach_pgbouncer,
    pgbouncer_unreachable,
    take_snapshot,
)

if TYPE_CHECKING:
    import psycopg

    from pgconsole.config import Settings
    from pgconsole.monitor.base import Statement

OUTPUT_MARGIN_S = 0.25  # time kept for rendering and exiting after the snapshot's deadline


def open_pgbouncer(settings: Settings, left_s: float) -> tuple[psycopg.Connection[Any] | None, str | None]:
    """PgBouncer's admin console when ``pgbouncer_dsn`` is set: (connection, None) or (None, why)."""
    if not settings.pgbouncer_dsn:
        return None, None
    try:
        conn = connect_pgbouncer_admin(
            settings.pgbouncer_dsn, connect_timeout=min(settings.connect_timeout, max(1.0, left_s))
        )
        return conn, None
    except ConnectError as exc:
        return None, str(exc)


def collect(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    settings: Settings,
    *,
    needed: Collection[str],
    deadline: float,
    collector_timeout_ms: int,
    previous: Snapshot | None = None,
    bouncer: psycopg.Connection[Any] | None = None,
    bouncer_error: str | None = None,
    min_interval_s: Mapping[str, float] | None = None,
    read_ahead: Sequence[Statement] = (),
) -> Snapshot:
    """The snapshot the checks judge: the collectors ``needed``, PgBouncer's pools when configured,
    and the custom checks' numbers (``min_interval_s``, ``read_ahead``: as for take_snapshot)."""
    snap = take_snapshot(
        conn,
        caps,
        previous,
        only=needed,
        min_interval_s=min_interval_s,
        deadline=deadline,
        collector_timeout_ms=collector_timeout_ms,
        pgbouncer=bouncer,
        custom=settings.checks.custom if CUSTOM in needed else None,
        read_ahead=read_ahead,
    )
    if bouncer_error is not None and PGBOUNCER in needed:
        attach_pgbouncer(snap, None, pgbouncer_unreachable(bouncer_error))
    return snap


def check_target(
    settings: Settings,
    thresholds: Mapping[str, Thresholds],
    only: Collection[str] | None,
    timeout: float,
    *,
    start: float | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> list[CheckResult]:
    """The check results of one target within ``timeout`` seconds of ``start`` (statement by
    statement; a caller that must not overrun even a silent server adds its own watchdog)."""
    start = time.monotonic() if start is None else start
    phase = on_phase or (lambda _p: None)
    dsn = settings.target_dsn()
    try:
        conn = connect(dsn, Purpose.CHECK, connect_timeout=min(settings.connect_timeout, timeout))
    except ConnectError as exc:
        return [CheckResult(name="connection", status=Status.CRITICAL, message=f"cannot connect: {exc}")]
    bouncer = None
    try:
        phase("reading capabilities")
        caps = read_capabilities(conn)
        needed = collectors_for(only)
        if not settings.checks.custom:
            needed.discard(CUSTOM)
        bouncer_error = None
        if settings.pgbouncer_dsn and PGBOUNCER in needed:
            phase("connecting to PgBouncer")
            bouncer, bouncer_error = open_pgbouncer(
                settings, start + timeout - OUTPUT_MARGIN_S - time.monotonic()
            )
        phase("collecting")
        snap = collect(
            conn,
            caps,
            settings,
            needed=needed,
            deadline=start + timeout - OUTPUT_MARGIN_S,
            collector_timeout_ms=int(min(2.0, timeout) * 1000),
            bouncer=bouncer,
            bouncer_error=bouncer_error,
        )
        phase("judging")
        results = run_checks(snap, thresholds, only, settings.checks.custom)
        phase("reading the other queue systems")
        try:
            results += check_systems(conn, settings.queues, thresholds, only, results)
        except Exception as exc:  # noqa: BLE001 - the other checks' verdicts stand
            if conn.broken or conn.closed:
                raise
            results.append(
                CheckResult(
                    name="queue_latency",
                    status=Status.UNKNOWN,
                    message=f"cannot read the other queue systems: {describe_error(exc, dsn)}",
                )
            )
        return results
    except Exception as exc:
        lost = conn.broken or conn.closed
        return [
            CheckResult(
                name="connection",
                status=Status.CRITICAL if lost else Status.UNKNOWN,
                message=f"{'lost the connection' if lost else 'internal error'}: {describe_error(exc, dsn)}",
            )
        ]
    finally:
        for c in (conn, bouncer):
            try:
                if c is not None:
                    c.close()
            except Exception:
                pass
