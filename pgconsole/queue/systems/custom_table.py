"""A team's own jobs table, declared in the config file::

    [queues.app_jobs]
    table = "public.jobs"

The column names and state values default to those of the seeds' ``jobs`` table (``id``,
``job_type``, ``status``, ``priority``, ``payload``, ``error_message``, ``retry_count``,
``max_retries``, ``created_at``, ``scheduled_at``, ``started_at``, ``completed_at``, ``updated_at``;
states ``pending``, ``processing``, ``completed``, ``failed``, ``cancelled``), so ``table`` alone
serves such a table; any of them can be renamed, and a column the table lacks is left out.

There is no library here, so every action is a statement guarded by the job's state: retry sets
failed or cancelled jobs back to the first pending value (``scheduled_at`` now, ``started_at`` and
``completed_at`` cleared; ``retry_count`` is left to the team's worker), cancel sets pending jobs to
the first cancelled value, delete removes finished ones. A running job is never rewritten: a
team's table has no cancel signal its workers are known to read, so that cancel is disabled.

Reads are bounded like every system's: exact counts for a small table, else capped counts where an
index leads with the status column and estimates where none does; throughput and failure groups
only where an index leads with the finished column (or the table is small), else a note says which
index would make them cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from psycopg import errors, sql
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pgconsole.queue.models import InvalidInput, JobFilter
from pgconsole.queue.states import Action
from pgconsole.queue.systems.base import (
    SYSTEM_KINDS,
    Capabilities,
    Conn,
    CountMethod,
    FailureGroup,
    QueueSystem,
    SystemJob,
    SystemJobDetail,
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
    SMALL_TABLE_PAGES,
    ChangedJob,
    GuardedSystem,
    audit_of,
    audit_support,
    bounded_read,
    check_filter,
    count_states,
    dict_rows,
    table_pages,
)
from pgconsole.queue.type_patterns import type_pattern

NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
WINDOW_S = 900.0
WINDOW_CAP = 5_000
STUCK_AFTER_S = 900.0
DEFAULT_STATES: dict[str, list[str]] = {
    "pending": ["pending"],
    "processing": ["processing"],
    "completed": ["completed"],
    "failed": ["failed"],
    "cancelled": ["cancelled"],
}
# Id column types compared as themselves (index-backed); any other type is compared as text.
_ID_TYPES = {"uuid", "bigint", "integer", "smallint", "text", "character varying"}


class TableQueueConfig(BaseModel):
    """One ``[queues.NAME]`` table: where the jobs are and what its columns and states are called."""

    model_config = ConfigDict(extra="forbid")

    table: str
    id: str = "id"
    type: str = "job_type"
    status: str = "status"
    priority: str = "priority"
    payload: str = "payload"
    error: str = "error_message"
    attempts: str = "retry_count"
    max_attempts: str = "max_retries"
    created: str = "created_at"
    scheduled: str = "scheduled_at"
    started: str = "started_at"
    finished: str = "completed_at"
    updated: str = "updated_at"
    states: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_STATES.items()}
    )

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        parts = v.split(".")
        if not 1 <= len(parts) <= 2 or not all(parts) or any(len(p) > 63 or "\x00" in p for p in parts):
            raise ValueError("must be TABLE or SCHEMA.TABLE")
        return v

    @field_validator("states")
    @classmethod
    def _states(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        out = {k: list(vs) for k, vs in DEFAULT_STATES.items()}
        for key, values in v.items():
            if key not in DEFAULT_STATES:
                raise ValueError(f"unknown state {key!r} (states are {', '.join(DEFAULT_STATES)})")
            out[key] = list(values)
        seen: dict[str, str] = {}
        for key, values in out.items():
            for value in values:
                if value in seen:
                    raise ValueError(f"value {value!r} is in both {seen[value]} and {key}")
                seen[value] = key
        return out


def parse_config(name: str, raw: Mapping[str, Any]) -> TableQueueConfig:
    if not NAME_RE.match(name) or name in SYSTEM_KINDS:
        raise InvalidInput(
            f"queues.{name}",
            f"the name must be 1-100 characters from A-Z a-z 0-9 _ . : - and not one of {', '.join(SYSTEM_KINDS)}",
        )
    try:
        return TableQueueConfig(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err.get("loc", ()))
        raise InvalidInput(f"queues.{name}.{key}" if key else f"queues.{name}", str(err.get("msg"))) from None


_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, NULL) AS type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.oid = to_regclass(%s)
"""
# Columns that lead an index (a plain, non-partial one), for choosing bounded reads.
_LEADING_SQL = """
SELECT DISTINCT a.attname
  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
 WHERE i.indrelid = to_regclass(%s) AND i.indpred IS NULL
"""


def table_systems(conn: Conn, queues: Mapping[str, Mapping[str, Any]]) -> list[QueueSystem]:
    """The configured tables; a table that does not exist raises InvalidInput naming the key."""
    out: list[QueueSystem] = []
    for name, raw in queues.items():
        cfg = parse_config(name, raw)
        regclass = sql.Identifier(*cfg.table.split(".")).as_string(conn)
        cols = dict_rows(conn, _COLUMNS_SQL, (regclass,))
        if not cols:
            raise InvalidInput(
                f"queues.{name}.table", f"no table {cfg.table!r} is visible to role {conn.info.user}"
            )
        leading = {r[0] for r in conn.execute(_LEADING_SQL, (regclass,)).fetchall()}
        out.append(
            TableSystem(
                name,
                cfg,
                schema=cols[0]["nspname"],
                table=cols[0]["relname"],
                columns={r["attname"]: r["type"] for r in cols},
                leading=leading,
            )
        )
    return out


class TableSystem(GuardedSystem):
    kind = "table"
    ACTION_NATIVE: ClassVar[dict[str, tuple[str, ...]]] = {}
    FILTERS: ClassVar[tuple[str, ...]] = (
        "statuses",
        "job_types",
        "older_than",
        "newer_than",
        "error_contains",
    )

    def __init__(
        self,
        name: str,
        cfg: TableQueueConfig,
        *,
        schema: str,
        table: str,
        columns: dict[str, str],
        leading: set[str],
    ) -> None:
        super().__init__(name=name, location=f"{schema}.{table}")
        self.cfg = cfg
        self.rel = sql.Identifier(schema, table)
        self.columns = columns
        self.leading = leading
        for role in ("id", "type", "status"):
            if getattr(cfg, role) not in columns:
                raise InvalidInput(
                    f"queues.{name}.{role}", f"column {getattr(cfg, role)!r} is not in {schema}.{table}"
                )
        # Instance-level maps (the class attributes are per system kind; a table's are its config's).
        self.STATE_MAP = {v: k for k, vs in cfg.states.items() for v in vs}  # type: ignore[misc]
        st = cfg.states
        self.ACTION_NATIVE = {  # type: ignore[misc]
            "retry": tuple(st["failed"] + st["cancelled"]) if st["pending"] else (),
            "cancel": tuple(st["pending"]) if st["cancelled"] else (),
            "cancel_running": tuple(st["processing"]),
            "delete": tuple(st["completed"] + st["failed"] + st["cancelled"]),
        }
        id_type = columns[cfg.id]
        self.id_cast = sql.SQL(id_type) if id_type in _ID_TYPES else None

    def col(self, role: str) -> sql.Composable | None:
        """The column playing ``role`` (a TableQueueConfig field), or None when the table lacks it."""
        name = getattr(self.cfg, role)
        return sql.Identifier(name) if name in self.columns else None

    def _c(self, role: str, alias: str = "j") -> sql.Composable:
        name = getattr(self.cfg, role)
        return sql.Identifier(alias, name) if name in self.columns else sql.SQL("NULL")

    @classmethod
    def detect(cls, conn: Conn) -> list[QueueSystem]:
        return []  # configured, not detected: see table_systems()

    def _ids_param(self) -> sql.Composable:
        if self.id_cast is not None:
            return sql.SQL("{} = ANY(%s::{}[])").format(self._c("id"), self.id_cast)
        return sql.SQL("{}::text = ANY(%s::text[])").format(self._c("id"))

    def _in(self, natives: Sequence[str]) -> sql.Composable:
        if not natives:
            return sql.SQL("false")
        return sql.SQL("({})").format(
            sql.SQL(" OR ").join(
                sql.SQL("{} = {}").format(self._c("status"), sql.Literal(n)) for n in natives
            )
        )

    def _natives(self, statuses: Sequence[str] | None) -> list[str]:
        return [v for k, vs in self.cfg.states.items() if not statuses or k in statuses for v in vs]

    def _where(
        self, flt: JobFilter, natives: Sequence[str] | None = None
    ) -> tuple[sql.Composable, list[Any]]:
        parts: list[sql.Composable] = []
        params: list[Any] = []
        if natives is not None or flt.statuses:
            parts.append(self._in(natives if natives is not None else self._natives(flt.statuses)))
        if flt.job_types:
            parts.append(sql.SQL("{}::text LIKE ANY(%s)").format(self._c("type")))
            params.append([type_pattern(t) for t in flt.job_types])
        age = sql.SQL("coalesce({}::timestamptz, {}::timestamptz)").format(
            self._c("finished"), self._c("created")
        )
        if flt.older_than is not None:
            parts.append(sql.SQL("{} < now() - %s::interval").format(age))
            params.append(flt.older_than)
        if flt.newer_than is not None:
            parts.append(sql.SQL("{} >= now() - %s::interval").format(age))
            params.append(flt.newer_than)
        if flt.error_contains:
            parts.append(
                sql.SQL("strpos(lower(coalesce({}::text, '')), lower(%s)) > 0").format(self._c("error"))
            )
            params.append(flt.error_contains)
        return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")), params

    def tables(self) -> list[str]:
        return [self.rel.as_string(None)]

    # -- read ----------------------------------------------------------------------------------

    def summary(self, conn: Conn) -> SystemSummary:
        notes: list[str] = []
        status = sql.Identifier(self.cfg.status)
        st = self.cfg.states
        active = st["pending"] + st["processing"]
        with bounded_read(conn):
            indexed = tuple(self.STATE_MAP) if self.cfg.status in self.leading else ()
            native = count_states(conn, self.rel, status, self.STATE_MAP, indexed)
            small = table_pages(conn, self.rel) <= SMALL_TABLE_PAGES
            rows = dict_rows(
                conn,
                sql.SQL(
                    "SELECT t::text AS t, s::text AS s, count(*)::int AS n FROM ("
                    " SELECT {ty} AS t, {st} AS s FROM {rel} j WHERE {act} LIMIT %s) x GROUP BY 1, 2"
                ).format(ty=self._c("type"), st=self._c("status"), rel=self.rel, act=self._in(active)),
                (ACTIVE_CAP + 1,),
            )
            # Cast: a table without these columns has NULLs here, which must still compare as times.
            due_col = sql.SQL("coalesce({}::timestamptz, {}::timestamptz)").format(
                self._c("scheduled"), self._c("created")
            )
            oldest = dict_rows(
                conn,
                sql.SQL(
                    "SELECT min(due) AS due, extract(epoch FROM now() - min(due))::float8 AS age FROM ("
                    " SELECT {d} AS due FROM {rel} j WHERE {p} LIMIT %s) x WHERE due <= now()"
                ).format(d=due_col, rel=self.rel, p=self._in(st["pending"])),
                (ACTIVE_CAP,),
            )[0]
            throughput, failures = None, []
            fin = self.col("finished")
            if fin is not None and (small or self.cfg.finished in self.leading):
                sample = sql.SQL(
                    "SELECT {s}::text AS s, {t}::text AS t, left({e}::text, 200) AS e, {f} AS f FROM {rel} j"
                    " WHERE {f} > now() - make_interval(secs => %s) ORDER BY {f} DESC LIMIT %s"
                ).format(
                    s=self._c("status"),
                    t=self._c("type"),
                    e=self._c("error"),
                    f=self._c("finished"),
                    rel=self.rel,
                )
                w = dict_rows(
                    conn,
                    sql.SQL(
                        "SELECT count(*) FILTER (WHERE s = ANY(%s))::int AS completed,"
                        " count(*) FILTER (WHERE s = ANY(%s))::int AS failed, count(*)::int AS n,"
                        " extract(epoch FROM now() - min(f))::float8 AS span_s FROM ({q}) x"
                    ).format(q=sample),
                    (st["completed"], st["failed"], WINDOW_S, WINDOW_CAP),
                )[0]
                capped = w["n"] >= WINDOW_CAP
                method: CountMethod = "capped" if capped else "exact"
                throughput = Throughput(
                    window_s=WINDOW_S,
                    completed=w["completed"],
                    failed=w["failed"],
                    method=method,
                    span_s=w["span_s"] if capped else None,
                )
                failures = [
                    FailureGroup(
                        error=r["e"] or "(no message)",
                        job_type=r["t"],
                        count=r["n"],
                        last_at=r["last"],
                        method=method,
                    )
                    for r in dict_rows(
                        conn,
                        sql.SQL(
                            "SELECT e, t, count(*)::int AS n, max(f) AS last FROM ({q}) x WHERE s = ANY(%s)"
                            " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20"
                        ).format(q=sample),
                        (WINDOW_S, WINDOW_CAP, st["failed"]),
                    )
                ]
            elif fin is not None:
                notes.append(
                    f"throughput and failures need an index on {self.cfg.finished}: CREATE INDEX ON "
                    f"{self.rel.as_string(conn)} ({sql.Identifier(self.cfg.finished).as_string(conn)})"
                )
            stuck: list[SystemStuckJob] = []
            if self.col("started") is not None and st["processing"]:
                for r in dict_rows(
                    conn,
                    sql.SQL(
                        "SELECT {i}::text AS id, {t}::text AS t, {s} AS started,"
                        " extract(epoch FROM now() - {s})::float8 AS running_s FROM {rel} j"
                        " WHERE {p} AND {s} < now() - make_interval(secs => %s) LIMIT 1000"
                    ).format(
                        i=self._c("id"),
                        t=self._c("type"),
                        s=self._c("started"),
                        rel=self.rel,
                        p=self._in(st["processing"]),
                    ),
                    (STUCK_AFTER_S,),
                ):
                    stuck.append(
                        SystemStuckJob(
                            id=r["id"],
                            job_type=r["t"],
                            started_at=r["started"],
                            running_s=r["running_s"],
                            reason=f"running longer than {STUCK_AFTER_S:g}s",
                        )
                    )
        types_capped = sum(r["n"] for r in rows) > ACTIVE_CAP
        by: dict[str, TypeCount] = {}
        for r in rows:
            t = by.setdefault(r["t"], TypeCount(name=r["t"], method="capped" if types_capped else "exact"))
            word = self.STATE_MAP.get(r["s"])
            if word:
                t.counts[word] = t.counts.get(word, 0) + r["n"]
        return SystemSummary(
            info=self.info(),
            native_states=native,
            states=self.state_counts(native),
            types=sorted(by.values(), key=lambda t: t.name),
            types_capped=types_capped,
            oldest_due_at=oldest["due"],
            oldest_due_age_s=max(0.0, oldest["age"]) if oldest["age"] is not None else None,
            throughput=throughput,
            failures=failures,
            stuck=stuck,
            stuck_after_s=STUCK_AFTER_S,
            notes=notes,
        )

    def _select(self) -> sql.Composable:
        return sql.SQL(", ").join(
            [
                sql.SQL("{}::text AS id").format(self._c("id")),
                sql.SQL("{}::text AS job_type").format(self._c("type")),
                sql.SQL("{}::text AS native_status").format(self._c("status")),
                sql.SQL("{}::int AS priority").format(self._c("priority")),
                sql.SQL("{}::int AS attempts").format(self._c("attempts")),
                sql.SQL("{}::int AS max_attempts").format(self._c("max_attempts")),
                sql.SQL("{}::timestamptz AS created_at").format(self._c("created")),
                sql.SQL("{}::timestamptz AS scheduled_at").format(self._c("scheduled")),
                sql.SQL("{}::timestamptz AS started_at").format(self._c("started")),
                sql.SQL("{}::timestamptz AS finished_at").format(self._c("finished")),
                sql.SQL("left({}::text, 500) AS error").format(self._c("error")),
            ]
        )

    def _job(self, r: dict[str, Any]) -> SystemJob:
        return SystemJob(
            **{k: r[k] for k in r if k in SystemJob.model_fields},
            status=self.STATE_MAP.get(r["native_status"]),
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
        check_filter(flt, self.FILTERS, self.name)
        where, params = self._where(flt)
        cmp = sql.SQL("<" if newest_first else ">")
        order = sql.SQL("DESC" if newest_first else "ASC")
        created = self.col("created")
        # Newest first by the creation time where it has an index (a random uuid's order means
        # nothing), else by the id.
        by_created = created is not None and self.cfg.created in self.leading
        if after is not None:
            try:
                key = json.loads(after)
            except ValueError:
                raise InvalidInput("after", "not a page cursor of this list") from None
            if by_created:
                where = sql.SQL("{} AND ({}, {}::text) {} (%s::timestamptz, %s)").format(
                    where, self._c("created"), self._c("id"), cmp
                )
                params += [key[0], key[1]]
            else:
                where = (
                    sql.SQL("{} AND {}::text {} %s").format(where, self._c("id"), cmp)
                    if self.id_cast is None
                    else sql.SQL("{} AND {} {} %s::{}").format(where, self._c("id"), cmp, self.id_cast)
                )
                params.append(key[1])
        order_by = (
            sql.SQL("{c} {o}, {i}::text {o}").format(c=self._c("created"), i=self._c("id"), o=order)
            if by_created
            else sql.SQL("{} {}").format(self._c("id"), order)
        )
        stmt = sql.SQL("SELECT {sel} FROM {rel} j WHERE {w} ORDER BY {ob} LIMIT %s").format(
            sel=self._select(), rel=self.rel, w=where, ob=order_by
        )
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
        nxt = None
        if more and jobs:
            last = jobs[-1]
            nxt = json.dumps([last.created_at.isoformat() if last.created_at else None, last.id])
        note = "" if by_created or created is None else f"in id order: no index leads with {self.cfg.created}"
        return SystemJobPage(rows=jobs, has_more=more, next_after=nxt, note=note)

    def detail(self, conn: Conn, job_id: str) -> SystemJobDetail | None:
        jid = self.parse_id(job_id)
        with bounded_read(conn):
            rows = dict_rows(
                conn,
                sql.SQL(
                    "SELECT {sel}, to_jsonb(j) AS native, {p} AS payload FROM {rel} j WHERE {ids}"
                ).format(sel=self._select(), p=self._c("payload"), rel=self.rel, ids=self._ids_param()),
                ([jid],),
            )
        if not rows:
            return None
        r = rows[0]
        return SystemJobDetail(
            job=self._job(r), payload=r["payload"], native=r["native"], audit=audit_of(conn, self.name, jid)
        )

    # -- act -----------------------------------------------------------------------------------

    def parse_id(self, job_id: str) -> str:
        text = str(job_id).strip()
        kind = self.columns[self.cfg.id]
        if kind == "uuid":
            import uuid

            try:
                return str(uuid.UUID(text))
            except ValueError:
                raise InvalidInput("ids", f"not a job id (UUID): {text[:60]!r}") from None
        if kind in ("bigint", "integer", "smallint"):
            if not text.lstrip("-").isdigit() or len(text) > 20:
                raise InvalidInput("ids", f"not a job id (an integer): {text[:60]!r}")
            return str(int(text))
        if not text or len(text) > 200 or "\x00" in text:
            raise InvalidInput("ids", "not a job id")
        return text

    def capabilities(self, conn: Conn) -> Capabilities:
        no_audit = audit_support(conn)
        row = conn.execute(
            "SELECT has_table_privilege(%s::regclass, 'UPDATE'), has_table_privilege(%s::regclass, 'DELETE')",
            (self.rel.as_string(conn), self.rel.as_string(conn)),
        ).fetchone()
        may_update, may_delete = (bool(x) for x in row) if row else (False, False)
        grant = f"GRANT SELECT, UPDATE, DELETE ON {self.rel.as_string(conn)} TO {sql.Identifier(conn.info.user).as_string(conn)}"
        st = self.cfg.states

        def gate(ok: bool, how: str, missing: str | None = None) -> Any:
            if missing:
                return disabled(missing)
            if no_audit:
                return disabled(no_audit)
            return (
                enabled(how)
                if ok
                else disabled(f"role {conn.info.user} may not change {self.location}: {grant}")
            )

        return Capabilities(
            retry=gate(
                may_update,
                f"sets {self.cfg.status} to {st['pending'][0]!r} where it is failed or cancelled"
                if st["pending"]
                else "",
                None if st["pending"] else "no pending state configured",
            ),
            cancel=gate(
                may_update,
                f"sets {self.cfg.status} to {st['cancelled'][0]!r} where it is pending"
                if st["cancelled"]
                else "",
                None if st["cancelled"] else "no cancelled state configured",
            ),
            cancel_running=disabled("a team's own table has no cancel signal its workers are known to read"),
            delete=gate(may_delete, "DELETE ... WHERE status is completed, failed or cancelled"),
            filters=list(self.FILTERS),
        )

    def states_of(self, conn: Conn, ids: Sequence[str]) -> dict[str, str]:
        rows = conn.execute(
            sql.SQL("SELECT {i}::text, {s}::text FROM {rel} j WHERE {ids}").format(
                i=self._c("id"), s=self._c("status"), rel=self.rel, ids=self._ids_param()
            ),
            (list(ids),),
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def matching_ids(
        self, conn: Conn, flt: JobFilter, natives: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        where, params = self._where(flt, natives)
        # The id's own order where its type is known (its primary key serves it), else as text.
        key = self._c("id") if self.id_cast is not None else sql.SQL("{}::text").format(self._c("id"))
        if after is not None:
            cast = sql.SQL("::{}").format(self.id_cast) if self.id_cast is not None else sql.SQL("")
            where = sql.SQL("{} AND {} > %s{}").format(where, key, cast)
            params.append(after)
        rows = conn.execute(
            sql.SQL("SELECT {i}::text FROM {rel} j WHERE {w} ORDER BY {k} LIMIT %s").format(
                i=self._c("id"), rel=self.rel, w=where, k=key
            ),
            [*params, limit],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_by_native(self, conn: Conn, flt: JobFilter, cap: int) -> dict[str, tuple[int, bool]]:
        out: dict[str, tuple[int, bool]] = {}
        for native in self._natives(flt.statuses):
            where, params = self._where(flt, [native])
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {rel} j WHERE {w} LIMIT %s) c").format(
                    rel=self.rel, w=where
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
        st = self.cfg.states
        guard = self._in(self.eligible(action, False))
        if action == "delete":
            stmt = sql.SQL(
                "DELETE FROM {rel} j WHERE {ids} AND {g} RETURNING {i}::text, {t}::text, {s}::text, 'deleted'"
            ).format(
                rel=self.rel,
                ids=self._ids_param(),
                g=guard,
                i=self._c("id"),
                t=self._c("type"),
                s=self._c("status"),
            )
        else:
            new = st["pending"][0] if action == "retry" else st["cancelled"][0]
            sets = [sql.SQL("{} = %s").format(sql.Identifier(self.cfg.status))]
            params_extra: list[Any] = [new]
            if action == "retry":
                for role, value in (("scheduled", "now()"), ("started", "NULL"), ("finished", "NULL")):
                    if self.col(role) is not None:
                        sets.append(sql.SQL("{} = " + value).format(sql.Identifier(getattr(self.cfg, role))))
            elif self.col("finished") is not None:
                sets.append(sql.SQL("{} = now()").format(sql.Identifier(self.cfg.finished)))
            if self.col("updated") is not None:
                sets.append(sql.SQL("{} = now()").format(sql.Identifier(self.cfg.updated)))
            # The old state comes from the row before the update (a self-join on the locked row).
            stmt = sql.SQL(
                "WITH before AS MATERIALIZED (SELECT {i} AS id, {s}::text AS old FROM {rel} j WHERE {ids} AND {g} FOR UPDATE)"
                " UPDATE {rel} j SET {sets} FROM before b WHERE j.{ic} = b.id"
                " RETURNING j.{ic}::text, j.{tc}::text, b.old, j.{sc}::text"
            ).format(
                i=self._c("id"),
                s=self._c("status"),
                rel=self.rel,
                ids=self._ids_param(),
                g=guard,
                sets=sql.SQL(", ").join(sets),
                ic=sql.Identifier(self.cfg.id),
                tc=sql.Identifier(self.cfg.type),
                sc=sql.Identifier(self.cfg.status),
            )
            rows = conn.execute(stmt, (list(ids), *params_extra)).fetchall()
            return [ChangedJob(id=r[0], job_type=r[1], native_old=r[2], native_new=r[3]) for r in rows]
        rows = conn.execute(stmt, (list(ids),)).fetchall()
        return [ChangedJob(id=r[0], job_type=r[1], native_old=r[2], native_new=r[3]) for r in rows]

    def statement(self, action: Action, running: bool) -> str:
        st = self.cfg.states
        states = sql.SQL(", ").join(sql.Literal(v) for v in self.eligible(action, False))
        ids = sql.SQL("{} = ANY($1)").format(sql.Identifier(self.cfg.id))
        if action == "delete":
            stmt = sql.SQL("DELETE FROM {rel} WHERE {ids} AND {s} IN ({states})").format(
                rel=self.rel, ids=ids, s=sql.Identifier(self.cfg.status), states=states
            )
        else:
            new = st["pending"][0] if action == "retry" else st["cancelled"][0]
            stmt = sql.SQL("UPDATE {rel} SET {s} = {new}, ... WHERE {ids} AND {s} IN ({states})").format(
                rel=self.rel, s=sql.Identifier(self.cfg.status), new=sql.Literal(new), ids=ids, states=states
            )
        return stmt.as_string(None)
