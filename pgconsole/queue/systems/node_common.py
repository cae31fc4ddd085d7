"""What pg-boss and graphile-worker share: one preview/run loop over a system's own guarded
statements, pgconsole's audit record in the same transaction, and the filter's type patterns.

A system subclasses :class:`GuardedActions` and supplies four things: how to look ids up
(``_lookup``), how to walk the jobs a filter matches (``_matching``), why a job in a native state is
left alone (``_skip_reason``) and the library's statement that changes a batch (``_apply``). The
loop here keeps the rules: ids are looked up first (skip reasons), each batch is one transaction
with its audit rows, a job that changed state in between is not touched (the statement re-checks
the state) and is reported as skipped."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from pgconsole.queue.models import (
    ActionPreview,
    ActionReport,
    ActionRow,
    ActionTarget,
    InvalidInput,
    JobFilter,
    check_text,
)
from pgconsole.queue.states import ACTIONS, Action, JobStatus
from pgconsole.queue.systems.base import AuditEntry, Conn, CountMethod, ProgressCallback, QueueSystem
from pgconsole.queue.type_patterns import type_pattern

MAX_IDS = 10_000
CHANGED_MEANWHILE = "changed state meanwhile"
NOT_FOUND = "not found"

_AUDIT_SQL = "SELECT pgconsole.audit_system_action(%s, %s, %s, %s)"
_CAN_AUDIT_SQL = """
SELECT p.oid IS NOT NULL AND has_function_privilege(p.oid, 'EXECUTE')
  FROM (SELECT to_regprocedure('pgconsole.audit_system_action(text,text,text,jsonb)') AS oid) p
"""


@dataclass(frozen=True, slots=True)
class Found:
    """A job as an action sees it: its id (text), type or queue, and native state."""

    id: str
    job_type: str
    native: str
    extra: Any = None
    """What the system's statement needs beyond the id (pg-boss: nothing; graphile: attempts)."""


def can_audit(conn: Conn) -> bool:
    """Is pgconsole's audit function there and may this role run it (acting needs both)?"""
    row = conn.execute(_CAN_AUDIT_SQL).fetchone()
    return bool(row and row[0])


def audit(conn: Conn, system: str, action: Action, reason: str, rows: list[dict[str, Any]]) -> None:
    """pgconsole's audit record for each changed job, in the caller's transaction."""
    if rows:
        conn.execute(_AUDIT_SQL, (system, action, reason, Jsonb(rows)))


_AUDIT_TRAIL_SQL = "SELECT created_at, actor, action, metadata FROM pgconsole.system_job_audit(%s, %s)"


def audit_trail(conn: Conn, system: str, job_id: str) -> list[AuditEntry]:
    """pgconsole's audit records of one job of this system ([] when pgconsole is not installed)."""
    row = conn.execute("SELECT to_regprocedure('pgconsole.system_job_audit(text,text,integer)')").fetchone()
    if not row or row[0] is None:
        return []
    out = []
    for at, actor, action, meta in conn.execute(_AUDIT_TRAIL_SQL, (system, job_id)).fetchall():
        meta = meta or {}
        out.append(
            AuditEntry(
                at=at,
                actor=actor,
                action=action,
                reason=meta.get("reason"),
                old_status=meta.get("old_status"),
                new_status=meta.get("new_status"),
                os_user=meta.get("os_user"),
            )
        )
    return out


_READABLE_SQL = """
SELECT has_schema_privilege(%(schema)s, 'USAGE')
       AND has_table_privilege(format('%%I.%%I', %(schema)s::text, %(table)s::text), 'SELECT')
"""


def missing_read_grant(conn: Conn, schema: str, tables: Iterable[str]) -> str | None:
    """The GRANT this role needs to read a library's tables, or None when it has it."""
    lacking = [
        t
        for t in tables
        if not (row := conn.execute(_READABLE_SQL, {"schema": schema, "table": t}).fetchone()) or not row[0]
    ]
    if not lacking:
        return None
    return (
        f"this role cannot read {schema}.{', '.join(lacking)}: GRANT USAGE ON SCHEMA {schema} TO <role>; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO <role>"
    )


def worst_method(methods: Iterable[CountMethod]) -> CountMethod:
    """The weakest of several counts' methods: a sum is only as exact as its least exact part."""
    seen = set(methods)
    return "estimate" if "estimate" in seen else "capped" if "capped" in seen else "exact"


def like_patterns(flt: JobFilter | None) -> list[str] | None:
    """The filter's job types as LIKE patterns (a prefix or a glob), None when it has none."""
    if flt is None or not flt.job_types:
        return None
    return [type_pattern(t) for t in flt.job_types]


def error_pattern(flt: JobFilter | None) -> str | None:
    if flt is None or not flt.error_contains:
        return None
    escaped = flt.error_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason", "required (it is written to the audit record)")
    check_text("reason", reason, max_len=500)


def check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise InvalidInput("action", f"must be one of {', '.join(ACTIONS)} (got {action!r})")
    return action  # type: ignore[return-value]


class GuardedActions(QueueSystem):
    """The preview/run loop of a system whose actions are its own state-guarded statements."""

    # Filter fields honoured (Capabilities.filters); anything else in a filter is refused.
    FILTERS: tuple[str, ...] = ("statuses", "job_types", "error_contains")

    @abstractmethod
    def _state(self, native: str) -> JobStatus | None:
        """pgconsole's word for a native state."""

    @abstractmethod
    def _lookup(self, conn: Conn, ids: list[str]) -> list[Found]:
        """The jobs with these ids (unknown ids are left out); raises InvalidInput for a bad id."""

    @abstractmethod
    def _matching(
        self, conn: Conn, action: Action, flt: JobFilter, after: Found | None, limit: int
    ) -> list[Found]:
        """The next jobs after ``after`` that match ``flt`` *and* that ``action`` applies to, in
        the order of the walk (keyset), at most ``limit``."""

    @abstractmethod
    def _count_matching(self, conn: Conn, flt: JobFilter, cap: int) -> tuple[Counter[str], bool]:
        """Native state -> jobs matching ``flt`` (any state), counted up to ``cap``; and whether
        the cap was reached."""

    @abstractmethod
    def _skip_reason(self, action: Action, job: Found, target: ActionTarget) -> str | None:
        """Why ``action`` leaves this job alone, or None when it applies."""

    @abstractmethod
    def _apply(self, conn: Conn, action: Action, jobs: list[Found], reason: str) -> list[ActionRow]:
        """Change these (eligible) jobs with the library's own statement; the rows it changed."""

    @abstractmethod
    def _statement(self, action: Action) -> str:
        """The statement an action runs, for the confirmation."""

    def _check_filter(self, flt: JobFilter) -> None:
        for field, value in flt.model_dump(exclude_defaults=True).items():
            if value is not None and field not in self.FILTERS:
                raise InvalidInput(
                    field, f"not supported for {self.kind} (supported: {', '.join(self.FILTERS)})"
                )

    def preview(self, conn: Conn, action: Action, target: ActionTarget) -> ActionPreview:
        check_action(action)
        skipped: Counter[str] = Counter()
        if target.ids is not None:
            ids = list(dict.fromkeys(str(i) for i in target.ids))
            if len(ids) > MAX_IDS:
                raise InvalidInput("ids", f"at most {MAX_IDS} ids per action (got {len(ids)})")
            found = self._lookup(conn, ids)
            skipped[NOT_FOUND] += len(ids) - len(found)
            eligible = 0
            for job in found:
                why = self._skip_reason(action, job, target)
                if why is None:
                    eligible += 1
                else:
                    skipped[why] += 1
            matched = len(found)
        else:
            flt = target.filter or JobFilter()
            self._check_filter(flt)
            by_state, _capped = self._count_matching(conn, flt, MAX_IDS * 10)
            matched = sum(by_state.values())
            eligible = 0
            for native, n in by_state.items():
                why = self._skip_reason(action, Found("", "", native), target)
                if why is None:
                    eligible += n
                else:
                    skipped[why] += n
        return ActionPreview(
            action=action,
            target=target,
            matched=matched,
            eligible=eligible,
            skipped=dict(skipped),
            statement=self._statement(action),
        )

    def run(
        self,
        conn: Conn,
        action: Action,
        target: ActionTarget,
        progress: ProgressCallback | None = None,
        *,
        batch_size: int = 1000,
    ) -> ActionReport:
        check_action(action)
        check_reason(target.reason)
        if not 1 <= batch_size <= MAX_IDS:
            raise InvalidInput("batch_size", f"must be between 1 and {MAX_IDS} (got {batch_size})")
        report = ActionReport(action=action, requested=0)
        skipped: Counter[str] = Counter()
        if target.ids is not None:
            ids = list(dict.fromkeys(str(i) for i in target.ids))
            if len(ids) > MAX_IDS:
                raise InvalidInput("ids", f"at most {MAX_IDS} ids per action (got {len(ids)})")
            report.requested = len(ids)
            for start in range(0, len(ids), batch_size):
                chunk = ids[start : start + batch_size]
                with conn.transaction():
                    found = self._lookup(conn, chunk)
                    skipped[NOT_FOUND] += len(chunk) - len(found)
                    todo = []
                    for job in found:
                        why = self._skip_reason(action, job, target)
                        if why is None:
                            todo.append(job)
                        else:
                            skipped[why] += 1
                    rows = self._apply(conn, action, todo, target.reason) if todo else []
                    skipped[CHANGED_MEANWHILE] += len(todo) - len(rows)
                    self._audit(conn, action, target.reason, rows, todo)
                report.rows.extend(rows)
                report.batches += 1
                if progress:
                    progress(len(report.rows), len(ids))
        else:
            flt = target.filter or JobFilter()
            self._check_filter(flt)
            expected = self.preview(conn, action, target).eligible
            report.requested = expected
            after: Found | None = None
            while True:
                with conn.transaction():
                    batch = self._matching(conn, action, flt, after, batch_size)
                    rows = self._apply(conn, action, batch, target.reason) if batch else []
                    skipped[CHANGED_MEANWHILE] += len(batch) - len(rows)
                    self._audit(conn, action, target.reason, rows, batch)
                report.rows.extend(rows)
                report.batches += 1
                if progress:
                    progress(len(report.rows), expected)
                if len(batch) < batch_size:
                    break
                after = batch[-1]
        report.skipped = {k: v for k, v in skipped.items() if v}
        return report

    def _audit(
        self, conn: Conn, action: Action, reason: str, rows: list[ActionRow], jobs: list[Found]
    ) -> None:
        natives = {j.id: j.native for j in jobs}
        audit(
            conn,
            self.name,
            action,
            reason,
            [
                {
                    "id": str(r.id),
                    "job_type": r.job_type,
                    "old_status": r.old_status,
                    "new_status": r.new_status,
                    "native_old_status": natives.get(str(r.id)),
                    "native_new_status": self._native_after(action, natives.get(str(r.id), "")),
                }
                for r in rows
            ],
        )

    def _native_after(self, action: Action, native_before: str) -> str:
        """The native state an action leaves a job in (for the audit record)."""
        return "deleted" if action == "delete" else ""
