"""Procrastinate (https://procrastinate.readthedocs.io): its jobs in ``procrastinate_jobs``, their
history in ``procrastinate_events`` (written by its triggers), its workers' heartbeats in
``procrastinate_workers``.

States: todo -> pending, doing -> processing, succeeded -> completed, failed -> failed, cancelled and
aborted -> cancelled (aborting: legacy, before 3.0, -> processing).

Acting goes through Procrastinate's own SQL functions, so its triggers write its events and send its
NOTIFY: retry of a failed job is ``procrastinate_retry_job_v2`` (3.4+; it takes failed jobs only, so
cancelled and aborted ones are left alone and say why), cancel is ``procrastinate_cancel_job_v1``
(a pending job -> cancelled; a running one gets ``abort_requested``, the abort its worker polls and
is notified of), and delete is a DELETE guarded by a finished state (its own trigger unlinks
periodic defers; events go by ON DELETE CASCADE, as its ``delete_old_jobs`` does).

Procrastinate keeps no job timestamps in the table and no error text at all (its worker logs the
error): created and finished times come from the events, failure groups are by task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from psycopg import sql

from pgconsole.queue.models import InvalidInput, JobFilter
from pgconsole.queue.states import Action, JobStatus
from pgconsole.queue.systems.base import (
    Capabilities,
    Conn,
    CountMethod,
    FailureGroup,
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
    ACTIVE_CAP,
    ChangedJob,
    GuardedSystem,
    audit_of,
    audit_support,
    bounded_read,
    count_states,
    dict_rows,
)
from pgconsole.queue.type_patterns import type_pattern

WINDOW_S = 900.0
WINDOW_CAP = 5_000
"""Throughput and failures: the newest this many events, those within WINDOW_S."""
STUCK_AFTER_S = 900.0
HEARTBEAT_STALE_S = 30.0
"""Procrastinate's own stalled-worker rule (``select_stalled_jobs_by_heartbeat``'s default)."""

# The candidates by name first (MATERIALIZED: to_regclass on a schema the role may not use errors).
_DETECT_SQL = """
WITH c AS MATERIALIZED (
  SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relname = 'procrastinate_jobs' AND c.relkind IN ('r', 'p') AND has_schema_privilege(n.oid, 'USAGE')
)
SELECT nspname,
       to_regprocedure(quote_ident(nspname) || '.procrastinate_retry_job_v2(bigint, timestamp with time zone,'
                       ' integer, character varying, character varying)') IS NOT NULL AS retry_v2,
       to_regclass(quote_ident(nspname) || '.procrastinate_workers') IS NOT NULL AS workers
  FROM c
 WHERE to_regclass(quote_ident(nspname) || '.procrastinate_events') IS NOT NULL
 ORDER BY nspname
"""


class Procrastinate(GuardedSystem):
    kind = "procrastinate"
    marker = "procrastinate_jobs"
    STATE_MAP: ClassVar[dict[str, JobStatus]] = {
        "todo": "pending",
        "doing": "processing",
        "aborting": "processing",
        "succeeded": "completed",
        "failed": "failed",
        "cancelled": "cancelled",
        "aborted": "cancelled",
    }
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]] = {
        "retry": ("failed",),
        "cancel": ("todo",),
        "cancel_running": ("doing",),
        "delete": ("succeeded", "failed", "cancelled", "aborted"),
    }
    SKIP_NATIVE: ClassVar[dict[tuple[str, str], str]] = {
        ("retry", "cancelled"): "cancelled (Procrastinate's retry function takes failed jobs only)",
        ("retry", "aborted"): "aborted (Procrastinate's retry function takes failed jobs only)",
        ("retry", "todo"): "already pending",
        ("retry", "doing"): "processing (never rewritten while a worker holds it)",
        ("delete", "doing"): "processing (cancel it first)",
        ("delete", "todo"): "pending (cancel it first)",
    }

    def __init__(self, schema: str, *, retry_v2: bool = True, version: str | None = None) -> None:
        super().__init__(version=version, location=f"{schema}.procrastinate_jobs")
        self.schema = schema
        self.retry_v2 = retry_v2
        self.jobs = sql.Identifier(schema, "procrastinate_jobs")
        self.events = sql.Identifier(schema, "procrastinate_events")
        self.workers = sql.Identifier(schema, "procrastinate_workers")
        self.defers = sql.Identifier(schema, "procrastinate_periodic_defers")

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        found: list[QueueSystem] = []
        for r in dict_rows(conn, _DETECT_SQL):
            version = "3.4+" if r["retry_v2"] else "3.0-3.3" if r["workers"] else "before 3.0"
            found.append(cls(r["nspname"], retry_v2=bool(r["retry_v2"]), version=version))
        return found[:1]  # one Procrastinate per database: its functions find their tables by search_path

    def _fn(self, name: str) -> sql.Composable:
        return sql.Identifier(self.schema, name)

    def tables(self) -> list[str]:
        return [self.jobs.as_string(None), self.events.as_string(None)]

    # -- read ----------------------------------------------------------------------------------

    def summary(self, conn: Conn) -> SystemSummary:
        notes: list[str] = []
        with bounded_read(conn):
            native = count_states(
                conn, self.jobs, sql.Identifier("status"), self.STATE_MAP, ("todo", "doing")
            )
            types = self._types(conn)
            oldest = dict_rows(
                conn,
                sql.SQL(
                    "SELECT coalesce(j.scheduled_at, (SELECT e.at FROM {ev} e WHERE e.job_id = j.id"
                    " AND e.type = 'deferred' ORDER BY e.id LIMIT 1)) AS due"
                    " FROM {jobs} j WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
                    " ORDER BY j.id LIMIT 1"
                ).format(ev=self.events, jobs=self.jobs),
            )
            # The newest WINDOW_CAP events (the primary key, newest first), those within the window.
            sample_sql = sql.SQL(
                "SELECT e.type::text AS type, e.at, j.task_name, e.at > now() - make_interval(secs => %s) AS in_window"
                "  FROM (SELECT id, job_id, type, at FROM {ev} ORDER BY id DESC LIMIT %s) e"
                "  LEFT JOIN {jobs} j ON j.id = e.job_id"
            ).format(ev=self.events, jobs=self.jobs)
            window = dict_rows(
                conn,
                sql.SQL(
                    "SELECT count(*) FILTER (WHERE in_window AND type = 'succeeded')::int AS completed,"
                    " count(*) FILTER (WHERE in_window AND type = 'failed')::int AS failed,"
                    " count(*)::int AS n, coalesce(bool_and(in_window), false) AS all_in,"
                    " extract(epoch FROM max(at) - min(at))::float8 AS span_s FROM ({s}) x"
                ).format(s=sample_sql),
                (WINDOW_S, WINDOW_CAP),
            )[0]
            failed_by_task = dict_rows(
                conn,
                sql.SQL(
                    "SELECT coalesce(task_name, '(deleted job)') AS task, count(*)::int AS n, max(at) AS last_at"
                    " FROM ({s}) x WHERE in_window AND type = 'failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 50"
                ).format(s=sample_sql),
                (WINDOW_S, WINDOW_CAP),
            )
            stuck = self._stuck(conn)
            age = dict_rows(
                conn,
                "SELECT greatest(0, extract(epoch FROM now() - %s::timestamptz))::float8 AS s",
                (oldest[0]["due"] if oldest else None,),
            )
        capped = window["n"] >= WINDOW_CAP and window["all_in"]
        method: CountMethod = "capped" if capped else "exact"
        groups = [
            FailureGroup(
                error="(Procrastinate keeps no error text)",
                job_type=r["task"],
                count=r["n"],
                last_at=r["last_at"],
                method=method,
            )
            for r in failed_by_task
        ]
        notes.append(
            "errors: Procrastinate stores no error text (its worker logs it); failures are grouped by task"
        )
        return SystemSummary(
            info=self.info(),
            native_states=native,
            states=self.state_counts(native),
            types=types[0],
            types_capped=types[1],
            oldest_due_at=oldest[0]["due"] if oldest else None,
            oldest_due_age_s=age[0]["s"] if oldest else None,
            throughput=Throughput(
                window_s=WINDOW_S,
                completed=window["completed"],
                failed=window["failed"],
                method=method,
                span_s=window["span_s"] if capped else None,
            ),
            failures=groups,
            stuck=stuck,
            stuck_after_s=STUCK_AFTER_S,
            notes=notes,
        )

    def _types(self, conn: Conn) -> tuple[list[TypeCount], bool]:
        """Active jobs by task, from at most ACTIVE_CAP of them (the todo/doing partial index)."""
        rows = dict_rows(
            conn,
            sql.SQL(
                "SELECT task_name, status::text AS status, count(*)::int AS n FROM ("
                " SELECT task_name, status FROM {jobs} WHERE status IN ('todo', 'doing') LIMIT %s) x GROUP BY 1, 2"
            ).format(jobs=self.jobs),
            (ACTIVE_CAP + 1,),
        )
        capped = sum(r["n"] for r in rows) > ACTIVE_CAP
        by: dict[str, TypeCount] = {}
        for r in rows:
            t = by.setdefault(
                r["task_name"], TypeCount(name=r["task_name"], method="capped" if capped else "exact")
            )
            word = self.STATE_MAP[r["status"]]
            t.counts[word] = t.counts.get(word, 0) + r["n"]
        return sorted(by.values(), key=lambda t: t.name), capped

    def _stuck(self, conn: Conn) -> list[SystemStuckJob]:
        rows = dict_rows(
            conn,
            sql.SQL(
                "SELECT j.id::text AS id, j.task_name, s.at AS started_at,"
                "       extract(epoch FROM now() - s.at)::float8 AS running_s,"
                "       w.id IS NULL AS worker_gone,"
                "       coalesce(w.last_heartbeat < now() - make_interval(secs => %s), false) AS stale"
                "  FROM (SELECT * FROM {jobs} WHERE status = 'doing' ORDER BY id LIMIT 1000) j"
                "  LEFT JOIN LATERAL (SELECT e.at FROM {ev} e WHERE e.job_id = j.id AND e.type = 'started'"
                "                      ORDER BY e.id DESC LIMIT 1) s ON true"
                "  LEFT JOIN {workers} w ON w.id = j.worker_id"
            ).format(jobs=self.jobs, ev=self.events, workers=self.workers),
            (HEARTBEAT_STALE_S,),
        )
        out = []
        for r in rows:
            reason = None
            if r["worker_gone"]:
                reason = "its worker is gone (no procrastinate_workers row)"
            elif r["stale"]:
                reason = f"its worker's heartbeat is older than {HEARTBEAT_STALE_S:g}s"
            elif r["running_s"] is not None and r["running_s"] > STUCK_AFTER_S:
                reason = f"running longer than {STUCK_AFTER_S:g}s"
            if reason:
                out.append(
                    SystemStuckJob(
                        id=r["id"],
                        job_type=r["task_name"],
                        started_at=r["started_at"],
                        running_s=r["running_s"],
                        reason=reason,
                    )
                )
        return out

    def _natives(self, statuses: Sequence[str] | None) -> list[str] | None:
        if not statuses:
            return None
        return [n for n, w in self.STATE_MAP.items() if w in statuses]

    def _where(
        self, flt: JobFilter, natives: Sequence[str] | None = None
    ) -> tuple[sql.Composable, list[Any]]:
        parts: list[sql.Composable] = []
        params: list[Any] = []
        wanted = list(natives) if natives is not None else self._natives(flt.statuses)
        if wanted is not None:
            # One equality per state, OR-ed: each arm can use its partial index (todo, doing).
            parts.append(
                sql.SQL("({})").format(
                    sql.SQL(" OR ").join(sql.SQL("j.status = {}").format(sql.Literal(n)) for n in wanted)
                )
                if wanted
                else sql.SQL("false")
            )
        if flt.job_types:
            parts.append(sql.SQL("j.task_name LIKE ANY(%s)"))
            params.append([type_pattern(t) for t in flt.job_types])
        return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")), params

    _ROW = sql.SQL(
        "j.id::text AS id, j.task_name, j.queue_name, j.status::text AS native_status, j.priority, j.attempts,"
        " j.scheduled_at,"
        " (SELECT e.at FROM {ev} e WHERE e.job_id = j.id AND e.type = 'deferred' ORDER BY e.id LIMIT 1) AS created_at,"
        " (SELECT e.at FROM {ev} e WHERE e.job_id = j.id AND e.type = 'started' ORDER BY e.id DESC LIMIT 1) AS started_at,"
        " CASE WHEN j.status IN ('succeeded', 'failed', 'cancelled', 'aborted') THEN"
        "   (SELECT e.at FROM {ev} e WHERE e.job_id = j.id ORDER BY e.id DESC LIMIT 1) END AS finished_at"
    )

    def _job(self, r: dict[str, Any]) -> SystemJob:
        return SystemJob(
            id=r["id"],
            job_type=r["task_name"],
            queue=r["queue_name"],
            status=self.STATE_MAP.get(r["native_status"]),
            native_status=r["native_status"],
            priority=r["priority"],
            attempts=r["attempts"],
            created_at=r["created_at"],
            scheduled_at=r["scheduled_at"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
        )

    def page(
        self,
        conn: Conn,
        flt: JobFilter,
        after: str | None = None,
        limit: int = 100,
        *,
        newest_first: bool = True,
    ) -> SystemJobPage:
        from pgconsole.queue.systems.common import check_filter

        check_filter(flt, self.FILTERS, self.name)
        where, params = self._where(flt)
        if after is not None:
            where = sql.SQL("{} AND j.id {} %s").format(where, sql.SQL("<" if newest_first else ">"))
            params.append(int(self.parse_id(after)))
        stmt = sql.SQL("SELECT {row} FROM {jobs} j WHERE {w} ORDER BY j.id {d} LIMIT %s").format(
            row=self._ROW.format(ev=self.events),
            jobs=self.jobs,
            w=where,
            d=sql.SQL("DESC" if newest_first else "ASC"),
        )
        from psycopg import errors

        try:
            with bounded_read(conn):
                rows = dict_rows(conn, stmt, [*params, limit + 1])
        except errors.QueryCanceled:
            if conn.broken or conn.closed:
                raise
            return SystemJobPage(
                rows=[], timed_out=True, note="no page within the time limit: narrow the filter with a status"
            )
        jobs = [self._job(r) for r in rows[:limit]]
        more = len(rows) > limit
        return SystemJobPage(rows=jobs, has_more=more, next_after=jobs[-1].id if more and jobs else None)

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        jid = int(self.parse_id(job_id))
        with bounded_read(conn):
            rows = dict_rows(
                conn,
                sql.SQL("SELECT {row}, to_jsonb(j) AS native, j.args FROM {jobs} j WHERE j.id = %s").format(
                    row=self._ROW.format(ev=self.events), jobs=self.jobs
                ),
                (jid,),
            )
            if not rows:
                return None
            events = dict_rows(
                conn,
                sql.SQL(
                    "SELECT at, type::text AS kind FROM {ev} WHERE job_id = %s ORDER BY id LIMIT 500"
                ).format(ev=self.events),
                (jid,),
            )
        r = rows[0]
        return SystemJobDetail(
            job=self._job(r),
            payload=r["args"],
            native=r["native"],
            events=[SystemJobEvent(at=e["at"], kind=e["kind"]) for e in events],
            audit=audit_of(conn, self.name, str(jid)),
        )

    # -- act -----------------------------------------------------------------------------------

    def parse_id(self, job_id: str) -> str:
        text = str(job_id).strip()
        if not text.isdigit() or len(text) > 19:
            raise InvalidInput("ids", f"not a Procrastinate job id (an integer): {text[:60]!r}")
        return str(int(text))

    def capabilities(self, conn: Conn) -> Capabilities:
        no_audit = audit_support(conn)
        row = conn.execute(
            "SELECT has_table_privilege(%s::regclass, 'UPDATE'), has_table_privilege(%s::regclass, 'DELETE'),"
            " has_table_privilege(%s::regclass, 'INSERT'),"
            " coalesce(has_table_privilege(to_regclass(%s), 'UPDATE'), true)",
            (
                self.jobs.as_string(conn),
                self.jobs.as_string(conn),
                self.events.as_string(conn),
                self.defers.as_string(conn),
            ),
        ).fetchone()
        may_update, may_delete, may_event, may_unlink = (bool(x) for x in row) if row else (False,) * 4
        user = sql.Identifier(conn.info.user).as_string(conn)
        grant = (
            f"GRANT SELECT, UPDATE, DELETE ON {self.jobs.as_string(conn)} TO {user}; "
            f"GRANT INSERT ON {self.events.as_string(conn)} TO {user}; "
            f"GRANT UPDATE ON {self.defers.as_string(conn)} TO {user}; "
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {sql.Identifier(self.schema).as_string(conn)} TO {user}"
        )

        def gate(ok: bool, how: str) -> Any:
            if no_audit:
                return disabled(no_audit)
            return (
                enabled(how)
                if ok
                else disabled(f"role {conn.info.user} may not change Procrastinate's jobs: {grant}")
            )

        retry = gate(may_update and may_event, "procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL)")
        if not self.retry_v2:
            retry = disabled(
                "this Procrastinate (before 3.4) can only retry running jobs; upgrade to retry failed ones"
            )
        return Capabilities(
            retry=retry,
            cancel=gate(
                may_update and may_event,
                "procrastinate_cancel_job_v1(id, abort => false, delete_job => false)",
            ),
            cancel_running=gate(
                may_update and may_event,
                "procrastinate_cancel_job_v1(id, abort => true, ...): the worker aborts it",
            ),
            delete=gate(may_delete and may_unlink, "DELETE guarded by a finished state (events cascade)"),
            filters=list(self.FILTERS),
        )

    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        rows = conn.execute(
            sql.SQL("SELECT id::text, status::text FROM {jobs} WHERE id = ANY(%s::bigint[])").format(
                jobs=self.jobs
            ),
            ([int(i) for i in ids],),
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        where, params = self._where(flt, natives)
        if after is not None:
            where = sql.SQL("{} AND j.id > %s").format(where)
            params.append(int(after))
        rows = conn.execute(
            sql.SQL("SELECT j.id::text FROM {jobs} j WHERE {w} ORDER BY j.id LIMIT %s").format(
                jobs=self.jobs, w=where
            ),
            [*params, limit],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        out: dict[str, tuple[int, bool]] = {}
        for native in self._natives(flt.statuses) or list(self.STATE_MAP):
            where, params = self._where(flt, [native])
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {jobs} j WHERE {w} LIMIT %s) c").format(
                    jobs=self.jobs, w=where
                ),
                [*params, cap + 1],
            ).fetchone()
            n = int(row[0]) if row else 0
            if n:
                out[native] = (min(n, cap), n > cap)
        return out

    _LOCKED = sql.SQL(
        "SELECT id, task_name, status::text AS old, abort_requested FROM {jobs} WHERE id = ANY(%s::bigint[]) AND {guard} ORDER BY id FOR UPDATE"
    )

    def apply(self, conn: Conn, action: Action, ids: Sequence[str], running: bool) -> list[ChangedJob]:
        if not ids:
            return []
        # Procrastinate's functions name their tables without a schema: find them in its schema.
        conn.execute(
            "SELECT set_config('search_path', %s, true)", (sql.Identifier(self.schema).as_string(conn),)
        )
        int_ids = [int(i) for i in ids]
        if action == "retry":
            stmt = sql.SQL(
                "WITH j AS MATERIALIZED ({locked})"
                " SELECT j.id::text, j.task_name, j.old, {fn}(j.id, now(), NULL, NULL, NULL)::text, 'todo' FROM j"
            ).format(
                locked=self._LOCKED.format(jobs=self.jobs, guard=sql.SQL("status = 'failed'")),
                fn=self._fn("procrastinate_retry_job_v2"),
            )
        elif action == "cancel":
            guard = (
                "(status = 'todo' OR (status = 'doing' AND NOT abort_requested))"
                if running
                else "status = 'todo'"
            )
            stmt = sql.SQL(
                "WITH j AS MATERIALIZED ({locked})"
                " SELECT j.id::text, j.task_name, j.old,"
                "        {fn}(j.id, j.old = 'doing', false)::text,"
                "        CASE WHEN j.old = 'doing' THEN 'abort_requested' ELSE 'cancelled' END FROM j"
            ).format(
                locked=self._LOCKED.format(jobs=self.jobs, guard=sql.SQL(guard)),
                fn=self._fn("procrastinate_cancel_job_v1"),
            )
        else:
            stmt = sql.SQL(
                "DELETE FROM {jobs} WHERE id = ANY(%s::bigint[])"
                " AND status IN ('succeeded', 'failed', 'cancelled', 'aborted')"
                " RETURNING id::text, task_name, status::text, NULL, 'deleted'"
            ).format(jobs=self.jobs)
        rows = conn.execute(stmt, (int_ids,)).fetchall()
        return [ChangedJob(id=r[0], job_type=r[1], native_old=r[2], native_new=r[4]) for r in rows]

    def statement(self, action: Action, running: bool) -> str:
        if action == "retry":
            stmt = sql.SQL(
                "SELECT {fn}(id, now(), NULL, NULL, NULL) FROM {jobs} WHERE id = ANY($1) AND status = 'failed' FOR UPDATE"
            ).format(fn=self._fn("procrastinate_retry_job_v2"), jobs=self.jobs)
        elif action == "cancel":
            which = (
                "status = 'todo' OR (status = 'doing' AND NOT abort_requested)"
                if running
                else "status = 'todo'"
            )
            stmt = sql.SQL(
                "SELECT {fn}(id, abort => status = 'doing', delete_job => false) FROM {jobs}"
                " WHERE id = ANY($1) AND ({which}) FOR UPDATE"
            ).format(fn=self._fn("procrastinate_cancel_job_v1"), jobs=self.jobs, which=sql.SQL(which))
        else:
            stmt = sql.SQL(
                "DELETE FROM {jobs} WHERE id = ANY($1) AND status IN ('succeeded', 'failed', 'cancelled', 'aborted')"
            ).format(jobs=self.jobs)
        return stmt.as_string(None)
