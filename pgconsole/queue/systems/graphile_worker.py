"""graphile-worker (Node): its jobs in ``<schema>._private_jobs`` with ``_private_tasks`` (task
identifiers) and ``_private_job_queues`` (named serial queues); the public view ``jobs`` joins them.

graphile-worker has no state column. A job is *locked* (a worker runs it: ``locked_at`` set, less
than 4 hours ago — graphile's own lock timeout), *available* (``is_available``: unlocked with
attempts left; queued, scheduled for later, or waiting to retry after an error), or *permanently
failed* (``attempts >= max_attempts``). A completed job is deleted, so there is no history to count
and no throughput to read from the table. A job cancelled through pgconsole is permanently failed
by graphile's own ``permanently_fail_jobs`` with a message starting ``CANCEL_PREFIX``, and shown as
cancelled.

Available jobs are counted through graphile's partial index ``jobs_main_index`` (is_available),
up to a cap. Locked and failed jobs have no index; the table holds only live and failed jobs, so
while it is small (the planner's reltuples under ``SMALL_TABLE_ROWS``) they are counted exactly,
and beyond that they are the planner's estimates, labelled so.

Actions are graphile's own functions: retry ``reschedule_jobs`` (one more attempt, run now), cancel
``permanently_fail_jobs``, delete ``complete_jobs`` (which deletes); each skips locked jobs itself,
and pgconsole first picks only the jobs in the state the action applies to. Retry sends the
``jobs:insert`` notification graphile's workers listen for, as ``add_job`` does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

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

CANCEL_PREFIX = "Cancelled via pgconsole"
CANCEL_MESSAGE = f"{CANCEL_PREFIX} (the reason is in pgconsole's audit record)"
LOCK_TIMEOUT = "4 hours"  # graphile-worker's own: a lock older than this is free to take again
NATIVE_STATES: dict[str, JobStatus] = {
    "queued": "pending",
    "scheduled": "pending",
    "retry_wait": "pending",
    "lock_expired": "pending",
    "locked": "processing",
    "permanently_failed": "failed",
    "cancelled": "cancelled",
}
COUNT_CAP = 10_000
SMALL_TABLE_ROWS = 100_000
FAILURE_SAMPLE = 1000
STUCK_LIMIT = 50

# The native state of a job row j, in SQL (the one definition, used by every read and action).
_STATE_EXPR = f"""CASE
  WHEN j.locked_at IS NOT NULL AND j.locked_at >= now() - interval '{LOCK_TIMEOUT}' THEN 'locked'
  WHEN j.attempts >= j.max_attempts AND j.last_error LIKE '{CANCEL_PREFIX}%%' THEN 'cancelled'
  WHEN j.attempts >= j.max_attempts THEN 'permanently_failed'
  WHEN j.locked_at IS NOT NULL THEN 'lock_expired'
  WHEN j.attempts > 0 THEN 'retry_wait'
  WHEN j.run_at > now() THEN 'scheduled'
  ELSE 'queued' END"""

_DETECT_SQL = """
SELECT n.nspname
  FROM pg_namespace n
 WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = '_private_jobs')
   AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = '_private_tasks')
   AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'migrations')
 ORDER BY n.nspname <> 'graphile_worker', n.nspname
"""

# graphile-worker enables row-level security on its tables (no policies): a role that is neither
# their owner nor BYPASSRLS sees no job at all unless a policy lets it.
_SIZE_SQL = """
SELECT c.reltuples::float8,
       row_security_active(c.oid) AND NOT EXISTS (
         SELECT 1 FROM pg_policy p
          WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*')
            AND (0::oid = ANY(p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE pg_has_role(r, 'MEMBER'))))
  FROM pg_class c WHERE c.oid = %s::regclass
"""

# Available jobs by task (and native state), through jobs_main_index (is_available), up to the cap.
_AVAILABLE_SQL = """
SELECT t.identifier AS task, a.state, count(*) AS n
  FROM (SELECT j.task_id, {state} AS state FROM {s}._private_jobs j
         WHERE j.is_available = true LIMIT %(cap)s) a
  JOIN {s}._private_tasks t ON t.id = a.task_id
 GROUP BY 1, 2
"""

# Every job by task and native state: only while the table is small (it holds no completed jobs).
_ALL_SQL = """
SELECT t.identifier AS task, {state} AS state, count(*) AS n
  FROM {s}._private_jobs j JOIN {s}._private_tasks t ON t.id = j.task_id
 GROUP BY 1, 2
"""

# The oldest due job: the earliest run_at among available jobs, per priority through
# jobs_main_index (priority, run_at), priorities walked one by one (a loose index scan).
_OLDEST_DUE_SQL = """
WITH RECURSIVE p(priority) AS (
  (SELECT j.priority FROM {s}._private_jobs j WHERE j.is_available = true ORDER BY j.priority LIMIT 1)
  UNION ALL
  SELECT (SELECT j.priority FROM {s}._private_jobs j WHERE j.is_available = true AND j.priority > p.priority
           ORDER BY j.priority LIMIT 1)
    FROM p WHERE p.priority IS NOT NULL
)
SELECT min((SELECT j.run_at FROM {s}._private_jobs j WHERE j.is_available = true AND j.priority = p.priority
             ORDER BY j.run_at LIMIT 1)) AS oldest
  FROM p WHERE p.priority IS NOT NULL
"""


_FAILURES_SQL = """
SELECT t.identifier AS task, coalesce(f.last_error, '(no error recorded)') AS error, count(*) AS n,
       max(f.updated_at) AS last_at
  FROM (SELECT j.task_id, j.last_error, j.updated_at FROM {s}._private_jobs j
         WHERE j.attempts >= j.max_attempts AND (j.last_error IS NULL OR j.last_error NOT LIKE %(cancel)s)
         LIMIT %(sample)s) f
  JOIN {s}._private_tasks t ON t.id = f.task_id
 GROUP BY 1, 2
 ORDER BY n DESC, last_at DESC
 LIMIT 20
"""

_STUCK_SQL = """
SELECT j.id::text, t.identifier AS task, j.locked_at, j.locked_by,
       extract(epoch FROM now() - j.locked_at)::float8 AS running_s
  FROM {s}._private_jobs j JOIN {s}._private_tasks t ON t.id = j.task_id
 WHERE j.locked_at IS NOT NULL AND j.locked_at < now() - make_interval(secs => %(after_s)s)
 ORDER BY j.locked_at
 LIMIT %(limit)s
"""

_COLUMNS = """j.id::text AS id, t.identifier AS task, q.queue_name, {state} AS state, j.priority, j.attempts,
       j.max_attempts, j.created_at, j.run_at, j.locked_at, j.updated_at, j.last_error"""

_FROM = """{s}._private_jobs j JOIN {s}._private_tasks t ON t.id = j.task_id
  LEFT JOIN {s}._private_job_queues q ON q.id = j.job_queue_id"""

# A keyset page in id order (ids are an identity: creation order), through the primary key.
_PAGE_SQL = """
SELECT {cols} FROM {from_}
 WHERE (%(patterns)s::text[] IS NULL OR t.identifier LIKE ANY(%(patterns)s::text[]))
   AND (%(err)s::text IS NULL OR coalesce(j.last_error, '') ILIKE %(err)s)
   {after}
   AND (%(states)s::text[] IS NULL OR ({state}) = ANY(%(states)s::text[]))
 ORDER BY j.id {dir}
 LIMIT %(limit)s
"""

_DETAIL_SQL = "SELECT {cols}, row_to_json(j)::jsonb AS native, j.payload FROM {from_} WHERE j.id = %(id)s"

_LOOKUP_SQL = (
    "SELECT j.id::text, t.identifier, {state}, j.attempts FROM {from_} WHERE j.id = ANY(%(ids)s::bigint[])"
)

# The jobs a filter matches in the given states, after a cursor, in id order (the primary key).
_MATCHING_SQL = """
SELECT j.id::text FROM {from_}
 WHERE (%(patterns)s::text[] IS NULL OR t.identifier LIKE ANY(%(patterns)s::text[]))
   AND (%(err)s::text IS NULL OR coalesce(j.last_error, '') ILIKE %(err)s)
   {after}
   AND ({state}) = ANY(%(states)s::text[])
 ORDER BY j.id
 LIMIT %(limit)s
"""
_COUNT_MATCHING_SQL = """
SELECT m.state, count(*) FROM (
  SELECT {state} AS state FROM {from_}
   WHERE (%(patterns)s::text[] IS NULL OR t.identifier LIKE ANY(%(patterns)s::text[]))
     AND (%(err)s::text IS NULL OR coalesce(j.last_error, '') ILIKE %(err)s)
     AND ({state}) = ANY(%(states)s::text[])
   LIMIT %(cap)s) m
 GROUP BY 1
"""

# graphile-worker's own functions. Retry: one more attempt than it has had, to run now (grouped by
# attempts, since reschedule_jobs takes one max_attempts for all its ids).
_RETRY_SQL = """
SELECT r.id::text, r.task_id FROM (
  SELECT attempts, array_agg(id) AS ids FROM {s}._private_jobs
   WHERE id = ANY(%(ids)s::bigint[]) AND attempts >= max_attempts GROUP BY attempts) g
  CROSS JOIN LATERAL {s}.reschedule_jobs(g.ids, run_at => now(), max_attempts => g.attempts + 1) r
"""
_NOTIFY_SQL = (
    """SELECT pg_notify('jobs:insert', '{"r":' || random()::text || ',"count":' || %s::text || '}')"""
)
_CANCEL_SQL = """
SELECT r.id::text, r.task_id FROM {s}.permanently_fail_jobs(
  ARRAY(SELECT id FROM {s}._private_jobs WHERE id = ANY(%(ids)s::bigint[]) AND attempts < max_attempts
          AND locked_at IS NULL),
  %(message)s) r
"""
_DELETE_SQL = """
SELECT r.id::text, r.task_id FROM {s}.complete_jobs(
  ARRAY(SELECT id FROM {s}._private_jobs WHERE id = ANY(%(ids)s::bigint[]) AND attempts >= max_attempts)) r
"""

_PRIVS_SQL = """
SELECT has_table_privilege(%(jobs)s, 'SELECT'), has_table_privilege(%(jobs)s, 'UPDATE'),
       has_table_privilege(%(jobs)s, 'DELETE'), has_function_privilege(%(resched)s, 'EXECUTE'), has_function_privilege(%(fail)s, 'EXECUTE'),
       has_function_privilege(%(complete)s, 'EXECUTE')
"""


class GraphileWorker(GuardedSystem):
    """graphile-worker 0.16+ (``_private_jobs`` with the ``is_available`` column); tested with 0.18."""

    kind = "graphile_worker"
    marker = "_private_jobs"
    STATE_MAP: ClassVar[dict[str, JobStatus]] = NATIVE_STATES
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]] = {
        "retry": ("permanently_failed", "cancelled"),
        "cancel": ("queued", "scheduled", "retry_wait"),
        "delete": ("permanently_failed", "cancelled"),
    }
    SKIP_NATIVE: ClassVar[dict[tuple[str, str], str]] = {
        ("retry", "retry_wait"): "already pending (waiting to retry)",
        ("retry", "lock_expired"): "already pending (its lock expired; graphile takes it again)",
        ("cancel", "locked"): "processing (graphile-worker cannot stop a running task)",
        ("cancel", "lock_expired"): "lock expired (a worker may still hold it)",
        ("delete", "lock_expired"): "pending (cancel it first)",
    }
    FILTERS: ClassVar[tuple[str, ...]] = ("statuses", "job_types", "error_contains")

    def __init__(
        self, name: str | None = None, version: str | None = None, location: str = "graphile_worker"
    ) -> None:
        super().__init__(name, version, location)
        self.schema = location
        self._s = sql.Identifier(location)

    def tables(self) -> list[str]:
        return [sql.Identifier(self.schema, "_private_jobs").as_string(None)]

    def _q(self, text: str, **parts: sql.Composable) -> sql.Composed:
        state = sql.SQL(_STATE_EXPR)
        return sql.SQL(text).format(s=self._s, state=state, from_=sql.SQL(_FROM).format(s=self._s), **parts)

    def _ident(self) -> str:
        return '"' + self.schema.replace('"', '""') + '"'

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        found: list[QueueSystem] = []
        for (schema,) in conn.execute(_DETECT_SQL).fetchall():
            version = None
            table = sql.Identifier(schema, "migrations")
            readable = conn.execute(
                "SELECT has_schema_privilege(%s, 'USAGE') AND has_table_privilege(%s, 'SELECT')",
                (schema, table.as_string(conn)),
            ).fetchone()
            if readable and readable[0]:  # else the system is still there, its version unknown
                row = conn.execute(sql.SQL("SELECT max(id) FROM {}").format(table)).fetchone()
                version = f"schema {row[0]}" if row and row[0] is not None else None
            name = "graphile_worker" if schema == "graphile_worker" else f"graphile_worker.{schema}"
            found.append(cls(name=name, version=version, location=schema))
        return found

    # -- read ------------------------------------------------------------------------------------

    def _estimate(self, conn: Conn, cond: str) -> int:
        return estimate_rows(
            conn, self._q("SELECT 1 FROM {s}._private_jobs j WHERE {cond}", cond=sql.SQL(cond))
        )

    def summary(self, conn: Conn, *, stuck_after_s: float = 600.0) -> SystemSummary:
        notes = ["graphile-worker deletes a job when it completes: no completed count, no throughput"]
        missing = missing_read_grant(
            conn, self.schema, ("_private_jobs", "_private_tasks", "_private_job_queues")
        )
        if missing:
            return SystemSummary(info=self.info(), notes=[missing, *notes])
        jobs = f"{self._ident()}._private_jobs"
        size_row = conn.execute(_SIZE_SQL, (jobs,)).fetchone()
        reltuples = float(size_row[0]) if size_row else -1.0
        if size_row and size_row[1]:
            notes.append(
                f"row-level security on {jobs} hides every job from this role (no policy for it): "
                f"CREATE POLICY pgconsole_read ON {jobs} FOR SELECT TO <role> USING (true)"
            )
        small = reltuples < SMALL_TABLE_ROWS
        by: Counter[tuple[str, str]] = Counter()
        methods: dict[str, str] = {}
        with bounded_read(conn), conn.cursor(row_factory=dict_row) as cur:
            if small:
                for r in cur.execute(self._q(_ALL_SQL)).fetchall():
                    by[(r["task"], r["state"])] += r["n"]
                methods = dict.fromkeys(NATIVE_STATES, "exact")
            else:
                rows = cur.execute(self._q(_AVAILABLE_SQL), {"cap": COUNT_CAP}).fetchall()
                capped = sum(r["n"] for r in rows) >= COUNT_CAP
                for r in rows:
                    by[(r["task"], r["state"])] += r["n"]
                for st in ("queued", "scheduled", "retry_wait"):
                    methods[st] = "capped" if capped else "exact"
                locked = self._estimate(conn, "j.locked_at IS NOT NULL")
                # attempts >= max_attempts compares two columns (the planner guesses a third);
                # is_available has statistics of its own: unavailable and not locked is failed.
                failed = max(self._estimate(conn, "j.is_available = false") - locked, 0)
                by[("*", "locked")] += locked
                by[("*", "permanently_failed")] += failed
                methods.update(locked="estimate", permanently_failed="estimate")
                notes.append(
                    f"{int(reltuples)} jobs in the table: locked and failed counts are the planner's "
                    "estimates (cancelled ones are among the failed)"
                )
            oldest_row = cur.execute(self._q(_OLDEST_DUE_SQL)).fetchone()
            failures = cur.execute(
                self._q(_FAILURES_SQL), {"cancel": CANCEL_PREFIX + "%", "sample": FAILURE_SAMPLE}
            ).fetchall()
            stuck = (
                cur.execute(self._q(_STUCK_SQL), {"after_s": stuck_after_s, "limit": STUCK_LIMIT}).fetchall()
                if small
                else []
            )
        if not small:
            notes.append("running-too-long jobs are listed while the table is small (locked_at has no index)")
        native_totals: Counter[str] = Counter()
        for (_task, st), n in by.items():
            native_totals[st] += n
        # At size, a lock past graphile's timeout is within the locked estimate and a cancelled job
        # within the failed one: neither is counted apart.
        apart = (
            NATIVE_STATES
            if small
            else {k: v for k, v in NATIVE_STATES.items() if k not in ("lock_expired", "cancelled")}
        )
        native = [
            NativeStateCount(native=st, state=ours, count=native_totals[st], method=methods.get(st, "exact"))  # type: ignore[arg-type]
            for st, ours in apart.items()
        ]
        states = self.state_counts(native)
        tasks: dict[str, Counter[str]] = {}
        for (task, st), n in by.items():
            if task != "*":
                tasks.setdefault(task, Counter())[NATIVE_STATES[st]] += n
        oldest = oldest_row["oldest"] if oldest_row else None
        now = datetime.now(UTC)
        if oldest is not None and oldest > now:
            oldest = None  # the earliest available job is scheduled for later: nothing is due
        return SystemSummary(
            info=self.info(),
            states=states,
            native_states=native,
            types=[
                TypeCount(name=t, kind="type", counts=dict(c), method="exact" if small else "capped")
                for t, c in sorted(tasks.items())
            ],
            oldest_due_at=oldest,
            oldest_due_age_s=(now - oldest).total_seconds() if oldest else None,
            throughput=None,
            failures=[
                FailureGroup(
                    error=f["error"],
                    job_type=f["task"],
                    count=f["n"],
                    last_at=f["last_at"],
                    method="capped" if f["n"] >= FAILURE_SAMPLE else "exact",
                )
                for f in failures
            ],
            stuck=[
                SystemStuckJob(
                    id=s["id"],
                    job_type=s["task"],
                    started_at=s["locked_at"],
                    running_s=s["running_s"],
                    reason=f"locked by {s['locked_by']} for over {stuck_after_s:g}s "
                    f"(graphile frees a lock after {LOCK_TIMEOUT})",
                )
                for s in stuck
            ],
            stuck_after_s=stuck_after_s,
            notes=notes,
        )

    def _job(self, r: dict[str, Any]) -> SystemJob:
        return SystemJob(
            id=r["id"],
            job_type=r["task"],
            queue=r["queue_name"],
            status=NATIVE_STATES.get(r["state"]),
            native_status=r["state"],
            priority=r["priority"],
            attempts=r["attempts"],
            max_attempts=r["max_attempts"],
            created_at=r["created_at"],
            scheduled_at=r["run_at"],
            started_at=r["locked_at"],
            finished_at=r["updated_at"] if r["state"] in ("permanently_failed", "cancelled") else None,
            error=r["last_error"],
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
        after_id = int(self.parse_id(after)) if after else None
        query = self._q(
            _PAGE_SQL,
            cols=sql.SQL(_COLUMNS).format(state=sql.SQL(_STATE_EXPR)),
            # Only with a cursor: "$1 IS NULL OR ..." would keep a generic plan from seeking to it.
            after=sql.SQL(f"AND j.id {'<' if newest_first else '>'} %(after)s::bigint" if after_id else ""),
            dir=sql.SQL("DESC" if newest_first else "ASC"),
        )
        params = {
            "patterns": like_patterns(flt),
            "err": error_pattern(flt),
            "after": after_id,
            "states": self._native_filter(flt),
            "limit": limit + 1,
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
        return SystemJobPage(
            rows=[self._job(r) for r in rows],
            has_more=more,
            next_after=rows[-1]["id"] if more and rows else None,
        )

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        jid = int(self.parse_id(job_id))
        with bounded_read(conn), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                self._q(_DETAIL_SQL, cols=sql.SQL(_COLUMNS).format(state=sql.SQL(_STATE_EXPR))), {"id": jid}
            ).fetchone()
        if row is None:
            return None
        events = [SystemJobEvent(at=row["created_at"], kind="created")]
        if row["locked_at"]:
            events.append(
                SystemJobEvent(at=row["locked_at"], kind="locked", detail=f"attempt {row['attempts']}")
            )
        if row["last_error"]:
            events.append(SystemJobEvent(at=row["updated_at"], kind="error", detail=row["last_error"]))
        return SystemJobDetail(
            job=self._job(row),
            payload=row["payload"],
            native=dict(row["native"]),
            events=events,
            audit=audit_of(conn, self.name, str(jid)),
        )

    # -- act -------------------------------------------------------------------------------------

    def capabilities(self, conn: Conn) -> Capabilities:
        s = self._ident()
        row = conn.execute(
            _PRIVS_SQL,
            {
                "jobs": f"{s}._private_jobs",
                "resched": f"{s}.reschedule_jobs(bigint[],timestamptz,integer,integer,integer)",
                "fail": f"{s}.permanently_fail_jobs(bigint[],text)",
                "complete": f"{s}.complete_jobs(bigint[])",
            },
        ).fetchone()
        sel, upd, dele, resched, fail, complete = (bool(x) for x in row) if row else (False,) * 6
        no_audit = audit_support(conn)
        user = sql.Identifier(conn.info.user).as_string(conn)
        grant = (
            f"GRANT SELECT, UPDATE, DELETE ON {s}._private_jobs TO {user} (graphile's functions run with "
            f"the caller's rights) and a row-level security policy for {user}"
        )

        def gate(ok: bool, how: str) -> ActionSupport:
            if no_audit:
                return disabled(no_audit)
            return (
                enabled(how)
                if ok
                else disabled(f"role {conn.info.user} may not change graphile's jobs: {grant}")
            )

        return Capabilities(
            retry=gate(
                sel and upd and resched, "graphile-worker's reschedule_jobs (one more attempt, run now)"
            ),
            cancel=gate(
                sel and upd and fail, "graphile-worker's permanently_fail_jobs, jobs not yet started"
            ),
            cancel_running=disabled("graphile-worker cannot stop a running task"),
            delete=gate(
                sel and dele and complete, "graphile-worker's complete_jobs (it deletes), finished jobs only"
            ),
            by_filter=disabled(no_audit) if no_audit else enabled("in batches of ids"),
            filters=list(self.FILTERS),
        )

    def parse_id(self, job_id: str) -> str:
        text = str(job_id).strip()
        if not text.isdigit() or len(text) > 19 or int(text) < 1:
            raise InvalidInput("ids", f"not a graphile-worker job id (a positive integer): {text[:60]!r}")
        return str(int(text))

    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        rows = conn.execute(self._q(_LOOKUP_SQL), {"ids": [int(i) for i in ids]}).fetchall()
        return {str(r[0]): str(r[2]) for r in rows}

    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        rows = conn.execute(
            self._q(_MATCHING_SQL, after=sql.SQL("AND j.id > %(after)s::bigint" if after else "")),
            {
                "patterns": like_patterns(flt),
                "err": error_pattern(flt),
                "after": int(after) if after else None,
                "states": list(natives),
                "limit": limit,
            },
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        states = self._native_filter(flt) or list(NATIVE_STATES)
        rows = conn.execute(
            self._q(_COUNT_MATCHING_SQL),
            {"patterns": like_patterns(flt), "err": error_pattern(flt), "states": states, "cap": cap + 1},
        ).fetchall()
        capped = sum(int(r[1]) for r in rows) > cap
        return {str(r[0]): (int(r[1]), capped) for r in rows}

    def statement(self, action: Action, running: bool) -> str:
        text = {
            "retry": _RETRY_SQL + ";\n" + _NOTIFY_SQL % "n",
            "cancel": _CANCEL_SQL,
            "delete": _DELETE_SQL,
        }[action]
        return text.replace("{s}", self._ident()).replace("%%", "%").strip()

    def apply(self, conn: Conn, action: Action, ids: Sequence[str], running: bool) -> list[ChangedJob]:
        if not ids:
            return []
        before = {
            str(r[0]): (str(r[1]), str(r[2]))
            for r in conn.execute(self._q(_LOOKUP_SQL), {"ids": [int(i) for i in ids]})
        }
        int_ids = [int(i) for i in ids]
        if action == "retry":
            rows = conn.execute(self._q(_RETRY_SQL), {"ids": int_ids}).fetchall()
            if rows:  # graphile's workers wake on this, as they do for add_job
                conn.execute(_NOTIFY_SQL, (len(rows),))
            new = "queued"
        elif action == "cancel":
            rows = conn.execute(self._q(_CANCEL_SQL), {"ids": int_ids, "message": CANCEL_MESSAGE}).fetchall()
            new = "cancelled"
        else:
            rows = conn.execute(self._q(_DELETE_SQL), {"ids": int_ids}).fetchall()
            new = "deleted"
        return [
            ChangedJob(
                id=str(r[0]), job_type=before[str(r[0])][0], native_old=before[str(r[0])][1], native_new=new
            )
            for r in rows
        ]
