"""pg-boss (Node): its jobs in ``<schema>.job``, a table partitioned by queue name — queues share
``job_common`` unless created with ``partition: true``, which gives a queue a table of its own;
``<schema>.queue`` lists the queues and names each one's table (docs/queues.md, pg-boss).

Reads go through the parent ``job`` with ``name = <queue>`` for every queue in ``queue``, so each
one is pruned to that queue's table and served by pg-boss's own indexes: the live states
(created, retry, active, failed) by ``job_i14 (name, state, blocked, start_after)``, recent
finishes by ``job_i16 (name, completed_on)``, pages by ``job_i15 (name, created_on)``, a job by
the primary key ``(name, id)``. Completed and cancelled jobs (the history) are never counted: they
are the planner's estimate (reltuples × the state's frequency in pg_stats), labelled so.

Actions are pg-boss's own statements (``plans.js`` of pg-boss 12: ``retryJobs``, ``resumeJobs``,
``cancelJobs``, ``deleteJobsById`` and ``reduceRetainedCount``), each guarded by the job's state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from psycopg import errors, sql
from psycopg.rows import dict_row

from pgconsole.queue.models import InvalidInput, JobFilter
from pgconsole.queue.states import Action, JobStatus
from pgconsole.queue.systems.base import (
    ActionSupport,
    Capabilities,
    Conn,
    FailureGroup,
    NativeStateCount,
    QueueSystem,
    SystemJob,
    SystemJobDetail,
    SystemJobEvent,
    SystemJobPage,
    SystemStuckJob,
    SystemSummary,
    Throughput,
    TypeCount,
    disabled,
    enabled,
)
from pgconsole.queue.systems.common import (
    ChangedJob,
    GuardedSystem,
    audit_of,
    audit_support,
    bounded_read,
    check_filter,
    estimate_rows,
)
from pgconsole.queue.systems.node_common import (
    error_pattern,
    like_patterns,
    missing_read_grant,
)

NATIVE_STATES: dict[str, JobStatus] = {
    "created": "pending",
    "retry": "pending",
    "active": "processing",
    "completed": "completed",
    "cancelled": "cancelled",
    "failed": "failed",
}
LIVE = ("created", "retry", "active", "failed")  # indexed by job_i14; the rest is history
COUNT_CAP = 10_000
HISTORY_EXACT_CAP = 2000
MAX_QUEUES = 500
THROUGHPUT_WINDOW_S = 300.0
THROUGHPUT_CAP = 10_000
FAILURE_SAMPLE = 1000
STUCK_LIMIT = 50

_DETECT_SQL = """
SELECT n.nspname
  FROM pg_namespace n
 WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'job' AND c.relkind = 'p')
   AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'queue' AND c.relkind = 'r')
   AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'version' AND c.relkind = 'r')
   AND EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid AND t.typname = 'job_state')
 ORDER BY n.nspname <> 'pgboss', n.nspname
"""

# One row per queue: its live states counted through job_i14, each up to the cap, and its oldest
# due job (created or retry, not blocked, start_after <= now) through the same index. A queue whose
# finished jobs are fewer than history_cap has them counted exactly (job_i16); else the planner's.
_PER_QUEUE_SQL = """
SELECT q.name, q.partition, q.table_name,
       (SELECT count(*) FROM (SELECT 1 FROM {s}.job j WHERE j.name = q.name AND j.state = 'created'
                               LIMIT %(cap)s) x) AS created,
       (SELECT count(*) FROM (SELECT 1 FROM {s}.job j WHERE j.name = q.name AND j.state = 'retry'
                               LIMIT %(cap)s) x) AS retry,
       (SELECT count(*) FROM (SELECT 1 FROM {s}.job j WHERE j.name = q.name AND j.state = 'active'
                               LIMIT %(cap)s) x) AS active,
       (SELECT count(*) FROM (SELECT 1 FROM {s}.job j WHERE j.name = q.name AND j.state = 'failed'
                               LIMIT %(cap)s) x) AS failed,
       LEAST(
         (SELECT j.start_after FROM {s}.job j WHERE j.name = q.name AND j.state = 'created'
             AND NOT j.blocked AND j.start_after <= now() ORDER BY j.start_after LIMIT 1),
         (SELECT j.start_after FROM {s}.job j WHERE j.name = q.name AND j.state = 'retry'
             AND NOT j.blocked AND j.start_after <= now() ORDER BY j.start_after LIMIT 1)) AS oldest_due,
       h.completed, h.cancelled, h.n AS history_read
  FROM {s}.queue q
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.state = 'completed') AS completed,
           count(*) FILTER (WHERE x.state = 'cancelled') AS cancelled, count(*) AS n
      FROM (SELECT j.state FROM {s}.job j WHERE j.name = q.name AND j.completed_on IS NOT NULL
             ORDER BY j.completed_on LIMIT %(history_cap)s) x) h
 ORDER BY q.name
 LIMIT %(max_queues)s
"""

# The history's size from the planner: the rows it expects for one state over every queue's table
# (its statistics: pg_stats of each partition), never a scan. Planning only.
_HISTORY_ESTIMATE_SQL = "SELECT 1 FROM {s}.job WHERE state = {v}"
_NEVER_ANALYZED_SQL = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = %s::regclass AND c.reltuples < 0
"""

# Finished in the window per queue through job_i16 (name, completed_on), each queue up to the cap.
_THROUGHPUT_SQL = """
SELECT coalesce(sum(t.completed), 0)::bigint AS completed, coalesce(sum(t.failed), 0)::bigint AS failed,
       coalesce(bool_or(t.n >= %(cap)s), false) AS capped, min(t.oldest) AS oldest
  FROM (SELECT name FROM {s}.queue ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.state = 'completed') AS completed,
           count(*) FILTER (WHERE x.state = 'failed') AS failed,
           count(*) AS n, min(x.completed_on) AS oldest
      FROM (SELECT j.state, j.completed_on FROM {s}.job j
             WHERE j.name = q.name AND j.completed_on >= now() - make_interval(secs => %(window)s)
             ORDER BY j.completed_on DESC LIMIT %(cap)s) x) t
"""

# The newest failed jobs per queue (job_i14), grouped by pg-boss's error text (output.message). A
# blocked job never runs, so never fails: NOT blocked only lets the index give the order.
_FAILURES_SQL = """
SELECT f.name, coalesce(f.output->>'message', f.output::text, '(no error recorded)') AS error,
       count(*) AS n, max(f.completed_on) AS last_at
  FROM (SELECT name FROM {s}.queue ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT j.name, j.output, j.completed_on FROM {s}.job j
     WHERE j.name = q.name AND j.state = 'failed' AND NOT j.blocked
     ORDER BY j.start_after DESC LIMIT %(sample)s) f
 GROUP BY 1, 2
 ORDER BY n DESC, last_at DESC NULLS LAST
 LIMIT 20
"""

# Active jobs past pg-boss's own limits (expire_seconds; heartbeat_seconds when set), or running
# longer than the operator's threshold: job_i14 with state = 'active'.
_STUCK_SQL = """
SELECT a.id::text, a.name, a.started_on,
       extract(epoch FROM now() - a.started_on)::float8 AS running_s,
       CASE WHEN a.heartbeat_seconds IS NOT NULL
                 AND coalesce(a.heartbeat_on, a.started_on) + make_interval(secs => a.heartbeat_seconds) < now()
              THEN 'heartbeat lost (no touch within heartbeat_seconds)'
            WHEN a.started_on + make_interval(secs => a.expire_seconds) < now()
              THEN 'past expire_seconds (pg-boss fails it at its next supervise pass)'
            ELSE 'running longer than ' || %(after_s)s::text || 's' END AS reason
  FROM (SELECT name FROM {s}.queue ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT j.id, j.name, j.started_on, j.heartbeat_on, j.heartbeat_seconds, j.expire_seconds
      FROM {s}.job j
     WHERE j.name = q.name AND j.state = 'active'
       AND (j.started_on < now() - make_interval(secs => %(after_s)s)
            OR j.started_on + make_interval(secs => j.expire_seconds) < now()
            OR (j.heartbeat_seconds IS NOT NULL AND coalesce(j.heartbeat_on, j.started_on)
                  + make_interval(secs => j.heartbeat_seconds) < now()))
     LIMIT %(limit)s) a
 ORDER BY a.started_on
 LIMIT %(limit)s
"""

_JOB_COLUMNS = """j.id::text AS id, j.name, j.state::text AS state, j.priority, j.retry_count, j.retry_limit,
       j.created_on, j.start_after, j.started_on, j.completed_on,
       CASE WHEN j.state IN ('failed', 'retry') THEN coalesce(j.output->>'message', j.output::text) END AS error"""

# A keyset page in (created_on, id) order: per queue through job_i15 (name, created_on), then merged.
# States compare as pg-boss's enum (the array cast once, not each row's state to text). The cursor's
# condition is in the text only when there is a cursor: as "$1 IS NULL OR ..." a
# prepared statement's generic plan could not seek to it (it read the queue from its newest job).
_PAGE_SQL = """
SELECT p.* FROM (SELECT name FROM {s}.queue
                  WHERE (%(patterns)s::text[] IS NULL OR name LIKE ANY(%(patterns)s::text[]))
                  ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT {cols} FROM {s}.job j
     WHERE j.name = q.name
       AND (%(states)s::text[] IS NULL OR j.state = ANY(%(states)s::text[]::{s}.job_state[]))
       AND (%(err)s::text IS NULL OR coalesce(j.output->>'message', '') ILIKE %(err)s)
       {keyset}
     ORDER BY j.created_on {dir}, j.id {dir}
     LIMIT %(limit)s) p
 ORDER BY p.created_on {dir}, p.id {dir}
 LIMIT %(limit)s
"""

_DETAIL_SQL = """
SELECT to_jsonb(j) AS native, j.data AS payload, {cols}
  FROM (SELECT name FROM {s}.queue ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (SELECT * FROM {s}.job j WHERE j.name = q.name AND j.id = %(id)s) j
 LIMIT 1
"""


# Ids to (queue, state): one primary-key probe (name, id) per queue.
_LOOKUP_SQL = """
SELECT j.id::text, j.name, j.state::text
  FROM (SELECT name FROM {s}.queue ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (SELECT j.id, j.name, j.state FROM {s}.job j
                       WHERE j.name = q.name AND j.id = ANY(%(ids)s::uuid[])) j
"""

# The jobs a filter matches in the given states, in id order after a cursor: per queue through the
# primary key (name, id), merged.
_MATCHING_SQL = """
SELECT m.id::text
  FROM (SELECT name FROM {s}.queue
         WHERE (%(patterns)s::text[] IS NULL OR name LIKE ANY(%(patterns)s::text[]))
         ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT j.id FROM {s}.job j
     WHERE j.name = q.name AND j.state = ANY(%(states)s::text[]::{s}.job_state[])
       AND (%(err)s::text IS NULL OR coalesce(j.output->>'message', '') ILIKE %(err)s)
       {after}
     ORDER BY j.id LIMIT %(limit)s) m
 ORDER BY m.id
 LIMIT %(limit)s
"""

_COUNT_MATCHING_SQL = """
SELECT m.state::text, count(*)
  FROM (SELECT name FROM {s}.queue
         WHERE (%(patterns)s::text[] IS NULL OR name LIKE ANY(%(patterns)s::text[]))
         ORDER BY name LIMIT %(max_queues)s) q
  CROSS JOIN LATERAL (
    SELECT j.state FROM {s}.job j
     WHERE j.name = q.name AND j.state = ANY(%(states)s::text[]::{s}.job_state[])
       AND (%(err)s::text IS NULL OR coalesce(j.output->>'message', '') ILIKE %(err)s)
     LIMIT %(cap)s) m
 GROUP BY 1
"""

# pg-boss's own statements (plans.js), with RETURNING for the report and the audit record.
_RETRY_SQL = """
UPDATE {s}.job SET state = 'retry', retry_limit = retry_limit + 1, completed_on = NULL,
       start_after = GREATEST(start_after, {s}.job_now())
 WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state = 'failed'
RETURNING id::text, name, 'failed' AS native_old, completed_on
"""
_RESUME_SQL = """
UPDATE {s}.job j SET completed_on = NULL, state = 'created', upsert_by_key = NULL,
       start_after = GREATEST(j.start_after, {s}.job_now())
  FROM (SELECT id, completed_on FROM {s}.job
         WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state = 'cancelled') r
 WHERE j.name = %(name)s AND j.id = r.id AND j.state = 'cancelled'
RETURNING j.id::text, j.name, 'cancelled' AS native_old, r.completed_on
"""
_CANCEL_SQL = """
UPDATE {s}.job SET completed_on = {s}.job_now(), state = 'cancelled'
 WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state < 'active'
RETURNING id::text, name, NULL::text AS native_old, NULL::timestamptz AS completed_on
"""
_DELETE_SQL = """
DELETE FROM {s}.job
 WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state > 'active'
RETURNING id::text, name, state::text AS native_old, completed_on
"""
# The queue's cached retained_count/total_count, as pg-boss's deleteJob() and resume() adjust them.
_REDUCE_RETAINED_SQL = """
UPDATE {s}.queue
   SET retained_count = CASE WHEN retained_count IS NULL THEN NULL ELSE GREATEST(retained_count - %(retained)s, 0) END,
       total_count = GREATEST(total_count - %(removed)s, 0)
 WHERE name = %(name)s
"""
_RETAINED_ON_SQL = "SELECT retained_on FROM {s}.queue WHERE name = %s"

_PRIVS_SQL = """
SELECT has_table_privilege(%(job)s, 'SELECT'), has_table_privilege(%(job)s, 'UPDATE'),
       has_table_privilege(%(job)s, 'DELETE'), has_table_privilege(%(queue)s, 'UPDATE')
"""


class PgBoss(GuardedSystem):
    """pg-boss 10+ (the partitioned ``job`` table); tested with pg-boss 12."""

    kind = "pgboss"
    marker = "job"
    STATE_MAP: ClassVar[dict[str, JobStatus]] = NATIVE_STATES
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]] = {
        "retry": ("failed", "cancelled"),
        "cancel": ("created", "retry"),
        "delete": ("completed", "cancelled", "failed"),
    }
    SKIP_NATIVE: ClassVar[dict[tuple[str, str], str]] = {
        ("retry", "created"): "already pending",
        ("retry", "retry"): "already pending (waiting to retry)",
        ("cancel", "active"): "processing (pg-boss cannot stop a running handler)",
        ("delete", "retry"): "pending (cancel it first)",
    }
    FILTERS: ClassVar[tuple[str, ...]] = ("statuses", "job_types", "error_contains")

    def __init__(self, name: str | None = None, version: str | None = None, location: str = "pgboss") -> None:
        super().__init__(name, version, location)
        self.schema = location
        self._s = sql.Identifier(location)
        self.job_tables: list[str] = [sql.Identifier(location, "job_common").as_string(None)]

    def tables(self) -> list[str]:
        """The tables whose bloat the checks watch: job_common and the per-queue tables found
        at detection."""
        return list(self.job_tables)

    def _q(self, text: str, **parts: sql.Composable) -> sql.Composed:
        return sql.SQL(text).format(s=self._s, **parts)

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        found: list[QueueSystem] = []
        for (schema,) in conn.execute(_DETECT_SQL).fetchall():
            version = None
            table = sql.Identifier(schema, "version")
            readable = conn.execute(
                "SELECT has_schema_privilege(%s, 'USAGE') AND has_table_privilege(%s, 'SELECT')",
                (schema, table.as_string(conn)),
            ).fetchone()
            if readable and readable[0]:  # else the system is still there, its version unknown
                row = conn.execute(sql.SQL("SELECT max(version) FROM {}").format(table)).fetchone()
                version = f"schema {row[0]}" if row and row[0] is not None else None
            name = "pgboss" if schema == "pgboss" else f"pgboss.{schema}"
            system = cls(name=name, version=version, location=schema)
            # job_common and every per-queue table: the partitions of job (catalogs only).
            system.job_tables = [
                str(r[0])
                for r in conn.execute(
                    "SELECT i.inhrelid::regclass::text FROM pg_inherits i"
                    " WHERE i.inhparent = to_regclass(%s) ORDER BY 1",
                    (sql.Identifier(schema, "job").as_string(conn),),
                ).fetchall()
            ]
            found.append(system)
        return found

    # -- read ------------------------------------------------------------------------------------

    def summary(self, conn: Conn, *, stuck_after_s: float = 600.0) -> SystemSummary:
        info = self.info()
        notes: list[str] = []
        missing = missing_read_grant(conn, self.schema, ("job", "queue"))
        if missing:
            return SystemSummary(info=info, notes=[missing])
        with bounded_read(conn), conn.cursor(row_factory=dict_row) as cur:
            queues = cur.execute(
                self._q(_PER_QUEUE_SQL),
                {"cap": COUNT_CAP, "max_queues": MAX_QUEUES, "history_cap": HISTORY_EXACT_CAP},
            ).fetchall()
            small = all(q["history_read"] < HISTORY_EXACT_CAP for q in queues)
            if small:  # every queue's history was read whole: exact
                history = {st: sum(q[st] for q in queues) for st in ("completed", "cancelled")}
                unanalysed = []
            else:
                history = {
                    st: estimate_rows(conn, self._q(_HISTORY_ESTIMATE_SQL, v=sql.Literal(st)))
                    for st in ("completed", "cancelled")
                }
                unanalysed = [
                    r["relname"] for r in cur.execute(_NEVER_ANALYZED_SQL, (f"{self._ident()}.job",))
                ]
            tp = cur.execute(
                self._q(_THROUGHPUT_SQL),
                {"cap": THROUGHPUT_CAP, "max_queues": MAX_QUEUES, "window": THROUGHPUT_WINDOW_S},
            ).fetchone()
            failures = cur.execute(
                self._q(_FAILURES_SQL), {"max_queues": MAX_QUEUES, "sample": FAILURE_SAMPLE}
            ).fetchall()
            stuck = cur.execute(
                self._q(_STUCK_SQL),
                {"max_queues": MAX_QUEUES, "after_s": stuck_after_s, "limit": STUCK_LIMIT},
            ).fetchall()
        if len(queues) == MAX_QUEUES:
            notes.append(f"only the first {MAX_QUEUES} queues (by name) are read")
        native: list[NativeStateCount] = []
        for st in LIVE:
            n = sum(q[st] for q in queues)
            capped = any(q[st] >= COUNT_CAP for q in queues)
            native.append(
                NativeStateCount(
                    native=st, state=NATIVE_STATES[st], count=n, method="capped" if capped else "exact"
                )
            )
        if unanalysed:
            notes.append(
                "no planner statistics yet for "
                + ", ".join(unanalysed)
                + " (ANALYZE it): completed and cancelled are rough"
            )
        for st in ("completed", "cancelled"):
            native.append(
                NativeStateCount(
                    native=st,
                    state=NATIVE_STATES[st],
                    count=history[st],
                    method="exact" if small else "estimate",
                )
            )
        states = self.state_counts(native)
        types = [
            TypeCount(
                name=q["name"],
                kind="queue",
                counts={
                    "pending": q["created"] + q["retry"],
                    "processing": q["active"],
                    "failed": q["failed"],
                },
                method="capped" if any(q[s] >= COUNT_CAP for s in LIVE) else "exact",
            )
            for q in queues
        ]
        due = [q["oldest_due"] for q in queues if q["oldest_due"] is not None]
        oldest = min(due) if due else None
        now = datetime.now(UTC)
        span = None
        method = "exact"
        if tp and tp["capped"]:
            method = "capped"
            span = (now - tp["oldest"]).total_seconds() if tp["oldest"] else None
        return SystemSummary(
            info=info,
            states=states,
            native_states=native,
            types=types,
            types_capped=len(queues) == MAX_QUEUES,
            oldest_due_at=oldest,
            oldest_due_age_s=(now - oldest).total_seconds() if oldest else None,
            throughput=Throughput(
                window_s=THROUGHPUT_WINDOW_S,
                completed=int(tp["completed"]) if tp else 0,
                failed=int(tp["failed"]) if tp else 0,
                method=method,  # type: ignore[arg-type]
                span_s=span,
            ),
            failures=[
                FailureGroup(
                    error=f["error"],
                    job_type=f["name"],
                    count=f["n"],
                    last_at=f["last_at"],
                    method="capped" if f["n"] >= FAILURE_SAMPLE else "exact",
                )
                for f in failures
            ],
            stuck=[
                SystemStuckJob(
                    id=s["id"],
                    job_type=s["name"],
                    started_at=s["started_on"],
                    running_s=s["running_s"],
                    reason=s["reason"],
                )
                for s in stuck
            ],
            stuck_after_s=stuck_after_s,
            notes=notes,
        )

    def _ident(self) -> str:
        return '"' + self.schema.replace('"', '""') + '"'

    def _job(self, row: dict[str, Any]) -> SystemJob:
        return SystemJob(
            id=row["id"],
            job_type=row["name"],
            queue=row["name"],
            status=NATIVE_STATES.get(row["state"]),
            native_status=row["state"],
            priority=row["priority"],
            attempts=row["retry_count"],
            max_attempts=row["retry_limit"] + 1,
            created_at=row["created_on"],
            scheduled_at=row["start_after"],
            started_at=row["started_on"],
            finished_at=row["completed_on"],
            error=row["error"],
        )

    def _native_filter(self, flt: JobFilter) -> list[str] | None:
        if not flt.statuses:
            return None
        return [n for n, ours in NATIVE_STATES.items() if ours in flt.statuses]

    def page(
        self,
        conn: Conn,
        flt: JobFilter,
        after: str | None = None,
        limit: int = 100,
        *,
        newest_first: bool = True,
    ) -> SystemJobPage:
        check_filter(flt, self.FILTERS, self.name)
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit", f"must be between 1 and 1000 (got {limit})")
        after_at, after_id = _parse_cursor(after)
        direction = sql.SQL("DESC" if newest_first else "ASC")
        # The bound on created_on alone is what job_i15 seeks to; the row comparison breaks ties.
        op = "<" if newest_first else ">"
        keyset = (
            sql.SQL(
                f"AND j.created_on {op}= %(after_at)s AND (j.created_on, j.id) {op} (%(after_at)s, %(after_id)s::uuid)"
            )
            if after_at is not None
            else sql.SQL("")
        )
        query = self._q(_PAGE_SQL, cols=sql.SQL(_JOB_COLUMNS), keyset=keyset, dir=direction)
        params = {
            "patterns": like_patterns(flt),
            "states": self._native_filter(flt),
            "err": error_pattern(flt),
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit + 1,
            "max_queues": MAX_QUEUES,
        }
        try:
            with bounded_read(conn), conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(query, params).fetchall()
        except errors.QueryCanceled:
            if conn.broken or conn.closed:
                raise
            return SystemJobPage(
                rows=[], timed_out=True, note="no page within the time limit: narrow the filter"
            )
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = f"{rows[-1]['created_on'].isoformat()}|{rows[-1]['id']}" if more and rows else None
        return SystemJobPage(rows=[self._job(r) for r in rows], has_more=more, next_after=nxt)

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        jid = self.parse_id(job_id)
        with bounded_read(conn), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                self._q(_DETAIL_SQL, cols=sql.SQL(_JOB_COLUMNS)), {"id": jid, "max_queues": MAX_QUEUES}
            ).fetchone()
        if row is None:
            return None
        native = dict(row["native"])
        events = [SystemJobEvent(at=row["created_on"], kind="created")]
        if row["started_on"]:
            events.append(
                SystemJobEvent(
                    at=row["started_on"], kind="started", detail=f"attempt {row['retry_count'] + 1}"
                )
            )
        if row["completed_on"]:
            events.append(SystemJobEvent(at=row["completed_on"], kind=row["state"], detail=row["error"]))
        return SystemJobDetail(
            job=self._job(row),
            payload=row["payload"],
            native=native,
            events=events,
            audit=audit_of(conn, self.name, jid),
        )

    # -- act -------------------------------------------------------------------------------------

    def capabilities(self, conn: Conn) -> Capabilities:
        job, queue = f"{self._ident()}.job", f"{self._ident()}.queue"
        row = conn.execute(_PRIVS_SQL, {"job": job, "queue": queue}).fetchone()
        _sel, upd, dele, qupd = (bool(x) for x in row) if row else (False,) * 4
        no_audit = audit_support(conn)
        user = sql.Identifier(conn.info.user).as_string(conn)
        grant = f"GRANT SELECT, UPDATE, DELETE ON {job} TO {user}; GRANT UPDATE ON {queue} TO {user}"

        def gate(ok: bool, how: str) -> ActionSupport:
            if no_audit:
                return disabled(no_audit)
            return (
                enabled(how)
                if ok
                else disabled(f"role {conn.info.user} may not change pg-boss's jobs: {grant}")
            )

        return Capabilities(
            retry=gate(upd and qupd, "pg-boss's retryJobs (failed) and resumeJobs (cancelled) statements"),
            cancel=gate(upd, "pg-boss's cancelJobs statement, for jobs not yet started"),
            cancel_running=disabled(
                "pg-boss cannot stop a running handler: its cancel only discards the result"
            ),
            delete=gate(dele and qupd, "pg-boss's deleteJobsById statement, finished jobs only"),
            by_filter=disabled(no_audit) if no_audit else enabled("in batches of ids, per queue"),
            filters=list(self.FILTERS),
        )

    def parse_id(self, job_id: str) -> str:
        try:
            return str(UUID(str(job_id).strip()))
        except ValueError:
            raise InvalidInput("ids", f"not a pg-boss job id (a UUID): {str(job_id)[:60]!r}") from None

    def _located(self, conn: Conn, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(id, queue, state) for the ids that exist: one primary-key probe per queue."""
        rows = conn.execute(self._q(_LOOKUP_SQL), {"ids": list(ids), "max_queues": MAX_QUEUES}).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        return {i: st for i, _q, st in self._located(conn, ids)}

    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        rows = conn.execute(
            self._q(_MATCHING_SQL, after=sql.SQL("AND j.id > %(after)s::uuid" if after else "")),
            {
                "patterns": like_patterns(flt),
                "states": list(natives),
                "err": error_pattern(flt),
                "after": after,
                "limit": limit,
                "max_queues": MAX_QUEUES,
            },
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        states = self._native_filter(flt) or list(NATIVE_STATES)
        rows = conn.execute(
            self._q(_COUNT_MATCHING_SQL),
            {
                "patterns": like_patterns(flt),
                "states": states,
                "err": error_pattern(flt),
                "cap": cap,
                "max_queues": MAX_QUEUES,
            },
        ).fetchall()
        got = {str(r[0]): int(r[1]) for r in rows}
        return {st: (min(n, cap), n > cap) for st, n in got.items()}

    def statement(self, action: Action, running: bool) -> str:
        text = {
            "retry": _RETRY_SQL + ";\n-- cancelled jobs: pg-boss's resumeJobs\n" + _RESUME_SQL,
            "cancel": _CANCEL_SQL,
            "delete": _DELETE_SQL + ";\n" + _REDUCE_RETAINED_SQL,
        }[action]
        return text.replace("{s}", self._ident()).strip()

    def apply(self, conn: Conn, action: Action, ids: Sequence[str], running: bool) -> list[ChangedJob]:
        if not ids:
            return []
        by_queue: dict[str, list[str]] = {}
        before: dict[str, str] = {}
        for jid, queue, state in self._located(conn, ids):
            by_queue.setdefault(queue, []).append(jid)
            before[jid] = state
        out: list[ChangedJob] = []
        for queue, members in by_queue.items():
            args = {"name": queue, "ids": members}
            if action == "retry":
                retried = conn.execute(self._q(_RETRY_SQL), args).fetchall()
                resumed = conn.execute(self._q(_RESUME_SQL), args).fetchall()
                self._reduce_retained(conn, queue, resumed, removed=False)
                out += [
                    ChangedJob(id=r[0], job_type=r[1], native_old="failed", native_new="retry")
                    for r in retried
                ]
                out += [
                    ChangedJob(id=r[0], job_type=r[1], native_old="cancelled", native_new="created")
                    for r in resumed
                ]
            elif action == "cancel":
                out += [
                    ChangedJob(id=r[0], job_type=r[1], native_old=before[r[0]], native_new="cancelled")
                    for r in conn.execute(self._q(_CANCEL_SQL), args).fetchall()
                ]
            else:
                deleted = conn.execute(self._q(_DELETE_SQL), args).fetchall()
                self._reduce_retained(conn, queue, deleted, removed=True)
                out += [
                    ChangedJob(id=r[0], job_type=r[1], native_old=r[2], native_new="deleted") for r in deleted
                ]
        return out

    def _reduce_retained(self, conn: Conn, queue: str, rows: list[Any], *, removed: bool) -> None:
        """pg-boss keeps retained_count (completed and cancelled jobs finished by retained_on) and
        total_count on the queue row; its deleteJob() and resume() take the jobs they moved off."""
        if not rows:
            return
        on = conn.execute(self._q(_RETAINED_ON_SQL), (queue,)).fetchone()
        retained_on = on[0] if on else None
        retained = sum(
            1
            for r in rows
            if r[2] in ("completed", "cancelled")
            and retained_on is not None
            and r[3] is not None
            and r[3] <= retained_on
        )
        if retained:
            conn.execute(
                self._q(_REDUCE_RETAINED_SQL),
                {"name": queue, "retained": retained, "removed": retained if removed else 0},
            )


def _parse_cursor(after: str | None) -> tuple[datetime | None, str | None]:
    if not after:
        return None, None
    at, _, jid = after.partition("|")
    try:
        return datetime.fromisoformat(at), str(UUID(jid))
    except ValueError:
        raise InvalidInput("after", f"not a page cursor: {after[:60]!r}") from None
