"""PgQueuer (https://pgqueuer.readthedocs.io): active jobs in the table ``pgqueuer`` (queued, picked,
and failed jobs held there by ``on_failure="hold"``), every state change in ``pgqueuer_log``
(a finished job's row leaves the queue table: its history is the log), its doorbell the NOTIFY
channel ``ch_pgqueuer``.

States: queued -> pending, picked -> processing, failed (held in the queue table) -> failed; from
the log: successful -> completed, exception -> failed, canceled and deleted -> cancelled.

Acting uses PgQueuer's own statements (``qb.py``): retry of a held failed job is its
``requeue_jobs`` (back to queued, attempts reset, a ``queued`` log row); cancel is its
``mark_job_as_cancelled`` (the row leaves the queue, a ``canceled`` log row, and a
``cancellation_event`` NOTIFY on ``ch_pgqueuer`` that a worker running the job turns into its
cancellation scope), guarded by the job's state; delete of a held failed job is its
``clear_queue`` shape (a ``deleted`` log row). A job that failed with ``on_failure="delete"``
(the default) is only a log row: there is no job left to retry, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from psycopg import errors, sql

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
    check_filter,
    count_states,
    dict_rows,
)
from pgconsole.queue.type_patterns import type_pattern

CHANNEL = "ch_pgqueuer"
"""PgQueuer's default channel (``DBSettings.channel``)."""
WINDOW_S = 900.0
WINDOW_CAP = 5_000
STUCK_AFTER_S = 900.0
HEARTBEAT_STALE_S = 60.0

TABLE_STATES: dict[str, JobStatus] = {"queued": "pending", "picked": "processing", "failed": "failed"}
LOG_STATES: dict[str, JobStatus] = {
    "successful": "completed",
    "exception": "failed",
    "canceled": "cancelled",
    "deleted": "cancelled",
}

_DETECT_SQL = """
WITH c AS MATERIALIZED (
  SELECT n.nspname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relname = 'pgqueuer' AND c.relkind IN ('r', 'p') AND has_schema_privilege(n.oid, 'USAGE')
     AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'entrypoint' AND NOT a.attisdropped)
)
SELECT nspname FROM c WHERE to_regclass(quote_ident(nspname) || '.pgqueuer_log') IS NOT NULL ORDER BY nspname
"""


class PgQueuer(GuardedSystem):
    kind = "pgqueuer"
    marker = "pgqueuer"
    STATE_MAP: ClassVar[dict[str, JobStatus]] = {**TABLE_STATES, **LOG_STATES}
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]] = {
        "retry": ("failed",),
        "cancel": ("queued",),
        "cancel_running": ("picked",),
        "delete": ("failed",),
    }
    SKIP_NATIVE: ClassVar[dict[tuple[str, str], str]] = {
        (
            "retry",
            "exception",
        ): "failed and deleted by PgQueuer (on_failure='delete'): only its log row is left",
        ("retry", "canceled"): "cancelled: its row left the queue; only its log row is left",
        ("retry", "deleted"): "deleted: only its log row is left",
        ("retry", "successful"): "completed",
        ("delete", "successful"): "history in pgqueuer_log (PgQueuer's clear_queue_log prunes it)",
        ("delete", "exception"): "history in pgqueuer_log (PgQueuer's clear_queue_log prunes it)",
        ("delete", "canceled"): "history in pgqueuer_log (PgQueuer's clear_queue_log prunes it)",
        ("delete", "deleted"): "history in pgqueuer_log (PgQueuer's clear_queue_log prunes it)",
    }

    def __init__(self, schema: str, version: str | None = None) -> None:
        super().__init__(version=version, location=f"{schema}.pgqueuer")
        self.schema = schema
        self.table = sql.Identifier(schema, "pgqueuer")
        self.log = sql.Identifier(schema, "pgqueuer_log")
        self.status_type = sql.Identifier(schema, "pgqueuer_status")

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        rows = dict_rows(conn, _DETECT_SQL)
        return [cls(rows[0]["nspname"])] if rows else []

    def tables(self) -> list[str]:
        return [self.table.as_string(None), self.log.as_string(None)]

    # -- read ----------------------------------------------------------------------------------

    def summary(self, conn: Conn) -> SystemSummary:
        status = sql.Identifier("status")
        with bounded_read(conn):
            native = count_states(conn, self.table, status, TABLE_STATES, ("queued", "picked"))
            # The log's states through its (status) index, each counted up to the cap.
            native += count_states(conn, self.log, status, LOG_STATES, tuple(LOG_STATES), cap=ACTIVE_CAP)
            types, types_capped = self._types(conn)
            oldest = dict_rows(
                conn,
                sql.SQL(
                    "SELECT min(execute_after) AS due, extract(epoch FROM now() - min(execute_after))::float8 AS age"
                    " FROM (SELECT execute_after FROM {t} WHERE status = 'queued' AND execute_after <= now()"
                    "        ORDER BY priority, id DESC LIMIT %s) x"
                ).format(t=self.table),
                (ACTIVE_CAP,),
            )[0]
            # The newest WINDOW_CAP log rows of the window, through the log's (created) index.
            sample = sql.SQL(
                "SELECT status::text AS status, entrypoint, created, traceback FROM {log}"
                " WHERE created > now() - make_interval(secs => %s) ORDER BY created DESC LIMIT %s"
            ).format(log=self.log)
            window = dict_rows(
                conn,
                sql.SQL(
                    "SELECT count(*) FILTER (WHERE status = 'successful')::int AS completed,"
                    " count(*) FILTER (WHERE status IN ('exception', 'failed'))::int AS failed, count(*)::int AS n,"
                    " extract(epoch FROM now() - min(created))::float8 AS span_s FROM ({s}) x"
                ).format(s=sample),
                (WINDOW_S, WINDOW_CAP),
            )[0]
            failures = dict_rows(
                conn,
                sql.SQL(
                    "SELECT entrypoint, coalesce(traceback->>'exception_type', '?') || ': '"
                    " || left(coalesce(traceback->>'exception_message', ''), 200) AS error,"
                    " count(*)::int AS n, max(created) AS last_at"
                    " FROM ({s}) x WHERE status IN ('exception', 'failed') GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20"
                ).format(s=sample),
                (WINDOW_S, WINDOW_CAP),
            )
            stuck = dict_rows(
                conn,
                sql.SQL(
                    "SELECT id::text AS id, entrypoint, updated AS started_at,"
                    " extract(epoch FROM now() - updated)::float8 AS running_s,"
                    " heartbeat < now() - make_interval(secs => %s) AS stale"
                    " FROM {t} WHERE status = 'picked' ORDER BY heartbeat LIMIT 1000"
                ).format(t=self.table),
                (HEARTBEAT_STALE_S,),
            )
        capped = window["n"] >= WINDOW_CAP
        method: CountMethod = "capped" if capped else "exact"
        stuck_jobs = []
        for r in stuck:
            reason = (
                f"no heartbeat for {HEARTBEAT_STALE_S:g}s"
                if r["stale"]
                else f"running longer than {STUCK_AFTER_S:g}s"
                if (r["running_s"] or 0) > STUCK_AFTER_S
                else None
            )
            if reason:
                stuck_jobs.append(
                    SystemStuckJob(
                        id=r["id"],
                        job_type=r["entrypoint"],
                        started_at=r["started_at"],
                        running_s=r["running_s"],
                        reason=reason,
                    )
                )
        return SystemSummary(
            info=self.info(),
            native_states=native,
            states=self.state_counts(native),
            types=types,
            types_capped=types_capped,
            oldest_due_at=oldest["due"],
            oldest_due_age_s=max(0.0, oldest["age"]) if oldest["age"] is not None else None,
            throughput=Throughput(
                window_s=WINDOW_S,
                completed=window["completed"],
                failed=window["failed"],
                method=method,
                span_s=window["span_s"] if capped else None,
            ),
            failures=[
                FailureGroup(
                    error=r["error"],
                    job_type=r["entrypoint"],
                    count=r["n"],
                    last_at=r["last_at"],
                    method=method,
                )
                for r in failures
            ],
            stuck=stuck_jobs,
            stuck_after_s=STUCK_AFTER_S,
            notes=["finished jobs are counted from pgqueuer_log (one row per state change)"],
        )

    def _types(self, conn: Conn) -> tuple[list[TypeCount], bool]:
        """Queued and picked jobs by entrypoint: each state read through its partial index, at most
        ACTIVE_CAP rows each."""
        rows = dict_rows(
            conn,
            sql.SQL(
                "SELECT entrypoint, status, count(*)::int AS n FROM ("
                " (SELECT entrypoint, 'queued' AS status FROM {t} WHERE status = 'queued' LIMIT %(cap)s)"
                " UNION ALL"
                " (SELECT entrypoint, 'picked' FROM {t} WHERE status = 'picked' LIMIT %(cap)s)) x GROUP BY 1, 2"
            ).format(t=self.table),
            {"cap": ACTIVE_CAP + 1},
        )
        capped = any(
            sum(r["n"] for r in rows if r["status"] == st) > ACTIVE_CAP for st in ("queued", "picked")
        )
        by: dict[str, TypeCount] = {}
        for r in rows:
            t = by.setdefault(
                r["entrypoint"], TypeCount(name=r["entrypoint"], method="capped" if capped else "exact")
            )
            t.counts[TABLE_STATES[r["status"]]] = r["n"]
        return sorted(by.values(), key=lambda t: t.name), capped

    def _split(self, statuses: Sequence[str] | None) -> tuple[list[str], list[str]]:
        """The native states of the queue table and of the log a pgconsole state filter means."""
        table = [n for n, w in TABLE_STATES.items() if not statuses or w in statuses]
        log = [n for n, w in LOG_STATES.items() if not statuses or w in statuses]
        return table, log

    @staticmethod
    def _in(natives: Sequence[str], alias: str = "j") -> sql.Composable:
        if not natives:
            return sql.SQL("false")
        return sql.SQL("({})").format(
            sql.SQL(" OR ").join(
                sql.SQL("{}.status = {}").format(sql.Identifier(alias), sql.Literal(n)) for n in natives
            )
        )

    def _types_cond(self, flt: JobFilter, alias: str = "j") -> tuple[sql.Composable, list[Any]]:
        if not flt.job_types:
            return sql.SQL("true"), []
        return sql.SQL("{}.entrypoint LIKE ANY(%s)").format(sql.Identifier(alias)), [
            [type_pattern(t) for t in flt.job_types]
        ]

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
        table_states, log_states = self._split(flt.statuses)
        cond, params = self._types_cond(flt)
        cmp = sql.SQL("<" if newest_first else ">")
        order = sql.SQL("DESC" if newest_first else "ASC")
        key: list[Any] = [int(self.parse_id(after))] if after else []
        after_q = sql.SQL(" AND j.id {} %s").format(cmp) if after else sql.SQL("")
        after_l = sql.SQL(" AND j.job_id {} %s").format(cmp) if after else sql.SQL("")
        try:
            with bounded_read(conn):
                live = dict_rows(
                    conn,
                    sql.SQL(
                        "SELECT j.id::text AS id, j.entrypoint, j.status::text AS native_status, j.priority, j.attempts,"
                        " j.created, j.execute_after, CASE WHEN j.status = 'picked' THEN j.updated END AS started,"
                        " NULL::timestamptz AS finished, NULL::jsonb AS traceback"
                        " FROM {t} j WHERE {s} AND {c}{a} ORDER BY j.id {o} LIMIT %s"
                    ).format(t=self.table, s=self._in(table_states), c=cond, a=after_q, o=order),
                    [*params, *key, limit + 1],
                )
                done = dict_rows(
                    conn,
                    sql.SQL(
                        "SELECT j.job_id::text AS id, j.entrypoint, j.status::text AS native_status, j.priority,"
                        " NULL::int AS attempts, NULL::timestamptz AS created, NULL::timestamptz AS execute_after,"
                        " NULL::timestamptz AS started, j.created AS finished, j.traceback"
                        " FROM {log} j WHERE {s} AND {c}{a} ORDER BY j.job_id {o} LIMIT %s"
                    ).format(log=self.log, s=self._in(log_states), c=cond, a=after_l, o=order),
                    [*params, *key, limit + 1],
                )
        except errors.QueryCanceled:
            if conn.broken or conn.closed:
                raise
            return SystemJobPage(
                rows=[], timed_out=True, note="no page within the time limit: narrow the filter with a status"
            )
        merged = sorted(live + done, key=lambda r: int(r["id"]), reverse=newest_first)
        jobs = [self._job(r) for r in merged[:limit]]
        more = len(merged) > limit
        return SystemJobPage(rows=jobs, has_more=more, next_after=jobs[-1].id if more and jobs else None)

    def _job(self, r: dict[str, Any]) -> SystemJob:
        tb = r.get("traceback") or {}
        error = f"{tb.get('exception_type', '')}: {tb.get('exception_message', '')}" if tb else None
        return SystemJob(
            id=r["id"],
            job_type=r["entrypoint"],
            status=self.STATE_MAP.get(r["native_status"]),
            native_status=r["native_status"],
            priority=r["priority"],
            attempts=r["attempts"],
            created_at=r["created"],
            scheduled_at=r["execute_after"],
            started_at=r["started"],
            finished_at=r["finished"],
            error=error,
        )

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        jid = int(self.parse_id(job_id))
        with bounded_read(conn):
            live = dict_rows(
                conn,
                sql.SQL(
                    "SELECT j.id::text AS id, j.entrypoint, j.status::text AS native_status, j.priority, j.attempts,"
                    " j.created, j.execute_after, CASE WHEN j.status = 'picked' THEN j.updated END AS started,"
                    " NULL::timestamptz AS finished, NULL::jsonb AS traceback,"
                    " to_jsonb(j) - 'payload' AS native, j.payload FROM {t} j WHERE j.id = %s"
                ).format(t=self.table),
                (jid,),
            )
            log = dict_rows(
                conn,
                sql.SQL(
                    "SELECT id, created, status::text AS status, entrypoint, priority, traceback FROM {log}"
                    " WHERE job_id = %s ORDER BY created, id LIMIT 500"
                ).format(log=self.log),
                (jid,),
            )
        if live:
            r = live[0]
            payload = _payload(r.pop("payload"))
            native = r.pop("native")
        elif log:
            last = log[-1]
            r = {
                "id": str(jid),
                "entrypoint": last["entrypoint"],
                "native_status": last["status"],
                "priority": last["priority"],
                "attempts": None,
                "created": log[0]["created"],
                "execute_after": None,
                "started": None,
                "finished": last["created"],
                "traceback": next((x["traceback"] for x in reversed(log) if x["traceback"]), None),
            }
            payload, native = None, {"note": "the job's row has left the queue table; its log rows remain"}
        else:
            return None
        events = [
            SystemJobEvent(
                at=x["created"],
                kind=x["status"],
                detail=(x["traceback"] or {}).get("exception_message") if x["traceback"] else None,
            )
            for x in log
        ]
        return SystemJobDetail(
            job=self._job(r),
            payload=payload,
            native=native,
            events=events,
            audit=audit_of(conn, self.name, str(jid)),
        )

    # -- act -----------------------------------------------------------------------------------

    def parse_id(self, job_id: str) -> str:
        text = str(job_id).strip()
        if not text.isdigit() or len(text) > 19:
            raise InvalidInput("ids", f"not a PgQueuer job id (an integer): {text[:60]!r}")
        return str(int(text))

    def capabilities(self, conn: Conn) -> Capabilities:
        no_audit = audit_support(conn)
        row = conn.execute(
            "SELECT has_table_privilege(%s::regclass, 'UPDATE'), has_table_privilege(%s::regclass, 'DELETE'),"
            " has_table_privilege(%s::regclass, 'INSERT')",
            (self.table.as_string(conn), self.table.as_string(conn), self.log.as_string(conn)),
        ).fetchone()
        may_update, may_delete, may_log = (bool(x) for x in row) if row else (False, False, False)
        user = sql.Identifier(conn.info.user).as_string(conn)
        grant = (
            f"GRANT SELECT, UPDATE, DELETE ON {self.table.as_string(conn)} TO {user}; "
            f"GRANT SELECT, INSERT ON {self.log.as_string(conn)} TO {user}"
        )

        def gate(ok: bool, how: str) -> Any:
            if no_audit:
                return disabled(no_audit)
            return (
                enabled(how)
                if ok
                else disabled(f"role {conn.info.user} may not change PgQueuer's jobs: {grant}")
            )

        return Capabilities(
            retry=gate(may_update and may_log, "PgQueuer's requeue_jobs statement (held failed jobs)"),
            cancel=gate(
                may_delete and may_log, "PgQueuer's mark_job_as_cancelled: a canceled log row and its NOTIFY"
            ),
            cancel_running=gate(
                may_delete and may_log,
                f"a cancellation_event NOTIFY on {CHANNEL}: the worker cancels the job",
            ),
            delete=gate(may_delete and may_log, "PgQueuer's clear_queue shape: a deleted log row"),
            filters=list(self.FILTERS),
        )

    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        int_ids = [int(i) for i in ids]
        got = {
            str(r[0]): str(r[1])
            for r in conn.execute(
                sql.SQL("SELECT id, status::text FROM {t} WHERE id = ANY(%s::bigint[])").format(t=self.table),
                (int_ids,),
            ).fetchall()
        }
        gone = [i for i in int_ids if str(i) not in got]
        if gone:
            for r in conn.execute(
                sql.SQL(
                    "SELECT DISTINCT ON (job_id) job_id, status::text FROM {log} WHERE job_id = ANY(%s::bigint[])"
                    " ORDER BY job_id, created DESC, id DESC"
                ).format(log=self.log),
                (gone,),
            ).fetchall():
                got[str(r[0])] = str(r[1])
        return got

    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        cond, params = self._types_cond(flt)
        where = sql.SQL("{} AND {}").format(self._in([n for n in natives if n in TABLE_STATES]), cond)
        if after is not None:
            where = sql.SQL("{} AND j.id > %s").format(where)
            params.append(int(after))
        rows = conn.execute(
            sql.SQL("SELECT j.id FROM {t} j WHERE {w} ORDER BY j.id LIMIT %s").format(t=self.table, w=where),
            [*params, limit],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        table_states, log_states = self._split(flt.statuses)
        cond, params = self._types_cond(flt)
        out: dict[str, tuple[int, bool]] = {}
        for rel, natives in ((self.table, table_states), (self.log, log_states)):
            for native in natives:
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {r} j WHERE {s} AND {c} LIMIT %s) x").format(
                        r=rel, s=self._in([native]), c=cond
                    ),
                    [*params, cap + 1],
                ).fetchone()
                n = int(row[0]) if row else 0
                if n:
                    out[native] = (min(n, cap), n > cap)
        return out

    def apply(self, conn: Conn, action: Action, ids: Sequence[str], running: bool) -> list[ChangedJob]:
        if not ids:
            return []
        int_ids = [int(i) for i in ids]
        if action == "retry":
            stmt = sql.SQL(
                "WITH requeued AS ("
                "  UPDATE {t} SET status = 'queued', execute_after = NOW(), updated = NOW(), attempts = 0,"
                "         queue_manager_id = NULL"
                "   WHERE id = ANY(%s::bigint[]) AND status = 'failed' RETURNING id, entrypoint, priority),"
                " logged AS (INSERT INTO {log} (job_id, status, entrypoint, priority)"
                "            SELECT id, 'queued', entrypoint, priority FROM requeued)"
                " SELECT id::text, entrypoint, 'failed', 'queued' FROM requeued"
            ).format(t=self.table, log=self.log)
        elif action == "cancel":
            guard = sql.SQL("status IN ('queued', 'picked')" if running else "status = 'queued'")
            stmt = sql.SQL(
                "WITH gone AS ("
                "  DELETE FROM {t} WHERE id = ANY(%s::bigint[]) AND {g} RETURNING id, entrypoint, priority, status),"
                " logged AS (INSERT INTO {log} (job_id, status, entrypoint, priority)"
                "            SELECT id, 'canceled', entrypoint, priority FROM gone)"
                " SELECT id::text, entrypoint, status::text, 'canceled' FROM gone"
            ).format(t=self.table, log=self.log, g=guard)
        else:
            stmt = sql.SQL(
                "WITH gone AS ("
                "  DELETE FROM {t} WHERE id = ANY(%s::bigint[]) AND status = 'failed' RETURNING id, entrypoint, priority),"
                " logged AS (INSERT INTO {log} (job_id, status, entrypoint, priority)"
                "            SELECT id, 'deleted', entrypoint, priority FROM gone)"
                " SELECT id::text, entrypoint, 'failed', 'deleted' FROM gone"
            ).format(t=self.table, log=self.log)
        rows = conn.execute(stmt, (int_ids,)).fetchall()
        changed = [ChangedJob(id=r[0], job_type=r[1], native_old=r[2], native_new=r[3]) for r in rows]
        if action == "cancel" and changed:
            # PgQueuer's cancellation event (models.CancellationEvent): a worker running one of these
            # jobs cancels it. Sent at commit, with the audit records.
            conn.execute(
                "SELECT pg_notify(%s, json_build_object('channel', %s::text, 'ids', %s::bigint[],"
                " 'sent_at', now(), 'type', 'cancellation_event')::text)",
                (CHANNEL, CHANNEL, [int(c.id) for c in changed]),
            )
        return changed

    def statement(self, action: Action, running: bool) -> str:
        if action == "retry":
            stmt = sql.SQL(
                "UPDATE {t} SET status = 'queued', execute_after = NOW(), attempts = 0 ..."
                " WHERE id = ANY($1) AND status = 'failed'; INSERT INTO {log} (... 'queued' ...)"
            )
        elif action == "cancel":
            which = sql.SQL("status IN ('queued', 'picked')" if running else "status = 'queued'")
            return (
                sql.SQL(
                    "DELETE FROM {t} WHERE id = ANY($1) AND {which}; INSERT INTO {log} (... 'canceled' ...);"
                    " NOTIFY {ch} cancellation_event"
                )
                .format(which=which, ch=sql.Identifier(CHANNEL), t=self.table, log=self.log)
                .as_string(None)
            )
        else:
            stmt = sql.SQL(
                "DELETE FROM {t} WHERE id = ANY($1) AND status = 'failed'; INSERT INTO {log} (... 'deleted' ...)"
            )
        return stmt.format(t=self.table, log=self.log).as_string(None)


def _payload(raw: Any) -> Any:
    """PgQueuer's payload is bytes: shown as text when it is UTF-8, else as hex."""
    if raw is None:
        return None
    data = bytes(raw)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "\\x" + data.hex()
