"""The worker runtime behind ``pgconsole worker``.

One process, three kinds of threads, no child processes:

* the main loop (one connection): claims full batches (``claim_jobs_lean``): at most
  max(batch, concurrency) unfinished jobs, plus one more batch claimed ahead while handlers are
  quick (under ``flush_interval`` per job); hands each batch to the handler threads in a few
  chunks; sends completions with the next claim in one statement (``complete_and_claim_jobs``),
  and failures, or completions when no claim is due, in batches (on the batch size or after
  ``flush_interval``); runs a rescue pass every ``rescue_interval`` (so a dead
  worker's jobs come back without a separate maintenance process), and between claims waits on
  LISTEN ``pgconsole_jobs`` (a doorbell) with a polling fallback. Through a transaction pooler
  (PgBouncer) it never LISTENs on the pooled connection, whose server connection the pooler hands
  to other clients, notifications included: it LISTENs on ``listen_dsn`` (a direct connection to
  the server) when given, else polls every ``poll_interval``;
* a heartbeat thread (its own connection): extends the lease of every held job every
  ``heartbeat_interval`` and learns about cancel requests and lost jobs;
* ``concurrency`` handler threads (daemon threads: a handler that never returns cannot keep the
  process alive after shutdown). Async handlers run in ``asyncio.run`` on their thread.

Every connection is named ``pgconsole-worker:<worker_id>`` so stuck-job detection can tell a live
worker from a gone one. On stop (SIGTERM/SIGINT) the worker claims nothing more, lets running
handlers finish for up to ``shutdown_timeout`` while it keeps heartbeating, then releases whatever
it still holds (back to pending at once) and returns. Guarantees: docs/guarantees.md.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import os
import queue
import random
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from pgconsole.db import Purpose, connect
from pgconsole.db.connect import ConnectError, Pooler, pooling
from pgconsole.queue import client
from pgconsole.queue.models import (
    DEFAULT_PAYLOAD_MAX_BYTES,
    ClaimedJob,
    InvalidInput,
    check_worker_id,
)

log = logging.getLogger("pgconsole.worker")


Handler = Callable[["JobContext"], Any]


class StartError(Exception):
    """The worker cannot start (no queue schema in the database, no access); one line to show."""


class JobCancelled(Exception):
    """Raise from a handler (or let :meth:`JobContext.raise_if_cancelled` raise it) to stop a job
    whose cancel was requested; the job ends ``cancelled``."""


class PermanentError(Exception):
    """Raise from a handler to fail the job without further retries."""


_UNREAD: Any = object()  # payload not parsed yet


class JobContext:
    """What a handler gets: the job's fields, progress, log lines and the cancel request.

    Built once per claimed row. ``id`` and ``payload`` are made from the row's bytes and JSON text
    when first read (a handler that does not look at them does not pay for them); ``job`` is the
    same fields as a :class:`ClaimedJob`. The worker keeps its per-job state here too: the cancel
    flag and the outcome."""

    __slots__ = (
        "job_type",
        "attempt",
        "priority",
        "retry_count",
        "max_retries",
        "user_id",
        "tenant_id",
        "lease_expires_at",
        "id_bytes",
        "lost",
        "_payload_text",
        "_id",
        "_payload",
        "_job",
        "_worker",
        "_cancel",
        "_kind",
        "_result",
        "_error",
        "_code",
        "_traceback",
        "_retryable",
    )

    def __init__(self, row: tuple[Any, ...], worker: Worker) -> None:
        """``row``: a claim row (client._claim_rows: ClaimedJob's fields, the id as 16 bytes and
        the payload as JSON text)."""
        (
            self.id_bytes,
            self.job_type,
            self._payload_text,
            self.attempt,
            self.priority,
            self.retry_count,
            self.max_retries,
            self.user_id,
            self.tenant_id,
            self.lease_expires_at,
        ) = row
        self._worker = worker
        self._id: UUID | None = None
        self._payload: Any = _UNREAD
        self._job: ClaimedJob | None = None
        self.lost = False  # the lease was taken over: results of this attempt will be ignored
        self._cancel = False  # set by the heartbeat thread, read by the handler
        self._kind = "complete"  # the outcome: complete | fail | cancelled
        self._result: Jsonb | None = None
        self._error = ""
        self._code: str | None = None
        self._traceback: str | None = None  # of a handler that raised: logged, and stored with the attempt
        self._retryable = True

    @property
    def id(self) -> UUID:
        if self._id is None:
            self._id = UUID(bytes=self.id_bytes)
        return self._id

    @property
    def payload(self) -> Any:
        if self._payload is _UNREAD:
            self._payload = json.loads(self._payload_text)
        return self._payload

    @property
    def job(self) -> ClaimedJob:
        if self._job is None:
            self._job = ClaimedJob(
                self.id,
                self.job_type,
                self.payload,
                self.attempt,
                self.priority,
                self.retry_count,
                self.max_retries,
                self.user_id,
                self.tenant_id,
                self.lease_expires_at,
            )
        return self._job

    @property
    def cancel_requested(self) -> bool:
        return self._cancel

    def raise_if_cancelled(self) -> None:
        if self._cancel:
            raise JobCancelled(f"cancel requested for job {self.id}")

    def progress(self, percent: int, message: str | None = None) -> bool:
        """Report progress (False when this attempt is no longer current)."""
        with self._worker._side_conn() as conn:
            return client.progress(conn, self.id, self.attempt, percent, message)

    def log(self, message: str, level: str = "info", **metadata: Any) -> None:
        with self._worker._side_conn() as conn:
            client.add_log(
                conn,
                self.id,
                client.clean_error_text(message),
                level=level,
                metadata=metadata,
                attempt=self.attempt,
            )

    def _outcome(self, kind: str, error: str, code: str | None = None, retryable: bool = True) -> None:
        self._kind, self._error, self._code, self._retryable = kind, error, code, retryable


def load_handler(spec: str) -> Handler:
    """``module:function`` -> the callable (InvalidInput naming --handler otherwise)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInput("handler", f"expected MODULE:FUNCTION (got {spec!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput("handler", f"cannot import {module_name!r}: {exc}") from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)  # type: ignore[assignment]
        if fn is None:
            raise InvalidInput("handler", f"{module_name!r} has no attribute {attr!r}")
    if not callable(fn):
        raise InvalidInput("handler", f"{spec!r} is not callable")
    return fn  # type: ignore[return-value]


def default_worker_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:20] or "host"
    return f"{host}-{os.getpid()}-{random.randrange(16**4):04x}"


# How much of a failed handler's traceback is stored with its attempt (job_log metadata).
TRACEBACK_CHARS = 8000

# A job that takes less than this (measured per chunk) is CPU-trivial: see the dispatch in run().
TRIVIAL_JOB_SECONDS = 0.0005


@dataclass
class WorkerConfig:
    dsn: str
    handler: Handler
    job_types: Sequence[str] | None = None
    concurrency: int = 4
    batch: int = 10
    lease_seconds: int = 60
    heartbeat_interval: float | None = None  # default lease/3
    rescue_interval: float = 15.0  # 0 disables the worker's own rescue pass
    poll_interval: float = 1.0
    flush_interval: float = 0.05
    shutdown_timeout: float = 30.0
    worker_id: str = field(default_factory=default_worker_id)
    burst: bool = False  # exit when nothing is due and nothing is held (tests, cron-style runs)
    connect_timeout: float = 10.0
    start_retry_seconds: float = 60.0  # keep trying the first connection this long (0: fail at once)
    pooler: str | None = None  # the pooler setting for dsn (None: db.connect's default, "auto")
    listen_dsn: str | None = None  # a direct connection for LISTEN when dsn goes through a pooler

    def validate(self) -> None:
        check_worker_id(self.worker_id)
        if not 1 <= self.concurrency <= 1000:
            raise InvalidInput("concurrency", "must be between 1 and 1000")
        if not 1 <= self.batch <= 10000:
            raise InvalidInput("batch", "must be between 1 and 10000")
        if not 1 <= self.lease_seconds <= 86400:
            raise InvalidInput("lease", "must be between 1 and 86400 seconds")


@dataclass
class WorkerStats:
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0
    rescued: int = 0
    fenced: int = 0  # outcomes the database refused (lease lost meanwhile)


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        config.validate()
        self.config = config
        self.id = config.worker_id
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._held: dict[bytes, JobContext] = {}  # by JobContext.id_bytes
        self._held_lock = threading.Lock()
        # Held jobs no handler has started. A handler thread starts a job by popping it, shutdown
        # releases one by popping it: one dict.pop each (atomic), so exactly one of them gets each
        # job, without a lock per job.
        self._queued: dict[JobContext, bool] = {}
        # The main connection (complete, fail, release) and the heartbeat connection both update
        # this worker's processing rows, in separate transactions and in different row orders (the
        # completion follows the claim order, heartbeat_jobs' id = ANY scan the sorted ids), so the
        # two can deadlock (seen in a long benchmark drain: PostgreSQL aborted one and the worker
        # retried). They take turns.
        self._row_writes = threading.Lock()
        self._work: queue.Queue[list[JobContext] | None] = queue.Queue()
        self._results: queue.Queue[list[JobContext]] = queue.Queue()  # finished, outcome on each
        self._conn: psycopg.Connection[Any] | None = None
        self._cur: psycopg.Cursor[Any] | None = None  # the claim cursor of _conn (client._claim_cursor)
        self._listen: psycopg.Connection[Any] | None = None  # LISTEN on listen_dsn (pooled dsn)
        self._polling_said = False
        self._side: list[psycopg.Connection[Any]] = []
        self._side_lock = threading.Lock()
        self._is_async = inspect.iscoroutinefunction(config.handler)
        self._rescue_denied = False
        self._registered = False
        self._job_seconds: float | None = None  # recent handler time per job (None: none finished yet)
        self.result_limit = DEFAULT_PAYLOAD_MAX_BYTES  # payload_max_bytes, read at start
        # worker_gone_grace_seconds, kept while the connection goes through transaction pooling
        # (None otherwise): heartbeats must then come well within it (heartbeat_seconds)
        self._beat_grace: float | None = None

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        return connect(
            self.config.dsn,
            Purpose.WORKER,
            app_suffix=self.id,
            connect_timeout=self.config.connect_timeout,
            pooler=self.config.pooler,
        )

    def _main_conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._connect()
            self._cur = client._claim_cursor(self._conn)
            if pooling(self._conn) is not Pooler.TRANSACTION:
                self._conn.execute("LISTEN pgconsole_jobs")
        return self._conn

    def _doorbell(self, conn: psycopg.Connection[Any]) -> psycopg.Connection[Any] | None:
        """The connection that LISTENs: the main one, unless it goes through transaction pooling;
        then the one on listen_dsn (opened here, auto-detected: a pooled listen_dsn is refused
        too), else None (poll)."""
        if pooling(conn) is not Pooler.TRANSACTION:
            return conn
        if self.config.listen_dsn:
            if self._listen is None or self._listen.closed or self._listen.broken:
                if self._listen is not None:
                    self._listen.close()
                self._listen = None
                try:
                    listen = connect(
                        self.config.listen_dsn,
                        Purpose.WORKER,
                        app_suffix=self.id,
                        connect_timeout=self.config.connect_timeout,
                        pooler=Pooler.AUTO,
                    )
                except ConnectError as exc:
                    log.warning("listen_dsn: cannot connect (%s); polling meanwhile", exc)
                    return None
                if pooling(listen) is Pooler.TRANSACTION:
                    listen.close()
                    log.warning(
                        "listen_dsn goes through a pooler too (it must reach the server directly); "
                        "polling every %gs",
                        self.config.poll_interval,
                    )
                    self.config.listen_dsn = None
                    return None
                listen.execute("LISTEN pgconsole_jobs")
                self._listen = listen
            return self._listen
        if not self._polling_said:
            self._polling_said = True
            log.info(
                "the connection goes through transaction pooling: no LISTEN on it; polling every %gs "
                "(set listen_dsn to a direct connection to be woken at once)",
                self.config.poll_interval,
            )
        return None

    def _wait_for_jobs(self, conn: psycopg.Connection[Any]) -> None:
        """Idle: wait for the doorbell (a NOTIFY on pgconsole_jobs), at most poll_interval."""
        listen = self._doorbell(conn)
        if listen is None:
            self._stop.wait(self.config.poll_interval)
            return
        try:
            for _ in listen.notifies(timeout=self.config.poll_interval, stop_after=1):
                pass
        except psycopg.OperationalError:
            if listen is conn:
                raise
            log.warning("the listen_dsn connection was lost; reconnecting")
            listen.close()

    class _SideConn:
        def __init__(self, worker: Worker) -> None:
            self.w = worker
            self.conn: psycopg.Connection[Any] | None = None

        def __enter__(self) -> psycopg.Connection[Any]:
            with self.w._side_lock:
                while self.w._side:
                    c = self.w._side.pop()
                    if not c.closed and not c.broken:
                        self.conn = c
                        break
            if self.conn is None:
                self.conn = self.w._connect()
            return self.conn

        def __exit__(self, *exc: object) -> None:
            assert self.conn is not None
            if self.conn.closed or self.conn.broken:
                return
            with self.w._side_lock:
                self.w._side.append(self.conn)

    def _side_conn(self) -> Worker._SideConn:
        """A connection for handler progress/log calls (kept in a small free list)."""
        return Worker._SideConn(self)

    # -- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the worker to stop (safe from a signal handler or another thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def held_ids(self) -> list[UUID]:
        with self._held_lock:
            held = list(self._held.values())
        return [h.id for h in held]

    # -- handler threads -----------------------------------------------------------------------
    def _handler_thread(self) -> None:
        flush_after = self.config.flush_interval
        start = self._queued.pop
        run_one = self._run_one
        monotonic = time.monotonic
        while True:
            chunk = self._work.get()
            if chunk is None:
                return
            done: list[JobContext] = []
            ran = 0
            started = since = monotonic()
            for ctx in chunk:
                if not start(ctx, False):  # released during shutdown before it started
                    continue
                run_one(ctx)
                done.append(ctx)
                ran += 1
                # hand outcomes back per chunk, or sooner when the chunk's handlers are slow
                if len(done) == 1:
                    since = monotonic()
                elif monotonic() - since >= flush_after:
                    self._results.put(done)
                    done = []
            if ran:
                # how long a job takes here, lately (one float store; read by the claim policy)
                self._job_seconds = (monotonic() - started) / ran
            if done:
                self._results.put(done)

    def _run_one(self, ctx: JobContext) -> None:
        """Run the handler; the outcome is left on ctx (nothing to set for a completion without a result)."""
        try:
            if ctx._cancel:
                raise JobCancelled(f"cancel requested for job {ctx.id}")
            if self._is_async:
                value = asyncio.run(self.config.handler(ctx))
            else:
                value = self.config.handler(ctx)
                if value is not None and inspect.isawaitable(value):
                    value = asyncio.run(_await(value))
        except JobCancelled as exc:
            ctx._outcome("cancelled", str(exc))
            return
        except PermanentError as exc:
            self._handler_failed(ctx, exc)
            ctx._outcome("fail", f"{type(exc).__name__}: {exc}", "permanent", False)
            return
        except BaseException as exc:  # noqa: BLE001 - any handler error fails the attempt
            if ctx._cancel:
                ctx._outcome("cancelled", f"{type(exc).__name__}: {exc}")
            else:
                self._handler_failed(ctx, exc)
                ctx._outcome("fail", f"{type(exc).__name__}: {exc}", type(exc).__name__[:100])
            return
        if value is not None:  # None is the common no-result handler: nothing to check
            # A result that cannot be stored fails this job alone, with its cause.
            try:
                data = client.json_bytes("result", value, max_bytes=None)
            except InvalidInput as exc:
                ctx._outcome("fail", str(exc), "result_not_json", False)
                return
            if len(data) > self.result_limit:
                ctx._outcome(
                    "fail",
                    f"result: {len(data)} bytes is over the limit of {self.result_limit} bytes "
                    "(setting payload_max_bytes)",
                    "result_too_large",
                    False,
                )
                return
            ctx._result = Jsonb(value, dumps=lambda _obj: data)

    @staticmethod
    def _handler_failed(ctx: JobContext, exc: BaseException) -> None:
        """Log the failed attempt with its traceback and keep the text (its last TRACEBACK_CHARS:
        the frame that raised is at the end) to store with the attempt."""
        text = "".join(traceback.format_exception(exc))
        ctx._traceback = client.clean_error_text(text[-TRACEBACK_CHARS:], TRACEBACK_CHARS)
        log.warning(
            "job %s (%s) attempt %d failed: %s: %s\n%s",
            ctx.id,
            ctx.job_type,
            ctx.attempt,
            type(exc).__name__,
            exc,
            text.rstrip(),
        )

    # -- heartbeat thread ----------------------------------------------------------------------
    @property
    def heartbeat_seconds(self) -> float:
        beat = self.config.heartbeat_interval or max(0.2, self.config.lease_seconds / 3)
        if self._beat_grace is not None and self._listen is None:
            # Through transaction pooling without a listen connection this worker's name is in
            # pg_stat_activity only while one of its transactions runs, so rescue tells it from a
            # gone worker by its jobs' heartbeats alone: they must come well within the grace.
            return min(beat, max(0.2, self._beat_grace / 3))
        return beat

    def _heartbeat_loop(self, done: threading.Event) -> None:
        conn: psycopg.Connection[Any] | None = None
        last = time.monotonic()
        # Wakes at least every second: heartbeat_seconds shrinks once _start finds a pooler.
        while not done.wait(max(0.05, min(1.0, last + self.heartbeat_seconds - time.monotonic()))):
            if time.monotonic() < last + self.heartbeat_seconds:
                continue
            last = time.monotonic()
            with self._held_lock:
                held = list(self._held.values())
            if not held and not self._registered:
                continue
            ids = [h.id for h in held]
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = self._connect()
                if self._beat_grace is not None:  # an operator may change it at any time
                    self._beat_grace = client.setting_int(conn, "worker_gone_grace_seconds", 15)
                if self._registered:  # the registry row says this worker is alive, busy or not
                    client.worker_heartbeat(
                        conn,
                        self.id,
                        held=len(held),
                        completed=self.stats.completed,
                        failed=self.stats.failed,
                    )
                if not held:
                    continue
                with self._row_writes:
                    rows = client.heartbeat(conn, self.id, ids, lease_seconds=self.config.lease_seconds)
            except (psycopg.Error, Exception) as exc:  # noqa: BLE001 - keep beating
                log.warning("heartbeat failed: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
                continue
            alive = {r.id: r for r in rows}
            with self._held_lock:
                for h, jid in zip(held, ids, strict=True):
                    if self._held.get(h.id_bytes) is not h:  # finished meanwhile
                        continue
                    row = alive.get(jid)
                    if row is None or row.attempt != h.attempt:
                        h.lost = True
                        h._cancel = True  # stop work whose result would be refused
                    elif row.cancel_requested:
                        h._cancel = True
        if conn is not None:
            conn.close()

    # -- main loop -----------------------------------------------------------------------------
    def run(self) -> WorkerStats:
        cfg = self.config
        threads = [
            threading.Thread(target=self._handler_thread, name=f"pgc-handler-{i}", daemon=True)
            for i in range(cfg.concurrency)
        ]
        for t in threads:
            t.start()
        hb_done = threading.Event()
        hb = threading.Thread(target=self._heartbeat_loop, args=(hb_done,), name="pgc-heartbeat", daemon=True)
        hb.start()
        # At most base_held unfinished jobs (finished ones whose outcome is not yet sent do not
        # count). While handlers are quick (a job takes less than flush_interval), one more full
        # batch is claimed behind the running one: handlers never wait for a claim round trip,
        # every claim is a full batch, and the finished jobs' completions ride with it
        # (complete_and_claim: one statement). Slow handlers get no prefetch, so a worker never
        # sits on a batch that other workers could be running.
        base_held = max(cfg.batch, cfg.concurrency)
        chunks = max(1, cfg.concurrency)
        pending: list[JobContext] = []  # finished jobs whose outcome is not sent yet
        first_pending = 0.0
        burst_rescued = False
        next_rescue = time.monotonic() + (
            random.uniform(0, cfg.rescue_interval) if cfg.rescue_interval else 0
        )
        backoff = 0.5
        try:
            self._start()
            log.info(
                "worker %s started (concurrency %d, batch %d, lease %ds)",
                self.id,
                cfg.concurrency,
                cfg.batch,
                cfg.lease_seconds,
            )
            while not self._stop.is_set():
                try:
                    conn = self._main_conn()
                    # 1. collect finished handlers
                    while True:
                        try:
                            got_outcomes = self._results.get_nowait()
                        except queue.Empty:
                            break
                        if not pending:
                            first_pending = time.monotonic()
                        pending.extend(got_outcomes)
                    with self._held_lock:
                        held = len(self._held)
                    unfinished = held - len(pending)
                    quick = self._job_seconds is not None and self._job_seconds < cfg.flush_interval
                    free = base_held + (cfg.batch if quick else 0) - unfinished
                    claim_due = free > 0 and (free >= cfg.batch or unfinished == 0)
                    # 2. the worker's own rescue pass (and, in a burst run, one before it decides
                    #    that nothing is left: a crashed worker's jobs are work too)
                    if cfg.rescue_interval and time.monotonic() >= next_rescue:
                        self._rescue(conn)
                        next_rescue = time.monotonic() + cfg.rescue_interval
                    # 3. send outcomes: with the next claim when one is due (one transaction, one
                    #    round trip), else on their own once batch-full, all-finished or timed out
                    jobs: list[tuple[Any, ...]] = []
                    want = min(cfg.batch, free) if claim_due else 0
                    if pending and (
                        want
                        or len(pending) >= cfg.batch
                        or unfinished == 0
                        or time.monotonic() - first_pending >= cfg.flush_interval
                    ):
                        jobs = self._flush(conn, pending, claim=want)
                        pending = []
                    elif want:
                        jobs = self._claim(want)
                    with self._held_lock:
                        held = len(self._held)
                    # 4. hand the claimed batch to the handler threads
                    got = len(jobs)
                    if got:
                        self.stats.claimed += got
                        items = [JobContext(r, self) for r in jobs]
                        self._queued.update(dict.fromkeys(items, True))
                        with self._held_lock:
                            self._held.update({c.id_bytes: c for c in items})
                        # the batch in a few chunks (round robin), one queue item per chunk; while
                        # jobs take under TRIVIAL_JOB_SECONDS the whole batch is one chunk: threads
                        # cannot run such handlers in parallel anyway (the GIL), and every extra
                        # chunk is a thread wake-up and a result hand-back that cost more than the jobs
                        trivial = self._job_seconds is not None and self._job_seconds < TRIVIAL_JOB_SECONDS
                        n = 1 if trivial else min(chunks, got)
                        for k in range(n):
                            self._work.put(items[k::n])
                        held += got
                    backoff = 0.5
                    if got and got == want:
                        continue  # more may be due: claim again soon
                    if held == 0 and not pending:
                        if cfg.burst and got == 0:
                            if not burst_rescued and cfg.rescue_interval:
                                burst_rescued = True
                                if self._rescue(conn):
                                    continue
                            break
                        # idle: wait for the doorbell (or poll)
                        self._wait_for_jobs(conn)
                        continue
                    # busy: wait for a handler to finish
                    try:
                        got_outcomes = self._results.get(
                            timeout=cfg.flush_interval if pending else cfg.poll_interval
                        )
                        if not pending:
                            first_pending = time.monotonic()
                        pending.extend(got_outcomes)
                    except queue.Empty:
                        pass
                except psycopg.OperationalError as exc:
                    log.warning("database connection problem: %s; retrying in %.1fs", exc, backoff)
                    if self._conn is not None:
                        self._conn.close()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
            self._shutdown(pending)
        finally:
            hb_done.set()
            for _ in threads:
                self._work.put(None)
            hb.join(timeout=5)
            if (
                self._registered
                and self._conn is not None
                and not self._conn.closed
                and not self._conn.broken
            ):
                try:
                    client.unregister_worker(self._conn, self.id)
                except psycopg.Error as exc:  # it ages out of the registry instead
                    log.warning("could not leave the worker registry: %s", exc)
            if self._conn is not None:
                self._conn.close()
            if self._listen is not None:
                self._listen.close()
            with self._side_lock:
                for c in self._side:
                    c.close()
                self._side.clear()
        log.info("worker %s stopped: %s", self.id, self.stats)
        return self.stats

    def _start(self) -> None:
        """The first connection, retried with backoff for ``start_retry_seconds`` (a worker often
        starts before its database); a refused login or a database without the queue ends the
        worker with one line (StartError)."""
        deadline = time.monotonic() + self.config.start_retry_seconds
        delay = 0.5
        while True:
            try:
                conn = self._main_conn()
                break
            except ConnectError as exc:
                if exc.auth or time.monotonic() + delay > deadline or self._stop.is_set():
                    raise
                log.warning("cannot connect yet (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        try:
            limit = client.queue_payload_limit(conn)
        except psycopg.Error as exc:
            raise StartError(f"cannot read the queue's settings as this role: {exc}") from None
        if limit is None:
            raise StartError(
                "the pgconsole queue is not installed in this database (or this role may not use it): "
                "run `pgconsole setup` and `pgconsole migrate` first"
            )
        self.result_limit = limit
        if pooling(conn) is Pooler.TRANSACTION:
            self._beat_grace = client.setting_int(conn, "worker_gone_grace_seconds", 15)
        self._doorbell(conn)  # LISTEN before the first claim, so no doorbell between them is missed
        try:
            client.register_worker(
                conn,
                self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.config.concurrency,
                batch=self.config.batch,
                job_types=self.config.job_types,
                heartbeat_seconds=self.heartbeat_seconds,
            )
            self._registered = True
        except psycopg.Error as exc:  # an older schema, or a role without the grant: run unlisted
            log.warning("not listed in the worker registry (%s); run `pgconsole migrate`", exc)

    def _rescue(self, conn: psycopg.Connection[Any]) -> int:
        """One rescue pass; a role without the right to rescue (pgconsole_app) skips it, once said."""
        if self._rescue_denied:
            return 0
        try:
            rescued = client.rescue_stuck(conn, limit=1000)
        except psycopg.errors.InsufficientPrivilege:
            self._rescue_denied = True
            log.warning(
                "this role may not rescue stuck jobs (log in as pgconsole_worker, or run "
                "`pgconsole maintain` as pgconsole_operator); rescue passes are off"
            )
            return 0
        if rescued:
            self.stats.rescued += len(rescued)
            log.info(
                "rescued %d stuck job(s): %s",
                len(rescued),
                ", ".join(f"{r.id} ({r.reason})" for r in rescued[:5]),
            )
        return len(rescued)

    def _flush(
        self, conn: psycopg.Connection[Any], outcomes: list[JobContext], claim: int = 0
    ) -> list[tuple[Any, ...]]:
        """Send outcomes; with ``claim`` > 0 also claim that many jobs, in the completions' transaction."""
        with self._row_writes:
            return self._send_outcomes(conn, outcomes, claim)

    def _claim(self, limit: int) -> list[tuple[Any, ...]]:
        """claim_jobs_lean: ``limit`` jobs as claim rows."""
        assert self._cur is not None
        return client._claim_rows(
            self._cur,
            self.id,
            limit,
            lease_seconds=self.config.lease_seconds,
            job_types=self.config.job_types,
        )

    def _complete_and_claim(self, done: list[JobContext], limit: int) -> tuple[int, list[tuple[Any, ...]]]:
        """complete_and_claim_jobs: the completions of ``done`` and a claim of ``limit``, in one statement."""
        assert self._cur is not None
        return client._complete_and_claim_rows(
            self._cur,
            self.id,
            [c.id_bytes.hex() for c in done],
            [c.attempt for c in done],
            client.results_param([c._result for c in done]),
            limit,
            lease_seconds=self.config.lease_seconds,
            job_types=self.config.job_types,
        )

    def _send_outcomes(
        self, conn: psycopg.Connection[Any], outcomes: list[JobContext], claim: int
    ) -> list[tuple[Any, ...]]:
        done = [c for c in outcomes if c._kind == "complete"]
        failed = [
            (c.id, c.attempt, c._error, c._code, c._retryable, c._traceback)
            for c in outcomes
            if c._kind == "fail"
        ]
        cancelled = [(c.id, c.attempt) for c in outcomes if c._kind == "cancelled"]
        # failures and cancels first: a failed job retried at once must be claimable by the claim below
        fail_rows = client.fail(conn, self.id, failed) if failed else []
        ok_cancel = client.finish_cancelled(conn, self.id, cancelled) if cancelled else set()
        # a cancelled outcome without a request in the database (the handler raised JobCancelled
        # by itself) is an ordinary failure
        stray = [
            (i, a, "JobCancelled raised without a cancel request", "cancelled", False)
            for i, a in cancelled
            if i not in ok_cancel
        ]
        if stray:
            fail_rows += client.fail(conn, self.id, stray)
        claimed: list[tuple[Any, ...]] = []
        try:
            if claim:
                n_done, claimed = self._complete_and_claim(done, claim)
            elif done:
                n_done = len(client.complete(conn, self.id, [(c.id, c.attempt, c._result) for c in done]))
            else:
                n_done = 0
        except (InvalidInput, psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError):
            # One result the server will not store (its own limit, a value jsonb refuses) must
            # not take the batch, or the worker, with it: complete one by one, fail what fails.
            n_done, stored_fail = self._complete_one_by_one(conn, done)
            fail_rows += stored_fail
        self.stats.completed += n_done
        self.stats.failed += len(fail_rows)
        self.stats.cancelled += len(ok_cancel)
        self.stats.fenced += len(outcomes) - n_done - len(fail_rows) - len(ok_cancel)
        with self._held_lock:
            pop = self._held.pop
            for c in outcomes:
                pop(c.id_bytes, None)
        return claimed

    def _complete_one_by_one(
        self, conn: psycopg.Connection[Any], done: list[JobContext]
    ) -> tuple[int, list[Any]]:
        n_done = 0
        failed: list[tuple[UUID, int, str, str | None, bool]] = []
        for c in done:
            try:
                n_done += len(client.complete(conn, self.id, [(c.id, c.attempt, c._result)]))
            except (InvalidInput, psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
                log.warning("job %s: result not stored (%s); failing the job", c.id, exc)
                failed.append((c.id, c.attempt, f"result not stored: {exc}", "result_store_failed", False))
        return n_done, client.fail(conn, self.id, failed) if failed else []

    def _shutdown(self, pending: list[JobContext]) -> None:
        """Finish or release what is held: queued jobs go back at once, running ones get up to
        shutdown_timeout, then are released too (their late results will be fenced out)."""
        cfg = self.config
        with self._held_lock:
            not_started = [h for h in self._held.values() if self._queued.pop(h, False)]
            for h in not_started:
                del self._held[h.id_bytes]
        deadline = time.monotonic() + cfg.shutdown_timeout
        try:
            conn = self._main_conn()
            if not_started:
                with self._row_writes:
                    released = client.release(conn, self.id, [(h.id, h.attempt) for h in not_started])
                self.stats.released += len(released)
            while True:
                while True:
                    try:
                        pending.extend(self._results.get_nowait())
                    except queue.Empty:
                        break
                if pending:
                    self._flush(conn, pending)
                    pending = []
                with self._held_lock:
                    left = list(self._held.values())
                if not left:
                    break
                if time.monotonic() >= deadline:
                    with self._row_writes:
                        released = client.release(conn, self.id, [(h.id, h.attempt) for h in left])
                    self.stats.released += len(released)
                    log.warning(
                        "released %d job(s) still running after %.0fs", len(left), cfg.shutdown_timeout
                    )
                    with self._held_lock:
                        self._held.clear()
                    break
                try:
                    pending.extend(self._results.get(timeout=min(0.2, max(0.0, deadline - time.monotonic()))))
                except queue.Empty:
                    pass
        except psycopg.Error as exc:
            log.warning(
                "shutdown: could not finish or release held jobs (%s); they come back after their lease", exc
            )


async def _await(value: Any) -> Any:
    return await value


def run_worker(config: WorkerConfig, *, install_signals: bool = True) -> WorkerStats:
    """Run a worker until SIGTERM/SIGINT (or, with burst, until the queue is drained)."""
    import signal

    worker = Worker(config)
    if install_signals and threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %d: stopping (finishing or releasing held jobs)", signum)
            worker.stop()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    return worker.run()
