"""One full snapshot: every collector in turn, each with its own time limit and error capture.

Entry point for the TUI and ``--check``::

    caps = read_capabilities(conn)
    snap = take_snapshot(conn, caps)                  # first refresh
    snap = take_snapshot(conn, caps, previous=snap)   # later: snap.delta has the rates,
                                                      # disabled collectors stay disabled

The connection must be in autocommit (one transaction per statement, so cumulative statistics are
fresh each time; PG 15+ ``stats_fetch_consistency`` freezes them inside a transaction).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors
from pydantic import BaseModel

from pgconsole.config import CustomCheck
from pgconsole.db.capabilities import ServerCaps
from pgconsole.db.connect import Pooler, pooling
from pgconsole.db.redact import redact
from pgconsole.monitor.activity import Activity, activity_statements, collect_activity
from pgconsole.monitor.archiver import ArchiverStats, archiver_statements, collect_archiver
from pgconsole.monitor.base import (
    CollectorState,
    CollectorUnavailable,
    Statement,
    drop_prefetched,
    grant_queue_read,
    grant_read_all_stats,
    prefetch,
)
from pgconsole.monitor.connections import ConnectionStats, collect_connections, connections_statements
from pgconsole.monitor.custom import CustomValue, run_custom
from pgconsole.monitor.database import DatabaseStats, collect_database, database_statements
from pgconsole.monitor.delta import SnapshotDelta, compute_delta
from pgconsole.monitor.migrations import MigrationState, collect_migrations, migrations_statements
from pgconsole.monitor.notify import NotifyQueue, collect_notify, notify_statements
from pgconsole.monitor.pgbouncer import PgBouncerStats, collect_pgbouncer
from pgconsole.monitor.queue_stats import QueueStats, collect_queue, queue_statements
from pgconsole.monitor.replication import Replication, collect_replication, replication_statements
from pgconsole.monitor.server import ServerInfo, collect_server, server_statements
from pgconsole.monitor.statements import StatementStats, collect_statements
from pgconsole.monitor.vacuum import VacuumHealth, collect_vacuum, vacuum_statements

DEFAULT_COLLECTOR_TIMEOUT_MS = 2_000


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    description: str
    collect: Callable[..., BaseModel]
    """``collect(conn, caps)``, or ``collect(conn, caps, previous)`` when ``takes_previous``."""
    privilege_hint: Callable[[str], str] | None
    """The grant that fixes a permission error, given the role name."""
    needs_all_stats: bool = False
    """Runs without pg_read_all_stats but sees only this role's own sessions (state 'limited')."""
    takes_previous: bool = False
    """Given the previous snapshot's data (None if it has none), to reuse what is still valid."""
    min_interval_s: float = 0.0
    """With a previous snapshot, its data is reused until it is this old (figures that move slowly,
    whose collectors are a large part of a refresh; the console's cost: docs/BENCHMARKS.md)."""
    read_ahead: Callable[[ServerCaps], list[Statement]] | None = None
    """Statements ``collect`` runs whatever else it reads, as it passes them to fetch_all: read
    ahead with the other collectors' in one round trip (``base.prefetch``)."""


COLLECTORS: tuple[CollectorSpec, ...] = (
    CollectorSpec(
        "server",
        "version, uptime, recovery, limits",
        collect_server,
        None,
        read_ahead=server_statements,
    ),
    CollectorSpec(
        "connections",
        "sessions by state vs max_connections",
        collect_connections,
        None,
        True,
        read_ahead=connections_statements,
    ),
    CollectorSpec(
        "database",
        "pg_stat_database counters and size",
        collect_database,
        None,
        takes_previous=True,
        read_ahead=database_statements,
    ),
    CollectorSpec("statements", "pg_stat_statements(false) numbers", collect_statements, None),
    CollectorSpec(
        "activity",
        "long queries and transactions, lock waits, blocking trees",
        collect_activity,
        None,
        True,
        read_ahead=activity_statements,
    ),
    CollectorSpec(
        "replication",
        "standbys, replay delay, slots",
        collect_replication,
        None,
        True,
        read_ahead=replication_statements,
    ),
    CollectorSpec(
        "vacuum",
        "wraparound, queue-table dead tuples, xmin holders",
        collect_vacuum,
        None,
        min_interval_s=10.0,
        read_ahead=vacuum_statements,
    ),
    CollectorSpec(
        "archiver",
        "pg_stat_archiver failures",
        collect_archiver,
        None,
        min_interval_s=10.0,
        read_ahead=archiver_statements,
    ),
    CollectorSpec("notify", "LISTEN/NOTIFY queue usage", collect_notify, None, read_ahead=notify_statements),
    CollectorSpec(
        "queue",
        "job counts, latency, throughput, failures, stuck jobs",
        collect_queue,
        grant_queue_read,
        takes_previous=True,
        read_ahead=queue_statements,  # the stuck jobs (its counts run in a transaction of their own)
    ),
    CollectorSpec(
        "migrations",
        "applied and pending pgconsole migrations",
        collect_migrations,
        grant_queue_read,
        min_interval_s=10.0,
        read_ahead=migrations_statements,
    ),
)
COLLECTOR_NAMES = tuple(c.name for c in COLLECTORS)

# Errors that mean "this cannot work here": disable the collector instead of retrying every refresh.
_DISABLING = (
    errors.InsufficientPrivilege,
    errors.UndefinedTable,
    errors.UndefinedColumn,
    errors.UndefinedFunction,
    errors.UndefinedObject,
    errors.InvalidSchemaName,
    errors.ObjectNotInPrerequisiteState,
    errors.FeatureNotSupported,
)


class Snapshot(BaseModel):
    """Everything the dashboard and the checks look at, from one pass over the collectors.

    A model field is None when its collector did not produce data; ``collectors[name]`` says why.
    """

    taken_at: datetime | None
    """Server clock at the start (None if the server collector failed)."""
    monotonic: float
    """Client monotonic clock at the start (interval fallback)."""
    elapsed_ms: float
    caps: ServerCaps
    collectors: dict[str, CollectorState]
    server: ServerInfo | None = None
    connections: ConnectionStats | None = None
    database: DatabaseStats | None = None
    statements: StatementStats | None = None
    activity: Activity | None = None
    replication: Replication | None = None
    vacuum: VacuumHealth | None = None
    archiver: ArchiverStats | None = None
    notify: NotifyQueue | None = None
    queue: QueueStats | None = None
    migrations: MigrationState | None = None
    pgbouncer: PgBouncerStats | None = None
    """PgBouncer's pools, from its admin console (another connection: see :func:`read_pgbouncer`)."""
    custom: dict[str, CustomValue] | None = None
    """The custom checks' numbers by name (``[checks.custom.NAME]``), when asked for."""
    delta: SnapshotDelta | None = None
    """Rates against the previous snapshot (None on the first one)."""

    def state(self, name: str) -> CollectorState:
        return self.collectors.get(name) or CollectorState(
            name=name, status="skipped", message="not collected"
        )


# PgBouncer's admin console is a connection of its own (setting pgbouncer_dsn), so its collector is
# not in COLLECTORS: take_snapshot runs it on the connection it is given, the console's data source
# on a session of its own, and a snapshot without it has no state for it (its checks are not run).
PGBOUNCER = "pgbouncer"
# The custom checks' statements come from the config, so they are not in COLLECTORS either.
CUSTOM = "custom"


def read_pgbouncer(conn: psycopg.Connection[Any]) -> tuple[PgBouncerStats | None, CollectorState]:
    """The pools from the admin console on ``conn``, and the collector's state (never raises for a
    database error: the state says what failed)."""
    t0 = time.monotonic()
    try:
        stats: PgBouncerStats | None = collect_pgbouncer(conn)
        state = CollectorState(name=PGBOUNCER, status="ok")
    except psycopg.Error as exc:
        stats, state = None, CollectorState(name=PGBOUNCER, status="error", message=redact(_one_line(exc)))
    state.elapsed_ms = (time.monotonic() - t0) * 1000
    state.collected_at = t0
    return stats, state


def pgbouncer_unreachable(message: str) -> CollectorState:
    """The state of the PgBouncer collector when its admin console cannot be reached."""
    return CollectorState(name=PGBOUNCER, status="error", message=f"cannot reach PgBouncer: {message}")


def attach_pgbouncer(snap: Snapshot, stats: PgBouncerStats | None, state: CollectorState) -> Snapshot:
    snap.pgbouncer = stats
    snap.collectors[PGBOUNCER] = state
    return snap


_TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, false)"
# The statement_timeout _set_timeout last set on each connection.
_timeouts: weakref.WeakKeyDictionary[psycopg.Connection[Any], str] = weakref.WeakKeyDictionary()


def _set_timeout(conn: psycopg.Connection[Any], ms: int) -> None:
    # Through transaction pooling a session setting would stay on the server connection for the
    # pool's next client: the statements are then bounded by the role's statement_timeout and the
    # caller's deadline (DeadlineSession, --check's watchdog) instead.
    if pooling(conn) is Pooler.TRANSACTION:
        return
    value = str(max(1, int(ms)))
    # An autocommit session keeps it, and every other setter in pgconsole sets it locally: a
    # snapshot after one that set the same value sends nothing. (Inside a caller's transaction a
    # rollback would undo it, so there it is sent every time.)
    if conn.autocommit and _timeouts.get(conn) == value:
        return
    conn.execute(_TIMEOUT_SQL, (value,))
    if conn.autocommit:
        _timeouts[conn] = value


def take_snapshot(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    previous: Snapshot | None = None,
    *,
    only: Collection[str] | None = None,
    deadline: float | None = None,
    collector_timeout_ms: int = DEFAULT_COLLECTOR_TIMEOUT_MS,
    min_interval_s: Mapping[str, float] | None = None,
    pgbouncer: psycopg.Connection[Any] | None = None,
    custom: Mapping[str, CustomCheck] | None = None,
    read_ahead: Sequence[Statement] = (),
) -> Snapshot:
    """Run the collectors (all, or ``only``) and return a :class:`Snapshot`.

    ``deadline`` is a ``time.monotonic()`` value: each statement's timeout is cut to the time left,
    and collectors that no longer fit are ``skipped``. Collectors disabled in ``previous`` stay
    disabled (their hint is carried over) without touching the server, and slow-moving ones
    (``min_interval_s``) reuse ``previous``'s data until it is that old (``collected_at`` says when
    it was read). ``min_interval_s`` sets that age per collector for this caller, over the
    collectors' own (a screen that does not show a collector's figures reads it less often). Never
    raises for a collector's failure; a lost connection marks the remaining collectors as ``error``.
    ``pgbouncer``: a connection to PgBouncer's admin console, read after the collectors.
    ``custom``: the config's custom checks by name, their statements run read-only after the collectors.
    ``read_ahead``: statements the caller runs through fetch_all after the snapshot, sent with the
    collectors' in one pipeline (kept until the next snapshot on ``conn``).
    """
    drop_prefetched(conn)  # a previous caller's read-ahead not asked for: stale now
    start = time.monotonic()
    states: dict[str, CollectorState] = {}
    data: dict[str, BaseModel] = {}
    current_timeout = collector_timeout_ms
    connection_lost: str | None = None
    try:
        _set_timeout(conn, collector_timeout_ms)
    except psycopg.Error as exc:
        connection_lost = redact(_one_line(exc))
    limited = not (caps.can_read_all_stats or caps.is_superuser)
    to_run = []
    for spec in COLLECTORS:
        name = spec.name
        if only is not None and name not in only:
            continue
        if previous is not None and previous.state(name).status == "disabled":
            states[name] = previous.state(name).model_copy(update={"elapsed_ms": 0.0})
            continue
        max_age_s = (min_interval_s or {}).get(name, spec.min_interval_s)
        if previous is not None and max_age_s and _fresh_enough(previous, name, start, max_age_s):
            states[name] = previous.state(name).model_copy(update={"elapsed_ms": 0.0})
            data[name] = getattr(previous, name)
            continue
        to_run.append(spec)
    if connection_lost is None:
        _read_ahead(conn, caps, to_run, read_ahead, deadline, current_timeout)
    for spec in to_run:
        name = spec.name
        if connection_lost is not None:
            states[name] = CollectorState(
                name=name, status="error", message=f"connection lost: {connection_lost}"
            )
            continue
        if deadline is not None:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms < 20:
                states[name] = CollectorState(name=name, status="skipped", message="out of time")
                continue
            if left_ms < current_timeout:
                try:
                    _set_timeout(conn, left_ms)
                    current_timeout = left_ms
                except psycopg.Error as exc:
                    connection_lost = redact(_one_line(exc))
                    states[name] = CollectorState(
                        name=name, status="error", message=f"connection lost: {connection_lost}"
                    )
                    continue
        t0 = time.monotonic()
        try:
            if spec.takes_previous:
                data[name] = spec.collect(
                    conn, caps, getattr(previous, name) if previous is not None else None
                )
            else:
                data[name] = spec.collect(conn, caps)
            if spec.needs_all_stats and limited:
                states[name] = CollectorState(
                    name=name,
                    status="limited",
                    message="other roles' sessions are hidden from this role",
                    hint=grant_read_all_stats(caps.current_user),
                )
            else:
                states[name] = CollectorState(name=name, status="ok")
        except CollectorUnavailable as exc:
            states[name] = CollectorState(name=name, status="disabled", message=exc.message, hint=exc.hint)
        except errors.QueryCanceled:
            states[name] = CollectorState(
                name=name, status="error", message=f"timed out after {current_timeout} ms"
            )
        except _DISABLING as exc:
            hint = None
            if isinstance(exc, errors.InsufficientPrivilege) and spec.privilege_hint is not None:
                hint = spec.privilege_hint(caps.current_user)
            states[name] = CollectorState(
                name=name, status="disabled", message=redact(_one_line(exc)), hint=hint
            )
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                connection_lost = redact(_one_line(exc))
                states[name] = CollectorState(
                    name=name, status="error", message=f"connection lost: {connection_lost}"
                )
            else:
                states[name] = CollectorState(name=name, status="error", message=redact(_one_line(exc)))
        except Exception as exc:  # a bug or an unexpected shape: contain it, keep the others
            states[name] = CollectorState(
                name=name, status="error", message=f"{type(exc).__name__}: {redact(_one_line(exc))}"
            )
        states[name].elapsed_ms = (time.monotonic() - t0) * 1000
        states[name].collected_at = t0
    drop_prefetched(conn, keep=read_ahead)
    custom_values: dict[str, CustomValue] | None = None
    if custom and (only is None or CUSTOM in only):
        custom_values, states[CUSTOM] = _read_custom(conn, custom, connection_lost, deadline, current_timeout)
    server = data.get("server")
    snap = Snapshot.model_validate(
        {
            "taken_at": server.now if isinstance(server, ServerInfo) else None,
            "monotonic": start,
            "elapsed_ms": (time.monotonic() - start) * 1000,
            "caps": caps,
            "collectors": states,
            "custom": custom_values,
            **data,
        }
    )
    if previous is not None:
        snap.delta = compute_delta(previous, snap)
    if pgbouncer is not None and (only is None or PGBOUNCER in only):
        attach_pgbouncer(snap, *read_pgbouncer(pgbouncer))
    return snap


def _read_ahead(
    conn: psycopg.Connection[Any],
    caps: ServerCaps,
    specs: list[CollectorSpec],
    also: Sequence[Statement],
    deadline: float | None,
    timeout_ms: int,
) -> None:
    """Read the collectors' ``read_ahead`` statements and the caller's (``also``) in one round trip
    (``base.prefetch``), each bounded by a share of the time left so that the pipeline as a whole
    ends by the deadline. The pipeline is one implicit transaction: the lowered timeout is set back
    when it ends, or rolled back with the rest when a statement fails."""
    statements = [st for spec in specs if spec.read_ahead for st in spec.read_ahead(caps)] + list(also)
    if len(statements) < 2:
        return
    share = timeout_ms
    if deadline is not None:
        share = min(timeout_ms, int((deadline - time.monotonic()) * 1000) // len(statements))
        if share < 20:
            return  # the collectors each skip or run in the time left
    if share != timeout_ms:
        if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # The pipeline is one implicit transaction: a local setting ends with it.
            statements = [(_LOCAL_TIMEOUT_SQL, (str(max(1, share)),)), *statements]
        else:  # inside the caller's transaction: set back by the pipeline's last statement
            statements = [_timeout_statement(share), *statements, _timeout_statement(timeout_ms)]
    prefetch(conn, statements)


_LOCAL_TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, true)"


def _timeout_statement(ms: int) -> Statement:
    return (_TIMEOUT_SQL, (str(max(1, ms)),))


def _read_custom(
    conn: psycopg.Connection[Any],
    checks: Mapping[str, CustomCheck],
    connection_lost: str | None,
    deadline: float | None,
    timeout_ms: int,
) -> tuple[dict[str, CustomValue] | None, CollectorState]:
    t0 = time.monotonic()
    if connection_lost is not None:
        return None, CollectorState(
            name=CUSTOM, status="error", message=f"connection lost: {connection_lost}"
        )
    if deadline is not None:
        timeout_ms = min(timeout_ms, int((deadline - t0) * 1000))
        if timeout_ms < 20:
            return None, CollectorState(name=CUSTOM, status="skipped", message="out of time")
    try:
        values = run_custom(conn, checks, timeout_ms=timeout_ms)
        state = CollectorState(name=CUSTOM, status="ok")
    except psycopg.Error as exc:
        values, state = None, CollectorState(name=CUSTOM, status="error", message=redact(_one_line(exc)))
    state.elapsed_ms = (time.monotonic() - t0) * 1000
    state.collected_at = t0
    return values, state


def _fresh_enough(previous: Snapshot, name: str, now: float, max_age_s: float) -> bool:
    """The previous snapshot has this collector's data, read less than ``max_age_s`` ago."""
    st = previous.state(name)
    return (
        st.status in ("ok", "limited")
        and st.collected_at is not None
        and getattr(previous, name, None) is not None
        and now - st.collected_at < max_age_s
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
