"""Producer and worker calls of the queue: enqueue, claim, heartbeat, progress, complete, fail.

Every function takes an open psycopg connection (autocommit, or inside the caller's transaction)
and calls one function of the SQL API (docs/sql-api.md), with values as parameters. Input is
validated here first so that bad input fails with one line naming the field and nothing is sent;
the server checks again (it is the authority, e.g. for the configured payload size limit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, SafeUUID

import psycopg
from psycopg.rows import class_row, dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg.types.string import ByteaBinaryLoader

from pgconsole.queue.errors import JobNotFound, translate_errors
from pgconsole.queue.models import (
    DEFAULT_PAYLOAD_MAX_BYTES,
    JOB_COLUMNS,
    CachedResult,
    ClaimedJob,
    FailRow,
    FindOrCreateResult,
    HeartbeatRow,
    InvalidInput,
    Job,
    LogEntry,
    NewJob,
    RescueRow,
    StuckJob,
    WorkerInfo,
    check_text,
    check_worker_id,
    encode_json,
    new_job,
)

Conn = psycopg.Connection[Any]


def _jsonb(field: str, value: Any) -> Jsonb:
    text = encode_json(field, value)
    return Jsonb(value, dumps=lambda _obj: text)


def _job_rows(conn: Conn, query: str, params: Sequence[Any] | dict[str, Any]) -> list[Job]:
    with translate_errors(), conn.cursor(row_factory=class_row(Job)) as cur:
        cur.execute(query, params)  # type: ignore[arg-type]  # constant SQL of this module
        return cur.fetchall()


# --------------------------------------------------------------------------------------------
# Producers

_CREATE = (
    "SELECT pgconsole.create_job(p_user_id => %(user_id)s, p_job_type => %(job_type)s, p_payload => %(payload)s,"
    " p_priority => %(priority)s, p_max_retries => %(max_retries)s, p_scheduled_at => %(scheduled_at)s,"
    " p_expires_at => %(expires_at)s, p_dedupe_key => %(dedupe_key)s, p_tenant_id => %(tenant_id)s)"
)


_NO_PAYLOAD: Any = object()  # enqueue's default ({}); an explicit None is JSON null, refused everywhere


def enqueue(
    conn: Conn,
    job_type: str,
    payload: Any = _NO_PAYLOAD,
    *,
    priority: int = 0,
    max_retries: int = 3,
    user_id: str | None = None,
    tenant_id: str | None = None,
    scheduled_at: datetime | None = None,
    expires_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> UUID:
    """Enqueue one job through ``create_job`` (per-user active limit enforced when user_id is given).

    Raises InvalidInput (field named), LimitExceeded, DuplicateJob (active job with the dedupe key)."""
    job = new_job(
        job_type=job_type,
        payload={} if payload is _NO_PAYLOAD else payload,
        priority=priority,
        max_retries=max_retries,
        user_id=user_id,
        tenant_id=tenant_id,
        scheduled_at=scheduled_at,
        expires_at=expires_at,
        dedupe_key=dedupe_key,
    )
    params = job.model_dump()
    params["payload"] = _jsonb("payload", job.payload)
    with translate_errors():
        row = conn.execute(_CREATE, params).fetchone()
    assert row is not None
    return UUID(str(row[0]))


_ENQUEUE_MANY = "SELECT * FROM pgconsole.enqueue_jobs(%s::text[], %s::jsonb[], %s::integer[], %s, %s)"


def enqueue_many(
    conn: Conn,
    jobs: Sequence[NewJob | tuple[str, Any]],
    *,
    max_retries: int = 3,
    scheduled_at: datetime | None = None,
) -> list[UUID]:
    """Enqueue many jobs in one statement (``enqueue_jobs``, unnest of arrays). user_id, dedupe keys
    and per-job retries are not taken here: use :func:`enqueue` for those."""
    types: list[str] = []
    payloads: list[Jsonb] = []
    priorities: list[int] = []
    for i, j in enumerate(jobs):
        nj = j if isinstance(j, NewJob) else new_job(job_type=j[0], payload=j[1])
        types.append(nj.job_type)
        payloads.append(_jsonb(f"payload[{i}]", nj.payload))
        priorities.append(nj.priority)
    if not types:
        return []
    with translate_errors():
        rows = conn.execute(
            _ENQUEUE_MANY, (types, payloads, priorities, max_retries, scheduled_at)
        ).fetchall()
    return [UUID(str(r[0])) for r in rows]


_FIND_OR_CREATE = (
    "SELECT id, created, status FROM pgconsole.find_or_create_job(p_user_id => %(user_id)s,"
    " p_job_type => %(job_type)s, p_params => %(payload)s, p_dedupe_window => %(window)s,"
    " p_dedupe_key => %(dedupe_key)s, p_priority => %(priority)s, p_max_retries => %(max_retries)s,"
    " p_tenant_id => %(tenant_id)s)"
)


def find_or_create(
    conn: Conn,
    job_type: str,
    payload: Any = None,
    *,
    user_id: str | None = None,
    dedupe_key: str | None = None,
    dedupe_window_seconds: float | None = None,
    priority: int = 0,
    max_retries: int = 3,
    tenant_id: str | None = None,
) -> FindOrCreateResult:
    """Return the active (or recently completed) job for this request, or create it. Concurrent
    callers with the same key get one job (the unique index over active keys decides)."""
    from datetime import timedelta

    job = new_job(
        job_type=job_type,
        payload={} if payload is None else payload,
        priority=priority,
        max_retries=max_retries,
        user_id=user_id,
        tenant_id=tenant_id,
        dedupe_key=dedupe_key,
    )
    params = job.model_dump()
    params["payload"] = _jsonb("payload", job.payload)
    params["window"] = None if dedupe_window_seconds is None else timedelta(seconds=dedupe_window_seconds)
    with translate_errors(), conn.cursor(row_factory=class_row(FindOrCreateResult)) as cur:
        cur.execute(_FIND_OR_CREATE, params)
        row = cur.fetchone()
    assert row is not None
    return row


def cached_result(
    conn: Conn, user_id: str, job_type: str, payload: Any, *, ttl_seconds: float | None = None
) -> CachedResult | None:
    from datetime import timedelta

    ttl = None if ttl_seconds is None else timedelta(seconds=ttl_seconds)
    with translate_errors(), conn.cursor(row_factory=class_row(CachedResult)) as cur:
        cur.execute(
            "SELECT job_id, result, completed_at FROM pgconsole.get_cached_job_result(%s, %s, %s, %s)",
            (user_id, job_type, _jsonb("payload", payload), ttl),
        )
        return cur.fetchone()


def cancel(
    conn: Conn, job_id: UUID | str, *, user_id: str | None = None, reason: str | None = None
) -> str | None:
    """User-level cancel: 'cancelled' (was pending), 'cancel_requested' (was processing) or None
    (already finished). JobNotFound for an unknown id."""
    check_text("reason", reason, max_len=1000, allow_empty=True)
    with translate_errors():
        row = conn.execute(
            "SELECT pgconsole.cancel_job(%s, %s, %s)", (_uuid(job_id), user_id, reason)
        ).fetchone()
    return None if row is None else row[0]


def get_job(conn: Conn, job_id: UUID | str) -> Job:
    """The job (JobNotFound if there is none visible to this role)."""
    cols = ", ".join(JOB_COLUMNS)
    rows = _job_rows(conn, f"SELECT {cols} FROM pgconsole.jobs WHERE id = %s", (_uuid(job_id),))  # noqa: S608 - constant column list
    if not rows:
        raise JobNotFound(f"id: no job {job_id}")
    return rows[0]


def get_logs(conn: Conn, job_id: UUID | str, *, limit: int = 100) -> list[LogEntry]:
    """The job's log lines, newest first, through ``get_job_logs`` (audit records only for staff)."""
    with translate_errors(), conn.cursor(row_factory=class_row(LogEntry)) as cur:
        cur.execute(
            "SELECT id, job_id, level, message, metadata, actor, created_at"
            " FROM pgconsole.get_job_logs(%s, NULL, %s)",
            (_uuid(job_id), limit),
        )
        return cur.fetchall()


def add_log(
    conn: Conn,
    job_id: UUID | str,
    message: str,
    *,
    level: str = "info",
    metadata: Any = None,
    attempt: int | None = None,
) -> int | None:
    """Write a log line. Into a running job only with its ``attempt`` (the holder's form; None
    when the attempt is no longer current); without it, into a job that is not running."""
    check_text("message", message, max_len=10000, allow_empty=True)
    meta = _jsonb("metadata", metadata or {})
    with translate_errors():
        if attempt is None:
            row = conn.execute(
                "SELECT pgconsole.add_job_log(%s, %s, %s, %s)", (_uuid(job_id), level, message, meta)
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT pgconsole.add_job_log(%s, %s, %s, %s, %s)",
                (_uuid(job_id), attempt, level, message, meta),
            ).fetchone()
    assert row is not None
    return None if row[0] is None else int(row[0])


def _uuid(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput("id", f"not a job id (UUID): {str(value)[:60]!r}") from None


# --------------------------------------------------------------------------------------------
# Workers

_CLAIM = "SELECT * FROM pgconsole.claim_jobs(%s, %s, %s, %s)"


def claim(
    conn: Conn,
    worker_id: str,
    limit: int = 10,
    *,
    job_types: Sequence[str] | None = None,
    lease_seconds: int | None = None,
) -> list[Job]:
    """Claim up to ``limit`` due pending jobs (priority, then schedule order; SKIP LOCKED). Each
    returned job has a new ``attempt``: pass it back to complete/fail/progress (the fencing token)."""
    check_worker_id(worker_id)
    return _job_rows(conn, _CLAIM, (worker_id, limit, list(job_types) if job_types else None, lease_seconds))


# The worker's claim statements (migrations 0006/0007) return rows in binary as plain tuples, with
# the uuid loaded as its 16 raw bytes (psycopg's C bytea loader, registered on a claim cursor) and
# the payload as its JSON text (C text loader): no Python-level loader runs per row. The worker
# builds the UUID and parses the payload only when a handler reads them (worker.JobContext).
# Row layout, ClaimedJob's order, then complete_and_claim_jobs' ``completed``:
ROW_ID, ROW_TYPE, ROW_PAYLOAD, ROW_ATTEMPT, ROW_COMPLETED = 0, 1, 2, 3, 10
_CLAIM_LEAN = (
    "SELECT id, job_type, payload::text, attempt, priority, retry_count, max_retries, user_id, tenant_id,"
    " lease_expires_at FROM pgconsole.claim_jobs_lean(%s, %s, %s, %s)"
)
_COMPLETE_AND_CLAIM = (
    "SELECT id, job_type, payload::text, attempt, priority, retry_count, max_retries, user_id, tenant_id,"
    " lease_expires_at, completed FROM pgconsole.complete_and_claim_jobs(%s, %s::uuid[], %s::int[], %s::jsonb[],"
    " %s, %s, %s)"
)
ClaimRow = tuple[Any, ...]

# the decoder's C scanner (an instance attribute set in JSONDecoder.__init__, not in the stubs)
_scan_json = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def load_db_json(data: str) -> Any:
    """json.loads for payloads the server sends (jsonb output: one valid JSON value, no
    surrounding whitespace), without json.loads' encoding detection and whitespace regexes:
    0.74 us instead of 1.60 us for '{"i": 12345}' (timeit, best of 5)."""
    return _scan_json(data, 0)[0]


_new_uuid = object.__new__
_set_slot = object.__setattr__  # UUID's slots refuse ordinary assignment (it is immutable)
_UNKNOWN_SAFETY = SafeUUID.unknown  # looked up once, not per UUID


def uuid_from_bytes(data: bytes) -> UUID:
    """The 16 bytes of a binary uuid -> UUID, without UUID.__init__'s argument handling: 1.11 us
    against 2.03 us for UUID(bytes=...) (timeit, best of 5). The bytes are the UUID's big-endian
    integer, as UUID(bytes=...) reads them."""
    u = _new_uuid(UUID)
    _set_slot(u, "int", int.from_bytes(data, "big"))
    _set_slot(u, "is_safe", _UNKNOWN_SAFETY)
    return u  # type: ignore[no-any-return]


def claim_cursor(conn: Conn) -> psycopg.Cursor[ClaimRow]:
    """A cursor for :func:`claim_rows` and :func:`complete_and_claim_rows` (keep it: the worker
    makes one per connection)."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.adapters.register_loader("uuid", ByteaBinaryLoader)  # binary results only: 16 raw bytes
    return cur


def claimed_job(row: ClaimRow) -> ClaimedJob:
    """A claim row as a :class:`ClaimedJob` (UUID made, payload parsed)."""
    return ClaimedJob(uuid_from_bytes(row[ROW_ID]), row[ROW_TYPE], load_db_json(row[ROW_PAYLOAD]), *row[3:10])


def claim_rows(
    cur: psycopg.Cursor[ClaimRow],
    worker_id: str,
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> list[ClaimRow]:
    """claim_jobs_lean's rows on a :func:`claim_cursor` (see the row layout above)."""
    with translate_errors():
        cur.execute(
            _CLAIM_LEAN,
            (worker_id, limit, lease_seconds, list(job_types) if job_types else None),
            binary=True,
        )
        return cur.fetchall()


def claim_lean(
    conn: Conn,
    worker_id: str,
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """The worker runtime's claim (migration 0006): same jobs, order and fencing as :func:`claim`,
    but only the columns a handler needs, as slotted :class:`ClaimedJob` rows (no validation per
    row: the database is the source of these values), and the lease passed by the caller."""
    with claim_cursor(conn) as cur:
        rows = claim_rows(cur, worker_id, limit, lease_seconds=lease_seconds, job_types=job_types)
    return [claimed_job(r) for r in rows]


def heartbeat(
    conn: Conn, worker_id: str, ids: Sequence[UUID], *, lease_seconds: int | None = None
) -> list[HeartbeatRow]:
    """Extend the lease of the jobs still held; the ids not returned were lost (taken over,
    cancelled or finished). ``cancel_requested`` asks the worker to stop that job."""
    if not ids:
        return []
    with translate_errors(), conn.cursor(row_factory=class_row(HeartbeatRow)) as cur:
        cur.execute(
            "SELECT * FROM pgconsole.heartbeat_jobs(%s, %s, %s)", (worker_id, list(ids), lease_seconds)
        )
        return cur.fetchall()


def progress(conn: Conn, job_id: UUID, attempt: int, percent: int, message: str | None = None) -> bool:
    """Report progress; False when the attempt is no longer current."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput("progress_percent", f"must be an integer between 0 and 100 (got {percent!r})")
    check_text("progress_message", message, max_len=1000, allow_empty=True)
    with translate_errors():
        row = conn.execute(
            "SELECT pgconsole.update_job_progress(%s, %s, %s, %s)", (job_id, percent, message, attempt)
        ).fetchone()
    return bool(row and row[0])


_COMPLETE = "SELECT id FROM pgconsole.complete_jobs(%s, %s, %s, %s::jsonb[])"


def _complete_params(worker_id: str, items: Sequence[tuple[UUID, int, Any]]) -> tuple[Any, ...]:
    ids = [i for i, _, _ in items]
    attempts = [a for _, a, _ in items]
    return (worker_id, ids, attempts, results_param([r for _, _, r in items]))


def results_param(results: Sequence[Any]) -> list[Jsonb | None] | None:
    """The results array of a completion; all-None results (the common no-result handler) go as
    SQL NULL, which complete_jobs and complete_and_claim_jobs fill in."""
    if all(r is None for r in results):
        return None
    return [None if r is None else r if isinstance(r, Jsonb) else _jsonb("result", r) for r in results]


def complete(conn: Conn, worker_id: str, items: Sequence[tuple[UUID, int, Any]]) -> set[UUID]:
    """Complete many (id, attempt, result) in one statement. Returns the ids that took effect; the
    others were no longer this worker's attempt (a late or duplicate completion changes nothing)."""
    if not items:
        return set()
    with translate_errors():
        rows = conn.execute(_COMPLETE, _complete_params(worker_id, items)).fetchall()
    return {r[0] for r in rows}


def complete_and_claim_rows(
    cur: psycopg.Cursor[ClaimRow],
    worker_id: str,
    ids_hex: Sequence[str],
    attempts: Sequence[int],
    results: list[Jsonb | None] | None,
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> tuple[int, list[ClaimRow]]:
    """complete_and_claim_jobs on a :func:`claim_cursor`: how many completions took effect and the
    claimed rows. Ids (as 32 hex digits, which uuid input accepts) and attempts go as array
    literals: one text value each instead of a dumper call per element (the per-job client cost is
    what bounds a worker at large batches); 0.6 us against 1.6 us for str(UUID) (timeit)."""
    ids = "{" + ",".join(ids_hex) + "}"
    att = "{" + ",".join([str(a) for a in attempts]) + "}"
    with translate_errors():
        cur.execute(
            _COMPLETE_AND_CLAIM,
            (worker_id, ids, att, results, limit, lease_seconds, list(job_types) if job_types else None),
            binary=True,
        )
        rows = cur.fetchall()
    if not rows:
        return 0, []
    return rows[0][ROW_COMPLETED], rows[1:]


def complete_and_claim(
    conn: Conn,
    worker_id: str,
    items: Sequence[tuple[UUID, int, Any]],
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> tuple[int, list[ClaimedJob]]:
    """:func:`complete` then :func:`claim_lean` in one statement (``complete_and_claim_jobs``,
    migration 0007): the completions ride along with the next claim, as Oban's bundled acking and
    River's batch completer do; one round trip and one commit per batch instead of two. Returns
    how many completions took effect and the claimed jobs. Both take effect or neither does."""
    with claim_cursor(conn) as cur:
        completed, rows = complete_and_claim_rows(
            cur,
            worker_id,
            [i.hex for i, _, _ in items],
            [a for _, a, _ in items],
            results_param([r for _, _, r in items]),
            limit,
            lease_seconds=lease_seconds,
            job_types=job_types,
        )
    return completed, [claimed_job(r) for r in rows]


def clean_error_text(text: str, limit: int = 10000) -> str:
    """An error message PostgreSQL can store: NUL bytes escaped, length bounded."""
    return text.replace("\x00", "\\x00")[:limit]


def fail(
    conn: Conn,
    worker_id: str,
    items: Sequence[
        tuple[UUID, int, str, str | None, bool] | tuple[UUID, int, str, str | None, bool, str | None]
    ],
) -> list[FailRow]:
    """Fail many (id, attempt, error_message, error_code, retryable[, traceback]) in one statement.
    A traceback is stored with the attempt (a job_log line). Returned rows say what happened:
    pending (retry after a backoff), failed, or cancelled."""
    if not items:
        return []
    tracebacks = [i[5] if len(i) > 5 else None for i in items]
    with translate_errors(), conn.cursor(row_factory=class_row(FailRow)) as cur:
        cur.execute(
            "SELECT * FROM pgconsole.fail_jobs(%s, %s, %s, %s, %s, %s, %s)",
            (
                worker_id,
                [i[0] for i in items],
                [i[1] for i in items],
                [clean_error_text(i[2]) for i in items],
                [None if i[3] is None else clean_error_text(i[3], 100) for i in items],
                [i[4] for i in items],
                None if all(t is None for t in tracebacks) else tracebacks,
            ),
        )
        return cur.fetchall()


def release(conn: Conn, worker_id: str, items: Sequence[tuple[UUID, int]]) -> dict[UUID, str]:
    """Give held jobs back (shutdown): pending at once, or cancelled when a cancel was requested."""
    if not items:
        return {}
    with translate_errors():
        rows = conn.execute(
            "SELECT id, status FROM pgconsole.release_jobs(%s, %s, %s)",
            (worker_id, [i for i, _ in items], [a for _, a in items]),
        ).fetchall()
    return {UUID(str(r[0])): r[1] for r in rows}


def finish_cancelled(conn: Conn, worker_id: str, items: Sequence[tuple[UUID, int]]) -> set[UUID]:
    """Mark jobs whose cancel request the worker honoured as cancelled."""
    if not items:
        return set()
    with translate_errors():
        rows = conn.execute(
            "SELECT id FROM pgconsole.finish_cancelled_jobs(%s, %s, %s)",
            (worker_id, [i for i, _ in items], [a for _, a in items]),
        ).fetchall()
    return {UUID(str(r[0])) for r in rows}


# --------------------------------------------------------------------------------------------
# Stuck jobs and maintenance


def queue_payload_limit(conn: Conn) -> int | None:
    """payload_max_bytes (which also bounds results), or None when the queue's worker API is not
    installed in this database or not visible to this role."""
    row = conn.execute(
        "SELECT to_regprocedure('pgconsole.claim_jobs_lean(text, integer, integer, text[])') IS NOT NULL"
        " AND has_function_privilege('pgconsole.setting_int(text, bigint)', 'EXECUTE')"
    ).fetchone()
    if not row or not row[0]:
        return None
    row = conn.execute(
        "SELECT pgconsole.setting_int('payload_max_bytes', %s)", (DEFAULT_PAYLOAD_MAX_BYTES,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else DEFAULT_PAYLOAD_MAX_BYTES


# --------------------------------------------------------------------------------------------
# The worker registry (migration 0011)


def register_worker(
    conn: Conn,
    worker_id: str,
    *,
    host: str,
    pid: int,
    concurrency: int,
    batch: int,
    job_types: Sequence[str] | None,
    heartbeat_seconds: float,
) -> None:
    with translate_errors():
        conn.execute(
            "SELECT pgconsole.register_worker(%s, %s, %s::int, %s::int, %s::int, %s::text[], %s::real)",
            (
                worker_id,
                host,
                pid,
                concurrency,
                batch,
                list(job_types) if job_types else None,
                heartbeat_seconds,
            ),
        )


def worker_heartbeat(conn: Conn, worker_id: str, *, held: int, completed: int, failed: int) -> bool:
    with translate_errors():
        row = conn.execute(
            "SELECT pgconsole.worker_heartbeat(%s, %s::int, %s::bigint, %s::bigint)",
            (worker_id, held, completed, failed),
        ).fetchone()
    return bool(row and row[0])


def unregister_worker(conn: Conn, worker_id: str) -> None:
    with translate_errors():
        conn.execute("SELECT pgconsole.unregister_worker(%s)", (worker_id,))


def list_workers(conn: Conn) -> list[WorkerInfo]:
    """Live workers, with their sessions' pids and the jobs they hold (staff roles)."""
    with translate_errors(), conn.cursor(row_factory=class_row(WorkerInfo)) as cur:
        cur.execute("SELECT * FROM pgconsole.list_workers()")
        return cur.fetchall()


def detect_stuck(conn: Conn) -> list[StuckJob]:
    with translate_errors(), conn.cursor(row_factory=class_row(StuckJob)) as cur:
        cur.execute("SELECT * FROM pgconsole.detect_stuck_jobs()")
        return cur.fetchall()


def rescue_stuck(conn: Conn, *, limit: int = 1000, ids: Sequence[UUID] | None = None) -> list[RescueRow]:
    """Take over jobs whose lease expired (or whose worker is gone); the condition is re-checked
    in the same UPDATE, so a job completed in between is untouched."""
    with translate_errors(), conn.cursor(row_factory=class_row(RescueRow)) as cur:
        cur.execute(
            "SELECT * FROM pgconsole.rescue_stuck_jobs(%s, %s)",
            (limit, list(ids) if ids is not None else None),
        )
        return cur.fetchall()


def queue_stats(conn: Conn) -> list[dict[str, Any]]:
    with translate_errors(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM pgconsole.get_job_queue_stats()")
        return cur.fetchall()
