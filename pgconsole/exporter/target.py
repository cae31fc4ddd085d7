"""One exporter target (a profile): its kept connections, previous snapshot and counters, and one
scrape bounded by the target's timeout.

A scrape runs on a thread of the exporter's pool; the caller waits for it until the target's
deadline and no longer. A scrape that overran is abandoned: its connections are cancelled and closed in
the background, the target's generation moves on (so the late thread's result is dropped, its
counters included), and the next scrape connects afresh. A dead or silent target therefore costs
its own timeout and never holds up another target's scrape.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

from pgconsole.checks.registry import collectors_for, resolve_thresholds, run_checks
from pgconsole.checks.result import CheckResult, Status
from pgconsole.checks.systems import check_systems, name_own_system, read_systems
from pgconsole.checks.target import OUTPUT_MARGIN_S, collect, open_pgbouncer
from pgconsole.checks.thresholds import Thresholds
from pgconsole.db.capabilities import ServerCaps, read_capabilities
from pgconsole.db.connect import ConnectError, Purpose, connect, describe_error
from pgconsole.db.dsn import describe_target
from pgconsole.db.session import close_connection, discard_connection
from pgconsole.exporter.queue_series import QueueSystemRows, queue_rows
from pgconsole.monitor.base import younger_than
from pgconsole.monitor.queue_counters import FinishedSince, finished_statement, read_finished, start_watermark
from pgconsole.monitor.snapshot import COLLECTOR_NAMES, CUSTOM, PGBOUNCER, Snapshot
from pgconsole.queue.systems.registry import SystemRead

if TYPE_CHECKING:
    import psycopg

    from pgconsole.config import Settings

T = TypeVar("T")

# Every collector a check needs, the custom statements and PgBouncer; not pg_stat_statements
# (no check judges its figures, and reading the view is most of a console refresh's cost).
EXPORTER_COLLECTORS = frozenset(collectors_for(None) | {CUSTOM, PGBOUNCER})
# Figures that move slowly, read at most every ``slow_every_s`` (SLOW_EVERY_S unless the exporter is
# told otherwise): the vacuum and wraparound figures, the archiver, the migrations, the database's
# size and the finished states' estimates (each a large part of a scrape's cost for a figure that
# takes minutes to move: docs/BENCHMARKS.md §9). Everything else is read at every scrape: what
# Prometheus stores is what the server said at its scrape time.
SLOW_EVERY_S = 60.0
SLOW_COLLECTORS = ("vacuum", "archiver", "migrations")


def carry_ages(slow_every_s: float) -> dict[str, float]:
    """take_snapshot's ``min_interval_s`` for a scrape: the slow collectors' age, 0 for the rest."""
    return {name: (slow_every_s if name in SLOW_COLLECTORS else 0.0) for name in COLLECTOR_NAMES}


def scrape_previous(previous: Snapshot | None, slow_every_s: float, now: float) -> Snapshot | None:
    """The previous scrape as the collectors may use it: for the deltas, the slow figures and the
    carried window (read in full again after ``slow_every_s``), never for the queue's counts (its
    capped pending count would be reused for PENDING_RECOUNT_S)."""
    if previous is None:
        return None
    update: dict[str, Any] = {}
    if (q := previous.queue) is not None:
        young = younger_than(q.estimated_at, slow_every_s, now)
        w = q.window_state
        update["queue"] = q.model_copy(
            update={
                "pending_counted_at": None,
                "estimated_at": q.estimated_at if young else None,
                "window_state": w
                if w is not None and younger_than(w.full_read_at, slow_every_s, now)
                else None,
            }
        )
    if (db := previous.database) is not None and not younger_than(db.size_read_at, slow_every_s, now):
        update["database"] = db.model_copy(update={"size_read_at": None})
    return previous.model_copy(update=update)


class ScrapeResult(BaseModel):
    """One target's scrape: ``up`` and what was read, or why nothing was."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    target: str
    up: bool
    duration_s: float
    results: list[CheckResult]
    snapshot: Snapshot | None = None
    queues: list[QueueSystemRows] = []
    error: str | None = None


@dataclass
class _Pending:
    future: Future[ScrapeResult]
    generation: int
    start: float
    deadline: float


@dataclass
class _Connections:
    conn: psycopg.Connection[Any] | None = None
    caps: ServerCaps | None = None
    bouncer: psycopg.Connection[Any] | None = None
    previous: Snapshot | None = None
    watermark: datetime | None = None
    no_systems_at: float | None = None
    """When a read last found no other queue system in the database (None: it found some, or none yet)."""


@dataclass
class Target:
    name: str
    settings: Settings
    timeout_s: float
    thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    slow_every_s: float = SLOW_EVERY_S
    """The slow-moving figures' longest carry (0: every figure read at every scrape)."""
    counters: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(system, job_type, final state) -> jobs seen finishing since the exporter started."""
    _state: _Connections = field(default_factory=_Connections)
    _generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, slow_every_s: float = SLOW_EVERY_S) -> Target:
        name = settings.profile or describe_target(settings.target_dsn())
        return cls(name, settings, settings.timeout, resolve_thresholds(settings.thresholds), slow_every_s)

    @property
    def description(self) -> str:
        return describe_target(self.settings.target_dsn())

    def scrape(self, pool: DaemonPool | None = None) -> ScrapeResult:
        """Scrape within the timeout; never raises, never waits past the deadline."""
        return self.finish(self.start(pool or DaemonPool()))

    def start(self, pool: DaemonPool) -> _Pending:
        """Begin a scrape on one of ``pool``'s threads; :meth:`finish` waits for it until the deadline."""
        start = time.monotonic()
        deadline = start + self.timeout_s
        with self._guard:
            generation, lock = self._generation, self._lock
        future = pool.submit(self._scrape_locked, generation, lock, start, deadline)
        return _Pending(future, generation, start, deadline)

    def finish(self, pending: _Pending) -> ScrapeResult:
        try:
            return pending.future.result(timeout=max(0.0, pending.deadline - time.monotonic()))
        except FutureTimeout:
            pass
        except Exception as exc:  # a bug: this target is down this time, the others are not
            return self._down(pending.start, f"internal error: {type(exc).__name__}: {exc}")
        self._abandon(pending.generation)
        return self._down(
            pending.start, f"no answer from the server within {self.timeout_s:g}s ({self.description})"
        )

    def _down(self, start: float, message: str) -> ScrapeResult:
        return ScrapeResult(
            target=self.name,
            up=False,
            duration_s=time.monotonic() - start,
            results=[CheckResult(name="connection", status=Status.CRITICAL, message=message)],
            error=message,
        )

    def _abandon(self, generation: int) -> None:
        """Drop an overrun scrape's connections and give the next scrape fresh ones and a new lock."""
        with self._guard:
            if self._generation != generation:
                return
            self._generation += 1
            old, self._state = self._state, _Connections(watermark=self._state.watermark)
            self._lock = threading.Lock()
        for c in (old.conn, old.bouncer):
            if c is not None:
                discard_connection(c)

    def _scrape_locked(
        self, generation: int, lock: threading.Lock, start: float, deadline: float
    ) -> ScrapeResult:
        # Two scrapers at once (two Prometheus servers, /health beside /metrics) take turns.
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return self._down(start, "another scrape of this target is still running")
        try:
            return self._scrape(generation, start, deadline)
        finally:
            lock.release()

    def _scrape(self, generation: int, start: float, deadline: float) -> ScrapeResult:
        st = self._state
        s = self.settings
        dsn = s.target_dsn()
        try:
            if st.conn is None or st.conn.closed or st.conn.broken:
                st.conn = connect(
                    dsn,
                    Purpose.CHECK,
                    connect_timeout=min(s.connect_timeout, self.timeout_s),
                    app_suffix="exporter",
                )
                st.caps = read_capabilities(st.conn)
                st.previous = None
                st.no_systems_at = None
        except ConnectError as exc:
            st.conn = None
            return self._down(start, f"cannot connect: {exc}")
        except Exception as exc:
            return self._lost(st, start, exc, dsn)
        assert st.caps is not None
        bouncer_error = None
        if s.pgbouncer_dsn and (st.bouncer is None or st.bouncer.closed or st.bouncer.broken):
            st.bouncer, bouncer_error = open_pgbouncer(s, deadline - OUTPUT_MARGIN_S - time.monotonic())
        try:
            snap = collect(
                st.conn,
                st.caps,
                s,
                needed=EXPORTER_COLLECTORS if s.checks.custom else EXPORTER_COLLECTORS - {CUSTOM},
                deadline=deadline - OUTPUT_MARGIN_S,
                collector_timeout_ms=int(min(2.0, self.timeout_s) * 1000),
                previous=scrape_previous(st.previous, self.slow_every_s, start),
                bouncer=st.bouncer,
                bouncer_error=bouncer_error,
                min_interval_s=carry_ages(self.slow_every_s),
                # the jobs finished since the last scrape, read after it (_finished)
                read_ahead=[finished_statement(st.watermark)] if st.caps.has_queue and st.watermark else [],
            )
            if st.bouncer is not None and snap.state(PGBOUNCER).status == "error":
                st.bouncer.close()
                st.bouncer = None
            if st.conn.broken or st.conn.closed:
                raise ConnectionError(_first_error(snap))
            finished = self._finished(st, snap)
            results = run_checks(snap, self.thresholds, None, s.checks.custom)
            others = self._other_systems(st, s, results)
        except Exception as exc:
            return self._lost(st, start, exc, dsn)
        st.previous = snap
        with self._guard:
            if generation != self._generation:  # overran and abandoned: the caller reported it down
                return self._down(start, "scrape abandoned after its deadline")
            if finished is not None:
                for c in finished.counts:
                    key = ("pgconsole", c.job_type, c.status)
                    self.counters[key] = self.counters.get(key, 0) + c.n
        return ScrapeResult(
            target=self.name,
            up=True,
            duration_s=time.monotonic() - start,
            results=results,
            snapshot=snap,
            queues=queue_rows(snap, finished, others),
        )

    def _other_systems(self, st: _Connections, s: Settings, results: list[CheckResult]) -> list[SystemRead]:
        """The other queue systems in the database, read once: their checks are added to
        ``results`` and their reads returned for the queue series. A bad ``[queues.NAME]`` or a
        failed read is an UNKNOWN check; the rest of the scrape stands."""
        assert st.conn is not None
        if not s.queues and younger_than(st.no_systems_at, self.slow_every_s):
            # None was installed a moment ago: another system's tables appearing is as slow a
            # figure as the migrations, looked for again after slow_every_s.
            name_own_system(results)
            return []
        try:
            read = read_systems(st.conn, s.queues)
        except Exception as exc:  # noqa: BLE001 - reported as a check, like --check does
            if st.conn.broken or st.conn.closed:
                raise
            results.append(
                CheckResult(
                    name="queue_latency", status=Status.UNKNOWN, message=f"other queue systems: {exc}"
                )
            )
            return []
        results += check_systems(st.conn, s.queues, self.thresholds, None, results, read)
        st.no_systems_at = time.monotonic() if not read.reads else None
        return read.reads

    def _finished(self, st: _Connections, snap: Snapshot) -> FinishedSince | None:
        """The jobs finished since the last scrape (None without a readable queue)."""
        if snap.queue is None or st.conn is None:
            return None
        try:
            if st.watermark is None:
                st.watermark = start_watermark(st.conn)
                return FinishedSince(counts=[], next_since=st.watermark)
            reading = read_finished(st.conn, st.watermark)
        except Exception:
            if st.conn.broken or st.conn.closed:
                raise
            return None  # a timeout: counted next time, from the same watermark
        st.watermark = reading.next_since
        return reading

    def _lost(self, st: _Connections, start: float, exc: BaseException, dsn: str) -> ScrapeResult:
        for c in (st.conn, st.bouncer):
            if c is not None:
                discard_connection(c)
        st.conn = st.bouncer = None
        st.previous = None
        return self._down(start, f"lost the connection: {describe_error(exc, dsn)}")

    def close(self) -> None:
        for c in (self._state.conn, self._state.bouncer):
            if c is not None:
                close_connection(c)  # a scrape may still be running on a pool thread


def _first_error(snap: Snapshot) -> str:
    errors = [s.message for s in snap.collectors.values() if s.status == "error" and s.message]
    return errors[0] if errors else "connection lost during the scrape"


class DaemonPool:
    """Threads kept between scrapes (starting a thread per scrape costs a good part of a scrape's
    own Python work), started when none is idle, and daemons: a scrape abandoned on a silent server
    keeps its thread until the socket gives up (keepalives), and must not hold up the process's
    exit, which concurrent.futures' pool would (it joins its threads at exit)."""

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._tasks.put((future, fn, args))
        if spawn:
            threading.Thread(target=self._work, name="pgconsole-exporter", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, fn, args = self._tasks.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting scrape
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1


def scrape_pool(targets: list[Target]) -> DaemonPool:
    """The exporter's scrape threads (one pool for every target)."""
    del targets
    return DaemonPool()


def scrape_all(targets: list[Target], pool: DaemonPool) -> list[ScrapeResult]:
    """Every target at once, each within its own timeout; results in the targets' order."""
    pending = [t.start(pool) for t in targets]
    return [t.finish(p) for t, p in zip(targets, pending, strict=True)]
