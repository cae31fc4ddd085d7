"""pgconsole's own queue as one :class:`~pgconsole.queue.systems.base.QueueSystem`: a thin adapter
over :mod:`pgconsole.monitor.queue_stats` (counts), :mod:`pgconsole.queue.browse` (pages, detail)
and :mod:`pgconsole.queue.admin` (the one action path, whose SQL functions write the audit records).
Its states are pgconsole's words already; nothing is translated but the models' shapes."""

from __future__ import annotations

from psycopg import sql

from pgconsole.db.capabilities import read_capabilities
from pgconsole.monitor.queue_stats import collect_queue
from pgconsole.queue import admin, browse
from pgconsole.queue.models import ActionPreview, ActionReport, ActionTarget, InvalidInput, JobFilter
from pgconsole.queue.states import STATES, Action
from pgconsole.queue.systems.base import (
    AuditEntry,
    Capabilities,
    Conn,
    FailureGroup,
    NativeStateCount,
    ProgressCallback,
    QueueSystem,
    StateCount,
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
from pgconsole.queue.systems.common import SMALL_TABLE_PAGES, count_states, dict_rows, table_pages

# CASE first: to_regclass in a schema the role may not use is an error, not NULL.
_DETECT_SQL = """
SELECT CASE WHEN u THEN to_regclass('pgconsole.jobs') IS NOT NULL ELSE false END AS installed,
       CASE WHEN u THEN coalesce(has_table_privilege(to_regclass('pgconsole.schema_migrations'), 'SELECT'), false)
            ELSE false END AS readable
  FROM (SELECT EXISTS (SELECT 1 FROM pg_namespace
                        WHERE nspname = 'pgconsole' AND has_schema_privilege(oid, 'USAGE')) AS u) x
"""


_JOBS = sql.Identifier("pgconsole", "jobs")


class OwnQueue(QueueSystem):
    kind = "pgconsole"

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        row = dict_rows(conn, _DETECT_SQL)[0]
        if not row["installed"]:
            return []
        version = None
        if row["readable"]:
            got = conn.execute("SELECT max(version)::text FROM pgconsole.schema_migrations").fetchone()
            version = f"schema {got[0]}" if got and got[0] else None
        return [cls(version=version, location="pgconsole.jobs")]

    def summary(self, conn: Conn) -> SystemSummary:
        stats = collect_queue(conn, read_capabilities(conn))
        states = [
            StateCount(state=s.status, count=s.count, method=s.method, native=[s.status])  # type: ignore[arg-type]
            for s in stats.states
        ]
        if table_pages(conn, _JOBS) <= SMALL_TABLE_PAGES:
            # A small table is counted exactly, as every other system's is: the planner's estimate
            # of a few finished jobs (~2 for 4) reads as wrong beside the list of them.
            exact = {
                c.native: c.count
                for c in count_states(conn, _JOBS, sql.Identifier("status"), {st: st for st in STATES}, [])
            }
            for sc in states:
                if sc.method == "estimate" and sc.state in exact:
                    sc.count, sc.method = exact[sc.state], "exact"
        types = [
            TypeCount(
                name=t.job_type,
                counts={"pending": t.pending, "processing": t.processing},
                method="capped" if t.pending_capped or t.processing_capped else "exact",
            )
            for t in stats.by_type
        ]
        return SystemSummary(
            info=self.info(),
            states=states,
            native_states=[
                NativeStateCount(native=s.state, state=s.state, count=s.count, method=s.method)
                for s in states
            ],
            types=types,
            types_capped=stats.types_capped,
            oldest_due_at=stats.oldest_scheduled_at,
            oldest_due_age_s=stats.oldest_due_age_s,
            throughput=Throughput(
                window_s=900.0,
                completed=stats.finished("15m", "completed"),
                failed=stats.finished("15m", "failed"),
                method="capped" if stats.window_capped else "exact",
                span_s=stats.window_span_s,
            ),
            failures=[
                FailureGroup(error=f.message, job_type=f.job_type, count=f.n, last_at=f.last_at)
                for f in stats.failures
            ],
            stuck=[
                SystemStuckJob(id=str(j.id), job_type=j.job_type, started_at=j.started_at, reason=j.reason)
                for j in stats.stuck or []
            ],
            notes=[stats.stuck_note] if stats.stuck_note else [],
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
        q = browse.JobQuery(**flt.model_dump(), sort="created_desc" if newest_first else "created_asc")
        got = browse.fetch_page(conn, q, (None, after) if after else None, limit)
        rows = [
            SystemJob(
                id=r.id,
                job_type=r.job_type,
                status=r.status if r.status in STATES else None,  # type: ignore[arg-type]
                native_status=r.status,
                priority=r.priority,
                attempts=r.attempt,
                max_attempts=r.max_retries + 1,
                created_at=r.created_at,
                scheduled_at=r.scheduled_at,
                error=r.error_message,
            )
            for r in got.rows
        ]
        return SystemJobPage(
            rows=rows,
            has_more=got.has_more,
            next_after=rows[-1].id if got.has_more and rows else None,
            note=got.note,
            timed_out=got.timed_out,
        )

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        try:
            d = browse.fetch_detail(conn, job_id)
        except InvalidInput:
            return None
        if d is None:
            return None
        j = d.job
        job = SystemJob(
            id=str(j.id),
            job_type=j.job_type,
            status=j.status,
            native_status=j.status,
            priority=j.priority,
            attempts=j.attempt,
            max_attempts=j.max_retries + 1,
            created_at=j.created_at,
            scheduled_at=j.scheduled_at,
            started_at=j.started_at,
            finished_at=j.completed_at,
            error=j.error_message,
        )
        meta = [(e, e.metadata if isinstance(e.metadata, dict) else {}) for e in d.logs]
        return SystemJobDetail(
            job=job,
            payload=j.payload,
            native=j.model_dump(mode="json"),
            events=[
                SystemJobEvent(at=e.created_at, kind=e.level, detail=e.message)
                for e, _ in meta
                if e.level != "audit"
            ],
            audit=[
                AuditEntry(
                    at=e.created_at,
                    actor=e.actor,
                    action=e.message,
                    reason=m.get("reason"),
                    old_status=m.get("old_status"),
                    new_status=m.get("new_status"),
                    os_user=m.get("os_user"),
                )
                for e, m in meta
                if e.level == "audit"
            ],
        )

    def capabilities(self, conn: Conn) -> Capabilities:
        if admin.can_act(conn):
            return Capabilities(
                retry=enabled("pgconsole.retry_jobs / retry_jobs_matching"),
                cancel=enabled("pgconsole.cancel_jobs / cancel_jobs_matching"),
                cancel_running=enabled("a cancel request its worker honours (cancel_requested_at)"),
                delete=enabled("pgconsole.delete_jobs / delete_jobs_matching"),
                filters=[f for f in JobFilter.model_fields],
            )
        why = disabled(f"role {conn.info.user} may not act: GRANT pgconsole_operator TO {conn.info.user}")
        return Capabilities(
            retry=why, cancel=why, cancel_running=why, delete=why, filters=list(JobFilter.model_fields)
        )

    def preview(self, conn: Conn, action: Action, target: ActionTarget) -> ActionPreview:
        return admin.preview(conn, action, target)

    def run(
        self,
        conn: Conn,
        action: Action,
        target: ActionTarget,
        progress: ProgressCallback | None = None,
        *,
        batch_size: int = 1000,
    ) -> ActionReport:
        return admin.run(conn, action, target, progress, batch_size=batch_size)
