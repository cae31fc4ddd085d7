"""Producer and worker calls of the queue: enqueue, claim, heartbeat, progress, complete, fail.

Every function takes an open psycopg connection (autocommit, or inside the caller's transaction)
and runs one statement of the SQL API (docs/sql-api.md), with values as parameters. Input is
validated here first so that bad input fails with one line naming the field and nothing is sent;
the server checks again (it is the authority, e.g. for the configured payload size limit).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg.rows import class_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg.types.string import ByteaBinaryLoader

from pgconsole.queue.errors import JobNotFound, translate_errors, translated
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
    check_job_time,
    check_job_type,
    check_priority,
    check_text,
    check_worker_id,
    json_bytes,
    new_job,
)

Conn = psycopg.Connection[Any]


def jsonb_param(field: str, value: Any, max_bytes: int | None = DEFAULT_PAYLOAD_MAX_BYTES) -> Jsonb:
    """A jsonb parameter whose bytes are made (and checked) here; psycopg sends them as they are."""
    return jsonb_of(json_bytes(field, value, max_bytes))


def jsonb_of(data: bytes) -> Jsonb:
    """A jsonb parameter of JSON bytes made (and checked) already; psycopg sends them as they are."""
    return Jsonb(None, dumps=lambda _obj: data)


def _job_rows(conn: Conn, query: str, params: Sequence[Any] | dict[str, Any]) -> list[Job]:
    with translate_errors(), conn.cursor(row_factory=class_row(Job)) as cur:
        cur.execute(query, params)  # type: ignore[arg-type]  # constant SQL of this module
        return cur.fetchall()


# --------------------------------------------------------------------------------------------
# Producers

_CREATE = "SELECT pgconsole.create_job(%s, %s, %s, %s, %s, %s, %s, %s, %s)"

# A job without user_id or dedupe key is a plain INSERT (DESIGN.md §2 calls it a valid enqueue):
# create_job's nested PL/pgSQL calls cost more server time than the row itself. The statement
# computes what create_job would (tenant, TTL) and refuses, by inserting nothing, wherever
# create_job might refuse and nothing else checks: a tenant other than the session's while
# isolation is on, and the configured payload limit for the owner and superusers, whom the
# jobs_guard_insert trigger (the same check_job_input and check_job_times as create_job) skips.
# The CHECK constraints and _checked_job cover the rest. No row back: enqueue calls create_job,
# which raises the precise error (or, if a setting changed in between, inserts the job).
# The three settings are read inline, as setting_int() and tenant_isolation_on() read them, in
# one scan of the (small) settings table: three lookups, each a subplan with an index scan to
# start, cost more server time than the INSERT's row (docs/BENCHMARKS.md §4). A setting not in
# the table takes create_job's default.
_INSERT = (
    "INSERT INTO pgconsole.jobs AS j (job_type, payload, priority, max_retries, tenant_id, scheduled_at,"
    " expires_at)"
    " SELECT v.t, v.p, v.pr, v.mr, coalesce(v.tn, v.ct), coalesce(v.sa, now()),"
    " coalesce(v.ea, CASE WHEN coalesce(c.ttl, 86400) > 0"
    " THEN now() + make_interval(secs => coalesce(c.ttl, 86400)) END)"
    " FROM (SELECT %s::text AS t, %s::jsonb AS p, %s::smallint AS pr, %s::integer AS mr, %s::text AS tn,"
    " %s::timestamptz AS sa, %s::timestamptz AS ea,"
    " nullif(current_setting('pgconsole.tenant_id', true), '') AS ct) v,"
    " (SELECT max((s.value #>> '{}')::bigint) FILTER (WHERE s.key = 'default_job_ttl_seconds') AS ttl,"
    " bool_or(s.value = 'true'::jsonb) FILTER (WHERE s.key = 'tenant_isolation') AS iso,"
    " max((s.value #>> '{}')::bigint) FILTER (WHERE s.key = 'payload_max_bytes') AS pmax"
    " FROM pgconsole.settings s) c"
    " WHERE (NOT coalesce(c.iso, false) OR coalesce(v.tn, v.ct) = v.ct)"
    " AND ((current_user <> 'pgconsole_owner' AND current_setting('is_superuser') <> 'on')"
    " OR octet_length(v.p::text) <= coalesce(c.pmax, 1048576))"
    " RETURNING j.id"
)

_NO_PAYLOAD: Any = object()  # enqueue's default ({}); an explicit None is JSON null, refused everywhere


class _JobFields(NamedTuple):
    job_type: str
    payload: Any
    priority: int
    max_retries: int
    user_id: str | None
    tenant_id: str | None
    scheduled_at: datetime | None
    expires_at: datetime | None
    dedupe_key: str | None


def _checked_job(
    job_type: Any,
    payload: Any,
    priority: Any = 0,
    max_retries: Any = 3,
    user_id: Any = None,
    tenant_id: Any = None,
    scheduled_at: Any = None,
    expires_at: Any = None,
    dedupe_key: Any = None,
) -> _JobFields:
    """NewJob's validation without building the model, for arguments of the expected types (the
    same checks, in the model's field order, so the same field is named first); anything else
    goes through NewJob itself, with its coercions and messages."""
    f = _JobFields(
        job_type, payload, priority, max_retries, user_id, tenant_id, scheduled_at, expires_at, dedupe_key
    )
    if not (
        type(job_type) is str
        and type(priority) is int
        and type(max_retries) is int
        and (user_id is None or type(user_id) is str)
        and (tenant_id is None or type(tenant_id) is str)
        and (dedupe_key is None or type(dedupe_key) is str)
        and (scheduled_at is None or isinstance(scheduled_at, datetime))
        and (expires_at is None or isinstance(expires_at, datetime))
    ):
        return _JobFields(**new_job(**f._asdict()).model_dump())
    check_job_type(job_type)
    if payload is None:
        raise InvalidInput("payload", "must not be null (use {} for none)")
    check_priority(priority)
    if not 0 <= max_retries <= 1000:
        raise InvalidInput("max_retries", f"must be between 0 and 1000 (got {max_retries})")
    check_text("user_id", user_id)
    check_text("tenant_id", tenant_id)
    check_job_time("scheduled_at", scheduled_at)
    check_job_time("expires_at", expires_at)
    check_text("dedupe_key", dedupe_key)
    return f


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
    """Enqueue one job (through ``create_job`` when a user_id, for its per-user active limit, or a
    dedupe key is given; otherwise the same row by a plain INSERT).

    Raises InvalidInput (field named), LimitExceeded, DuplicateJob (active job with the dedupe key)."""
    f = _checked_job(
        job_type,
        {} if payload is _NO_PAYLOAD else payload,
        priority,
        max_retries,
        user_id,
        tenant_id,
        scheduled_at,
        expires_at,
        dedupe_key,
    )
    payload_param = jsonb_param("payload", f.payload)
    # try/except rather than translate_errors(): this is the producers' hot path
    try:
        row = None
        if f.user_id is None and f.dedupe_key is None:
            row = conn.execute(
                _INSERT,
                (
                    f.job_type,
                    payload_param,
                    f.priority,
                    f.max_retries,
                    f.tenant_id,
                    f.scheduled_at,
                    f.expires_at,
                ),
            ).fetchone()
        if row is None:
            row = conn.execute(
                _CREATE,
                (
                    f.user_id,
                    f.job_type,
                    payload_param,
                    f.priority,
                    f.max_retries,
                    f.scheduled_at,
                    f.expires_at,
                    f.dedupe_key,
                    f.tenant_id,
                ),
            ).fetchone()
    except psycopg.Error as exc:
        new = translated(exc)
        if new is exc:
            raise
        raise new from None
    assert row is not None
    return row[0]  # type: ignore[no-any-return]  # psycopg loads uuid as UUID


_ENQUEUE_MANY = "SELECT * FROM pgconsole.enqueue_jobs(%s::text[], %s::jsonb[], %s::integer[], %s, %s)"

# From this many jobs on, enqueue_many COPYs them into a staging table (migration 0009) instead of
# sending arrays; below it the staging table's create and drop cost more than the arrays' parse
# (docs/BENCHMARKS.md §4).
COPY_MIN_JOBS = 500
_STAGE = "SELECT pgconsole.enqueue_stage()"
# The payload column is typed bytea on our side: the bytes written are jsonb's binary form (a
# version byte, 1, then the JSON text) made once by json_bytes; the server parses them as jsonb.
_STAGE_COPY = (
    "COPY pg_temp.pgconsole_enqueue_stage (ord, job_type, payload, priority) FROM STDIN (FORMAT BINARY)"
)
_STAGE_TYPES = ["int4", "text", "bytea", "int2"]
_JSONB_V1 = b"\x01"
_STAGED = "SELECT * FROM pgconsole.enqueue_staged(%s, %s)"


def _many_row(i: int, job: NewJob | tuple[str, Any], known_types: set[str]) -> tuple[str, bytes, int]:
    """(job_type, payload JSON bytes, priority) of job ``i``, checked as enqueue checks it; an
    error names the job (``jobs[5].payload: ...``)."""
    try:
        return _many_row_checked(job, known_types)
    except InvalidInput as exc:
        raise InvalidInput(f"jobs[{i}].{exc.field}", str(exc).partition(": ")[2]) from None


def _many_row_checked(job: NewJob | tuple[str, Any], known_types: set[str]) -> tuple[str, bytes, int]:
    if isinstance(job, NewJob):  # validated on construction
        return job.job_type, json_bytes("payload", job.payload), job.priority
    job_type, payload = job
    if type(job_type) is not str or payload is None or job_type not in known_types:
        fields = _checked_job(job_type, payload)
        job_type, payload = fields.job_type, fields.payload
        known_types.add(job_type)  # a batch has few types: each is checked once
    return job_type, json_bytes("payload", payload), 0


def enqueue_many(
    conn: Conn,
    jobs: Sequence[NewJob | tuple[str, Any]],
    *,
    max_retries: int = 3,
    scheduled_at: datetime | None = None,
) -> list[UUID]:
    """Enqueue many jobs in one statement, all or none; ids in the order given. From COPY_MIN_JOBS
    jobs on they are COPYed into a staging table and moved by ``enqueue_staged``, below that sent
    as arrays to ``enqueue_jobs`` (the same checks and defaults). user_id, dedupe keys and per-job
    retries are not taken here: use :func:`enqueue` for those.

    Raises InvalidInput naming the job and field (``jobs[5].payload: ...``); nothing is inserted."""
    if not jobs:
        return []
    known_types: set[str] = set()
    if len(jobs) < COPY_MIN_JOBS:
        rows = [_many_row(i, j, known_types) for i, j in enumerate(jobs)]
        with translate_errors():
            result = conn.execute(
                _ENQUEUE_MANY,
                (
                    [r[0] for r in rows],
                    [jsonb_of(r[1]) for r in rows],
                    [r[2] for r in rows],
                    max_retries,
                    scheduled_at,
                ),
            ).fetchall()
        return [r[0] for r in result]
    # One transaction (a savepoint inside the caller's): the staging table goes with it, and a
    # bad job found while streaming aborts the COPY and rolls everything back. Without autocommit
    # the caller's (implicit) transaction is that transaction: its commit or rollback decides.
    scope = conn.transaction() if conn.autocommit else contextlib.nullcontext()
    with translate_errors(), scope, conn.cursor() as cur:
        cur.execute(_STAGE)
        with cur.copy(_STAGE_COPY) as copy:
            copy.set_types(_STAGE_TYPES)
            for i, j in enumerate(jobs):
                job_type, data, priority = _many_row(i, j, known_types)
                copy.write_row((i, job_type, _JSONB_V1 + data, priority))
        cur.execute(_STAGED, (max_retries, scheduled_at))
        return [r[0] for r in cur.fetchall()]


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
    params["payload"] = jsonb_param("payload", job.payload)
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
            (user_id, job_type, jsonb_param("payload", payload), ttl),
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
    meta = jsonb_param("metadata", metadata or {})
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

# The claim statements return the ten columns of a ClaimedJob, in its order; complete_and_claim_jobs
# adds a first row whose "completed" column says how many completions took effect.
_CLAIM_COLUMNS = "id, job_type, payload::text, attempt, priority, retry_count, max_retries, user_id, tenant_id, lease_expires_at"
_CLAIM_LEASED = f"SELECT {_CLAIM_COLUMNS} FROM pgconsole.claim_jobs_lean(%s, %s, %s, %s)"  # noqa: S608 - constant
_CLAIM_DEFAULT_LEASE = f"SELECT {_CLAIM_COLUMNS} FROM pgconsole.claim_jobs(%s, %s, %s, %s)"  # noqa: S608 - constant
_COMPLETE_AND_CLAIM = (
    f"SELECT {_CLAIM_COLUMNS}, completed FROM pgconsole.complete_and_claim_jobs(%s, %s::uuid[], %s::int[],"  # noqa: S608 - constant
    " %s::jsonb[], %s, %s, %s)"
)
_ClaimRow = tuple[
    Any, ...
]  # (id as 16 bytes, job_type, payload as JSON text, attempt, ...): ClaimedJob's order


def _claim_cursor(conn: Conn) -> psycopg.Cursor[_ClaimRow]:
    """A cursor for the claim statements: binary rows as plain tuples, the uuid as its 16 bytes
    (psycopg's C bytea loader) and the payload as JSON text, so no Python loader runs per row
    and a worker builds the UUID and parses the payload only when a handler reads them."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.adapters.register_loader("uuid", ByteaBinaryLoader)  # binary results only
    return cur


def _claim_rows(
    cur: psycopg.Cursor[_ClaimRow],
    worker_id: str,
    limit: int,
    *,
    lease_seconds: int | None,
    job_types: Sequence[str] | None = None,
) -> list[_ClaimRow]:
    """:func:`claim` as rows on a ``_claim_cursor`` (the worker runtime's form)."""
    types = list(job_types) if job_types else None
    with translate_errors():
        if lease_seconds is None:  # claim_jobs reads the default_lease_seconds setting
            cur.execute(_CLAIM_DEFAULT_LEASE, (worker_id, limit, types, None), binary=True)
        else:
            cur.execute(_CLAIM_LEASED, (worker_id, limit, lease_seconds, types), binary=True)
        return cur.fetchall()


def _claimed_job(row: _ClaimRow) -> ClaimedJob:
    return ClaimedJob(UUID(bytes=row[0]), row[1], json.loads(row[2]), *row[3:10])


def claim(
    conn: Conn,
    worker_id: str,
    limit: int = 10,
    *,
    job_types: Sequence[str] | None = None,
    lease_seconds: int | None = None,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` due pending jobs (priority, then schedule order; SKIP LOCKED) for a
    lease of ``lease_seconds`` (default: the ``default_lease_seconds`` setting). Each job has a new
    ``attempt``: pass it back to complete/fail/progress (the fencing token)."""
    check_worker_id(worker_id)
    with _claim_cursor(conn) as cur:
        rows = _claim_rows(cur, worker_id, limit, lease_seconds=lease_seconds, job_types=job_types)
    return [_claimed_job(r) for r in rows]


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


def results_param(results: Sequence[Any]) -> list[Jsonb | None] | None:
    """The results array of a completion; all-None results (the common no-result handler) go as
    SQL NULL, which complete_jobs and complete_and_claim_jobs fill in."""
    if all(r is None for r in results):
        return None
    return [None if r is None else r if isinstance(r, Jsonb) else jsonb_param("result", r) for r in results]


def complete(conn: Conn, worker_id: str, items: Sequence[tuple[UUID, int, Any]]) -> set[UUID]:
    """Complete many (id, attempt, result) in one statement. Returns the ids that took effect; the
    others were no longer this worker's attempt (a late or duplicate completion changes nothing)."""
    if not items:
        return set()
    with translate_errors():
        rows = conn.execute(
            _COMPLETE,
            (
                worker_id,
                [i for i, _, _ in items],
                [a for _, a, _ in items],
                results_param([r for _, _, r in items]),
            ),
        ).fetchall()
    return {r[0] for r in rows}


def _complete_and_claim_rows(
    cur: psycopg.Cursor[_ClaimRow],
    worker_id: str,
    ids_hex: Sequence[str],
    attempts: Sequence[int],
    results: list[Jsonb | None] | None,
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> tuple[int, list[_ClaimRow]]:
    """:func:`complete` and :func:`claim` in one statement and one commit (complete_and_claim_jobs),
    the worker runtime's form on a ``_claim_cursor``: how many completions took effect, and the
    claimed rows. Ids (32 hex digits, which uuid input accepts) and attempts go as one array
    literal each rather than one dumper call per element; the per-job client cost is what bounds
    a worker at large batches."""
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
    return rows[0][10], [r[:10] for r in rows[1:]]  # the claimed rows without the count column


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
    return {r[0]: r[1] for r in rows}


def finish_cancelled(conn: Conn, worker_id: str, items: Sequence[tuple[UUID, int]]) -> set[UUID]:
    """Mark jobs whose cancel request the worker honoured as cancelled."""
    if not items:
        return set()
    with translate_errors():
        rows = conn.execute(
            "SELECT id FROM pgconsole.finish_cancelled_jobs(%s, %s, %s)",
            (worker_id, [i for i, _ in items], [a for _, a in items]),
        ).fetchall()
    return {r[0] for r in rows}


# --------------------------------------------------------------------------------------------
# Stuck jobs and maintenance


def setting_int(conn: Conn, key: str, default: int) -> int:
    """One integer setting of pgconsole.settings (``default`` when it is not set)."""
    row = conn.execute("SELECT pgconsole.setting_int(%s, %s)", (key, default)).fetchone()
    return int(row[0]) if row and row[0] is not None else default


def queue_payload_limit(conn: Conn) -> int | None:
    """payload_max_bytes (which also bounds results), or None when the queue's worker API is not
    installed in this database or not visible to this role."""
    row = conn.execute(
        "SELECT to_regprocedure('pgconsole.claim_jobs_lean(text, integer, integer, text[])') IS NOT NULL"
        " AND has_function_privilege('pgconsole.setting_int(text, bigint)', 'EXECUTE')"
    ).fetchone()
    if not row or not row[0]:
        return None
    return setting_int(conn, "payload_max_bytes", DEFAULT_PAYLOAD_MAX_BYTES)


# --------------------------------------------------------------------------------------------
# The worker registry (pgconsole.workers)


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


# --------------------------------------------------------------------------------------------
# Old names of claim() and of the worker's completion, kept only while
# tests/queue/test_hostile_callers.py (not this module's owner's file) still calls them: delete
# both when it calls claim() and complete().

claim_lean = claim


def complete_and_claim(
    conn: Conn,
    worker_id: str,
    items: Sequence[tuple[UUID, int, Any]],
    limit: int,
    *,
    lease_seconds: int,
    job_types: Sequence[str] | None = None,
) -> tuple[int, list[ClaimedJob]]:
    with _claim_cursor(conn) as cur:
        done, rows = _complete_and_claim_rows(
            cur,
            worker_id,
            [i.hex for i, _, _ in items],
            [a for _, a, _ in items],
            results_param([r for _, _, r in items]),
            limit,
            lease_seconds=lease_seconds,
            job_types=job_types,
        )
    return done, [_claimed_job(r) for r in rows]
